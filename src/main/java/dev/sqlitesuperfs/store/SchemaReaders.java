package dev.sqlitesuperfs.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.sql.Statement;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;

/**
 * Other sessions reading a namespace's tables, above all its followers (read-only mounts beside
 * its writer). A follower keeps a REPEATABLE READ transaction open for as long as it is mounted,
 * and with it a lock on every table it has read; it holds no namespace lock, so the lock that
 * tells a mounted namespace from an unmounted one does not see it. Dropping the namespace's
 * tables needs each of them to itself: behind a follower the drop would wait for as long as the
 * follower stays mounted, and every new snapshot of every follower would queue behind the drop.
 * So such a step waits at most {@link #WAIT} for the tables and is then refused, naming the
 * sessions that hold them.
 */
final class SchemaReaders {
    /** Long enough for a command's own short reads (ns usage, fsck) to end, short enough for a follower's queue. */
    static final String WAIT = "2s";
    private static final String LOCK_NOT_AVAILABLE = "55P03";

    private static final String READERS = """
            SELECT DISTINCT l.pid, a.application_name, host(a.client_addr), a.backend_start
              FROM pg_locks l
              JOIN pg_class c ON c.oid = l.relation
              JOIN pg_namespace n ON n.oid = c.relnamespace
              LEFT JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE l.locktype = 'relation' AND n.nspname = ? AND l.pid <> pg_backend_pid()
             ORDER BY l.pid
            """;

    private SchemaReaders() {}

    /** A step that needs the namespace's tables to itself. */
    interface Exclusive {
        void run(Connection connection) throws SQLException;
    }

    /**
     * Runs {@code exclusive} inside the transaction open on {@code connection}, waiting at most
     * {@link #WAIT} for the namespace's tables.
     *
     * @param then what the operator does once the readers are gone ("then drop it")
     * @throws StoreException.NamespaceBusy naming the sessions that kept the tables
     */
    static void exclusively(Connection connection, NamespaceName name, String then, Exclusive exclusive)
            throws SQLException {
        for (int attempt = 1; ; attempt++) {
            Savepoint before = connection.setSavepoint();
            try {
                try (Statement wait = connection.createStatement()) {
                    wait.execute("SET LOCAL lock_timeout = '" + WAIT + "'");
                }
                exclusive.run(connection);
                try (Statement reset = connection.createStatement()) {
                    reset.execute("SET LOCAL lock_timeout = DEFAULT");
                }
                connection.releaseSavepoint(before);
                return;
            } catch (SQLException e) {
                if (!LOCK_NOT_AVAILABLE.equals(e.getSQLState())) {
                    throw e;
                }
                connection.rollback(before);
                List<Catalog.Holder> readers = readers(connection, name);
                // a reader that ended between the refusal and the question: once more
                if (!readers.isEmpty() || attempt == 2) {
                    throw new StoreException.NamespaceBusy("namespace " + name + " is read by " + describe(readers)
                            + " (a follower, that is a read-only mount, or another command); unmount it first, "
                            + then);
                }
            }
        }
    }

    /** The sessions other than this one holding or waiting for a lock on one of the namespace's tables. */
    static List<Catalog.Holder> readers(Connection connection, NamespaceName name) throws SQLException {
        List<Catalog.Holder> found = new ArrayList<>();
        try (PreparedStatement query = connection.prepareStatement(READERS)) {
            query.setString(1, name.value());
            try (ResultSet rows = query.executeQuery()) {
                while (rows.next()) {
                    found.add(new Catalog.Holder(rows.getInt(1), rows.getString(2), rows.getString(3),
                            rows.getObject(4, OffsetDateTime.class)));
                }
            }
        }
        return found;
    }

    private static String describe(List<Catalog.Holder> readers) {
        if (readers.isEmpty()) {
            return "another session";
        }
        List<String> each = new ArrayList<>();
        for (Catalog.Holder reader : readers) {
            each.add(Catalog.describe(reader));
        }
        return String.join(" and ", each);
    }
}
