package dev.sqlitesuperfs.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyIn;
import org.postgresql.copy.CopyManager;
import org.postgresql.copy.CopyOut;

/**
 * The store's part of moving a namespace from one server to another: each step is one
 * transaction, so that a move killed at any point leaves exactly one authoritative copy (see
 * {@link Placement}) and a rerun can tell where it stopped. The caller (which holds the key and
 * checks the copy with it between {@link #copy} and {@link #switchOver}) runs, in order:
 * <ol>
 *   <li>{@link #copy}: fences any writer of the old copy (a new owner epoch), then copies every row
 *       from one snapshot of it into a new schema on the target, marked incoming, in one target
 *       transaction: a kill leaves nothing there, or the whole copy;</li>
 *   <li>{@link #switchOver}: marks the old copy moved, if its owner epoch is still the one the copy
 *       was taken under: from then on the new copy is authoritative;</li>
 *   <li>{@link #activate}: removes the new copy's mark: it is the namespace, as if made there;</li>
 *   <li>{@link #freeSource}: drops the old copy, leaving a tombstone that names the new server.</li>
 * </ol>
 * The whole move holds the namespace's lock on the old server (so no mount and no second move
 * starts there meanwhile); the new copy needs none, as nothing opens an incoming copy but a move.
 */
public final class NamespaceMove implements AutoCloseable {

    /** What a copy moved: rows of every table and the bytes of their binary COPY stream. */
    public record Figures(long rows, long bytes) {}

    /** Told how far a copy is, at most about once a second. */
    @FunctionalInterface
    public interface Progress {
        void copied(String table, long bytesSoFar);
    }

    /**
     * The namespace's tables in an order that loads without breaking a foreign key. A table of
     * the old copy not in this list (a newer format's) makes the move refuse rather than drop it.
     */
    private static final List<String> TABLES = List.of("meta", "inodes", "dirents", "blocks", "block_groups", "xattrs",
            "symlinks");

    private final NamespaceName name;
    private final NamespaceSql sql;
    private final String sourceServer;
    private final String targetServer;
    private final Connection source;
    private final Connection target;
    /** The owner epoch the copy was taken under; -1 before {@link #copy}. */
    private long epoch = -1;

    private NamespaceMove(NamespaceName name, String sourceServer, Connection source, String targetServer,
                          Connection target) {
        this.name = name;
        this.sql = new NamespaceSql(name);
        this.sourceServer = sourceServer;
        this.targetServer = targetServer;
        this.source = source;
        this.target = target;
    }

    /**
     * Connects to both servers and takes the namespace's lock on the old one.
     *
     * @throws StoreException.NamespaceBusy when it is mounted or another command (a move) has it
     */
    public static NamespaceMove start(NamespaceName name, String sourceServer, DatabaseConfig from,
                                      String targetServer, DatabaseConfig to) {
        Connection source = null;
        Connection target = null;
        try {
            source = from.dataSource(":move").getConnection();
            NamespaceOpening.checkServerVersion(source, from);
            if (!LockSession.lock(source, name)) {
                throw new StoreException.NamespaceBusy("namespace " + name + " is mounted or in use by another"
                        + " command on server " + sourceServer + "; unmount it first, then move it");
            }
            target = to.dataSource(":move").getConnection();
            NamespaceOpening.checkServerVersion(target, to);
            return new NamespaceMove(name, sourceServer, source, targetServer, target);
        } catch (SQLException e) {
            closeQuietly(source);
            closeQuietly(target);
            throw failure("connecting for the move", e);
        } catch (RuntimeException e) {
            closeQuietly(source);
            closeQuietly(target);
            throw e;
        }
    }

    /** What the old server holds of the namespace now. */
    public Placement sourcePlacement() {
        return work("reading the placement on server " + sourceServer, () -> Placement.read(source, name, sql));
    }

    /** What the new server holds of the namespace now. */
    public Placement targetPlacement() {
        return work("reading the placement on server " + targetServer, () -> Placement.read(target, name, sql));
    }

    /** Drops what an earlier, unfinished move left on the new server (an incoming copy only). */
    public void discardIncoming() {
        work("dropping an unfinished copy on server " + targetServer, () -> inTransaction(target, () -> {
            Placement placement = Placement.read(target, name, sql);
            if (placement.copy() != Placement.Copy.INCOMING) {
                throw new StoreException("namespace " + name + " on server " + targetServer + " is " + placement
                        + "; only an unfinished incoming copy is dropped");
            }
            dropSchema(target);
            return null;
        }));
    }

    /**
     * Fences the old copy's writers and copies it whole to the new server, marked incoming. The old
     * copy must be the current one and the new server must hold nothing of that name.
     */
    public Figures copy(Progress progress) {
        return work("copying namespace " + name + " from server " + sourceServer + " to server " + targetServer,
                () -> {
                    require(Placement.read(source, name, sql), Placement.Copy.CURRENT, sourceServer);
                    Placement there = Placement.read(target, name, sql);
                    boolean tombstone = there.copy() == Placement.Copy.LEFT;
                    if (!tombstone) {
                        require(there, Placement.Copy.ABSENT, targetServer);
                    }
                    // a follower of the old copy would go on serving it, never seeing a commit again
                    inTransaction(source, () -> {
                        SchemaReaders.exclusively(source, name, "then move it", c -> {
                            try (Statement lock = c.createStatement()) {
                                lock.execute("LOCK TABLE " + sql.table("meta") + " IN ACCESS EXCLUSIVE MODE");
                            }
                        });
                        return null;
                    });
                    epoch = bumpEpoch();
                    source.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
                    source.setReadOnly(true);
                    try {
                        return inTransaction(source, () -> inTransaction(target,
                                () -> copyRows(tombstone, progress)));
                    } finally {
                        source.setReadOnly(false);
                        source.setTransactionIsolation(Connection.TRANSACTION_READ_COMMITTED);
                    }
                });
    }

    /**
     * Marks the old copy moved to the new server: the moment the new copy becomes authoritative.
     * Refused if the old copy's owner epoch changed since {@link #copy} (a writer took it: the copy
     * may miss its commits).
     */
    public void switchOver() {
        if (epoch < 0) {
            throw new IllegalStateException("switchOver() comes after copy()");
        }
        work("switching namespace " + name + " over to server " + targetServer, () -> inTransaction(source, () -> {
            require(Placement.read(source, name, sql), Placement.Copy.CURRENT, sourceServer);
            try (PreparedStatement check = source.prepareStatement("UPDATE " + sql.table("meta")
                    + " SET mount_epoch = mount_epoch WHERE mount_epoch = ?")) {
                check.setLong(1, epoch);
                if (check.executeUpdate() != 1) {
                    throw new StoreException("namespace " + name + " was opened for writing on server " + sourceServer
                            + " during the copy; it stays there (move it again)");
                }
            }
            Placement.mark(source, sql, Placement.Copy.MOVED, targetServer);
            return null;
        }));
    }

    /** Makes the new copy the namespace (the old one must be marked moved to it). */
    public void activate() {
        work("activating namespace " + name + " on server " + targetServer, () -> inTransaction(target, () -> {
            require(Placement.read(target, name, sql), Placement.Copy.INCOMING, targetServer);
            Placement.clear(target, sql);
            return null;
        }));
    }

    /**
     * Drops the old copy (marked moved), leaving its schema with only a placement row that says
     * where the namespace went; returns the bytes the copy held on disk.
     */
    public long freeSource() {
        return work("dropping the old copy of namespace " + name + " on server " + sourceServer,
                () -> inTransaction(source, () -> {
                    require(Placement.read(source, name, sql), Placement.Copy.MOVED, sourceServer);
                    long bytes;
                    try (PreparedStatement size = source.prepareStatement(CatalogSql.DISK_BYTES)) {
                        size.setString(1, name.value());
                        try (ResultSet rows = size.executeQuery()) {
                            rows.next();
                            bytes = rows.getLong(1);
                        }
                    }
                    SchemaReaders.exclusively(source, name, "then move it again to finish", this::dropSchema);
                    try (Statement create = source.createStatement()) {
                        create.execute("CREATE SCHEMA " + sql.schema);
                    }
                    Placement.mark(source, sql, Placement.Copy.LEFT, targetServer);
                    return bytes;
                }));
    }

    @Override
    public void close() {
        closeQuietly(source);
        closeQuietly(target);
    }

    // ------------------------------------------------------------------ inside

    /** The copy's transaction on both servers; {@code tombstone}: the target has one of the namespace, to replace. */
    private Figures copyRows(boolean tombstone, Progress progress) throws SQLException {
        if (tombstone) {
            // the namespace comes back to a server it left: its tombstone goes
            try (Statement drop = target.createStatement()) {
                drop.execute(CatalogSql.dropSchema(sql));
            }
        }
        try (Statement read = source.createStatement(); ResultSet format = read.executeQuery(sql.readFormatVersion)) {
            format.next();
            if (format.getInt(1) != SchemaMigrations.CURRENT.latestVersion()) {
                throw new StoreException.UnsupportedFormat("namespace " + name + " has format version "
                        + format.getInt(1) + " and moves only at version " + SchemaMigrations.CURRENT.latestVersion()
                        + "; bring it there first (sqlitesuperfs upgrade)");
            }
        }
        try (Statement create = target.createStatement()) {
            for (String statement : sqlForNewSchema()) {
                create.execute(statement);
            }
        }
        Placement.mark(target, sql, Placement.Copy.INCOMING, sourceServer);
        Set<String> known = new java.util.HashSet<>(TABLES);
        known.add("placement");
        for (String table : tablesOfSource()) {
            if (!known.contains(table)) {
                throw new StoreException("namespace " + name + " has a table '" + table + "' this program does not"
                        + " know; move it with the version that made it");
            }
        }
        CopyManager from = source.unwrap(PGConnection.class).getCopyAPI();
        CopyManager to = target.unwrap(PGConnection.class).getCopyAPI();
        long rows = 0;
        long bytes = 0;
        long reported = System.nanoTime();
        for (String table : TABLES) {
            String columns = copiedColumns(table);
            CopyOut out = from.copyOut("COPY (SELECT " + columns + " FROM " + sql.table(table) + ") TO STDOUT"
                    + " (FORMAT binary)");
            CopyIn in = to.copyIn("COPY " + sql.table(table) + " (" + columns + ") FROM STDIN (FORMAT binary)");
            try {
                byte[] chunk;
                while ((chunk = out.readFromCopy()) != null) {
                    in.writeToCopy(chunk, 0, chunk.length);
                    bytes += chunk.length;
                    if (System.nanoTime() - reported > 1_000_000_000L) {
                        reported = System.nanoTime();
                        progress.copied(table, bytes);
                    }
                }
                rows += in.endCopy();
            } finally {
                if (out.isActive()) {
                    out.cancelCopy();
                }
                if (in.isActive()) {
                    in.cancelCopy();
                }
            }
        }
        try (Statement sequence = source.createStatement();
                ResultSet state = sequence.executeQuery("SELECT last_value, is_called FROM " + sql.inodeSequence);
                PreparedStatement set = target.prepareStatement("SELECT setval(?::regclass, ?, ?)")) {
            state.next();
            set.setString(1, sql.inodeSequence);
            set.setLong(2, state.getLong(1));
            set.setBoolean(3, state.getBoolean(2));
            set.execute();
        }
        Catalog.registerCopied(target, name, sql);
        return new Figures(rows, bytes);
    }

    /** Every step of the current format: an empty namespace's schema, tables and sequence. */
    private List<String> sqlForNewSchema() {
        List<String> statements = new ArrayList<>();
        for (SchemaMigrations.Step step : SchemaMigrations.CURRENT.steps()) {
            statements.addAll(step.statements().apply(sql));
        }
        return statements;
    }

    private List<String> tablesOfSource() throws SQLException {
        List<String> tables = new ArrayList<>();
        try (PreparedStatement list = source.prepareStatement("SELECT c.relname FROM pg_class c JOIN pg_namespace n"
                + " ON n.oid = c.relnamespace WHERE n.nspname = ? AND c.relkind IN ('r', 'p') ORDER BY 1")) {
            list.setString(1, name.value());
            try (ResultSet rows = list.executeQuery()) {
                while (rows.next()) {
                    tables.add(rows.getString(1));
                }
            }
        }
        return tables;
    }

    /** The old copy's stored columns of {@code table}, quoted (generated ones are made again by the new server). */
    private String copiedColumns(String table) throws SQLException {
        try (PreparedStatement columns = source.prepareStatement("SELECT string_agg(quote_ident(attname), ', '"
                + " ORDER BY attnum) FROM pg_attribute WHERE attrelid = to_regclass(?) AND attnum > 0"
                + " AND NOT attisdropped AND attgenerated = ''")) {
            columns.setString(1, sql.table(table));
            try (ResultSet rows = columns.executeQuery()) {
                rows.next();
                return rows.getString(1);
            }
        }
    }

    /**
     * A new owner epoch on the old copy, committed: a writer that still thinks it owns the
     * namespace (a mount whose lock session was lost) can commit nothing after it.
     */
    private long bumpEpoch() throws SQLException {
        try (Statement bump = source.createStatement();
                ResultSet rows = bump.executeQuery(sql.bumpMountEpoch)) {
            rows.next();
            return rows.getLong(1);
        }
    }

    private void dropSchema(Connection connection) throws SQLException {
        try (Statement drop = connection.createStatement()) {
            drop.execute(CatalogSql.dropSchema(sql));
        }
        Catalog.unregisterIn(connection, name);
    }

    private void require(Placement placement, Placement.Copy wanted, String server) {
        if (placement.copy() != wanted) {
            throw new StoreException("namespace " + name + " on server " + server + " is " + placement
                    + " where the move expects it " + new Placement(wanted, wanted == Placement.Copy.MOVED
                    ? targetServer : wanted == Placement.Copy.INCOMING ? sourceServer : null));
        }
    }

    private static <T> T work(String action, Catalog.Work<T> work) {
        try {
            return work.run();
        } catch (SQLException e) {
            throw failure(action, e);
        }
    }

    private static StoreException failure(String action, SQLException e) {
        if (SqlFailures.isTransient(e)) {
            return new StoreException.Unavailable(action + " failed: lost PostgreSQL (rerun the move)", e);
        }
        return SqlFailures.describeServerWork(action, e);
    }

    private static <T> T inTransaction(Connection connection, Catalog.Work<T> work) throws SQLException {
        return Catalog.inTransaction(connection, work);
    }

    private static void closeQuietly(Connection connection) {
        if (connection != null) {
            try {
                connection.close();
            } catch (SQLException ignored) {
                // closing after a failure: the failure is what the caller hears of
            }
        }
    }
}
