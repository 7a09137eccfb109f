package dev.sqlitesuperfs.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * Which copy of a namespace a server holds, for namespaces that move between the servers of a
 * fleet. A namespace that never moved has no placement table and is {@link Copy#CURRENT}. A move
 * ({@link NamespaceMove}) leaves at most one row in the schema's {@code placement} table while it
 * runs: {@code incoming} on the new server until the switch-over, {@code moved} on the old one from
 * the switch-over until the old copy is dropped; then {@code left}: the old server keeps the schema
 * with nothing but that row (a tombstone), so that a mount pointed at it directly is told where the
 * namespace went instead of creating a new, empty one of the same name. The peer is the other
 * server's name in the fleet.
 *
 * <p>Exactly one copy is authoritative at every moment: the current one, or, between the old copy's
 * switch to moved and the new copy's activation, the incoming copy its old copy names (a mount
 * refuses both until a rerun of the move finishes it).
 */
public record Placement(Copy copy, String peer) {

    /** What a server holds of one namespace. */
    public enum Copy {
        /** No schema of that name. */
        ABSENT,
        /** The namespace itself (no move under way, or a finished one). */
        CURRENT,
        /** A copy made by a move that has not switched over: its old server is still authoritative. */
        INCOMING,
        /** A copy that a move has switched away from: the peer is authoritative. */
        MOVED,
        /** No copy: the namespace was moved to the peer, and only that record is left here. */
        LEFT
    }

    public static final Placement ABSENT = new Placement(Copy.ABSENT, null);
    public static final Placement CURRENT = new Placement(Copy.CURRENT, null);

    static String table(NamespaceSql sql) {
        return sql.table("placement");
    }

    /** The placement of the namespace whose schema {@code sql} names, on {@code connection}'s server. */
    static Placement read(Connection connection, NamespaceName name, NamespaceSql sql) throws SQLException {
        if (!relationExists(connection, table(sql))) {
            return NamespaceOpening.exists(connection, name, sql) ? CURRENT : ABSENT;
        }
        try (Statement read = connection.createStatement();
                ResultSet rows = read.executeQuery("SELECT state, peer FROM " + table(sql))) {
            if (!rows.next()) {
                return CURRENT;
            }
            Copy copy = switch (rows.getString(1)) {
                case "incoming" -> Copy.INCOMING;
                case "moved" -> Copy.MOVED;
                case "left" -> Copy.LEFT;
                default -> throw new StoreException("namespace " + name + " has an unknown placement state '"
                        + rows.getString(1) + "'");
            };
            return new Placement(copy, rows.getString(2));
        }
    }

    /** Marks the namespace on {@code connection} as {@code copy} (incoming, moved or left) of {@code peer}. */
    static void mark(Connection connection, NamespaceSql sql, Copy copy, String peer) throws SQLException {
        if (copy == Copy.ABSENT || copy == Copy.CURRENT) {
            throw new IllegalArgumentException(copy.toString());
        }
        try (Statement create = connection.createStatement()) {
            create.execute("CREATE TABLE IF NOT EXISTS " + table(sql) + " ("
                    + " singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),"
                    + " state text NOT NULL CHECK (state IN ('incoming', 'moved', 'left')),"
                    + " peer text NOT NULL,"
                    + " since timestamptz NOT NULL DEFAULT now())");
        }
        try (PreparedStatement mark = connection.prepareStatement("INSERT INTO " + table(sql)
                + " (state, peer) VALUES (?, ?) ON CONFLICT (singleton) DO UPDATE SET state = EXCLUDED.state,"
                + " peer = EXCLUDED.peer, since = now()")) {
            mark.setString(1, copy.name().toLowerCase(java.util.Locale.ROOT));
            mark.setString(2, peer);
            mark.executeUpdate();
        }
    }

    /** Makes the namespace on {@code connection} the current one: as if it had never moved. */
    static void clear(Connection connection, NamespaceSql sql) throws SQLException {
        try (Statement drop = connection.createStatement()) {
            drop.execute("DROP TABLE IF EXISTS " + table(sql));
        }
    }

    /**
     * Refuses to open a copy that is not the namespace's current one, saying where it is. Also
     * called for a schema without a meta table, which is a tombstone if it has a placement table.
     */
    static void requireCurrent(Connection connection, NamespaceName name, NamespaceSql sql) throws SQLException {
        if (!relationExists(connection, table(sql))) {
            return;
        }
        Placement placement = read(connection, name, sql);
        switch (placement.copy()) {
            case LEFT -> throw new StoreException.NotCurrent("namespace " + name + " was moved to server "
                    + placement.peer() + " of the fleet and is no longer on this server; mount it there (--fleet)");
            case MOVED -> throw new StoreException.NotCurrent("namespace " + name + " has moved to server "
                    + placement.peer() + " of the fleet; this server's copy is no longer used (mount it with"
                    + " --fleet, or rerun `sqlitesuperfs ns move " + name + " --to " + placement.peer()
                    + "` if that move did not finish)");
            case INCOMING -> throw new StoreException.NotCurrent("namespace " + name + " on this server is a copy"
                    + " that a move from server " + placement.peer() + " of the fleet made and has not finished; mount"
                    + " the namespace with --fleet, which finds its current copy, and rerun the move"
                    + " (`sqlitesuperfs ns move " + name + " --to ...`) to finish it");
            default -> { }
        }
    }

    private static boolean relationExists(Connection connection, String qualified) throws SQLException {
        try (PreparedStatement exists = connection.prepareStatement(NamespaceSql.RELATION_EXISTS)) {
            exists.setString(1, qualified);
            try (ResultSet rows = exists.executeQuery()) {
                rows.next();
                return rows.getBoolean(1);
            }
        }
    }

    @Override
    public String toString() {
        return switch (copy) {
            case ABSENT -> "absent";
            case CURRENT -> "current";
            case INCOMING -> "incoming from " + peer;
            case MOVED -> "moved to " + peer;
            case LEFT -> "left for " + peer;
        };
    }
}
