package dev.sqlitesuperfs.store;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.locks.ReentrantLock;
import javax.sql.DataSource;

/**
 * A connection that commits for the namespaces assigned to it, one transaction at a time: a
 * namespace's writer holds the lane for the whole of a commit ({@link #acquire}), so its
 * transaction, retries and check of an unconfirmed commit run on one connection, as they would on
 * a connection of its own. A standalone mount has one lane to itself; a host spreads its
 * namespaces over a few, which bounds the connections however many namespaces it serves.
 *
 * <p>The connection is tuned for the writer's statements (see {@link #tuned}); each namespace's
 * prepared statements are kept per connection, the most recently used ones first.
 */
final class WriterLane implements AutoCloseable {
    /** Namespaces whose prepared statements a lane keeps; the statements of others are prepared again. */
    private static final int KEPT_STATEMENTS = 256;

    private final DataSource dataSource;
    private final ReentrantLock use = new ReentrantLock(true);
    private Connection connection;
    private final Map<NamespaceName, WriterStatements> statements = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<NamespaceName, WriterStatements> eldest) {
            if (size() <= KEPT_STATEMENTS) {
                return false;
            }
            eldest.getValue().close();
            return true;
        }
    };

    WriterLane(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    /** Waits until the lane is free and takes it; {@link #release} gives it back. Namespaces take turns. */
    void acquire() {
        use.lock();
    }

    void release() {
        use.unlock();
    }

    private void requireHeld() {
        if (!use.isHeldByCurrentThread()) {
            throw new IllegalStateException("the writer lane is used without being held");
        }
    }

    /** The current connection; the caller holds the lane. */
    Connection connection() {
        requireHeld();
        if (connection == null) {
            throw new IllegalStateException("the writer connection is not open");
        }
        return connection;
    }

    boolean isConnected() {
        return connection != null;
    }

    /** Replaces the connection by a new one, in auto-commit mode; the caller holds the lane. */
    void connect() throws SQLException {
        requireHeld();
        discard();
        Connection fresh = tuned(dataSource.getConnection());
        fresh.setAutoCommit(true);
        connection = fresh;
    }

    /** {@code namespace}'s prepared statements on the current connection; the caller holds the lane. */
    WriterStatements statements(NamespaceName namespace, NamespaceSql sql) throws SQLException {
        WriterStatements kept = statements.get(namespace);
        if (kept == null) {
            kept = new WriterStatements(connection(), sql);
            statements.put(namespace, kept);
        }
        return kept;
    }

    /** Forgets a connection that failed; the server ends its session. */
    void discard() {
        statements.clear();
        if (connection != null) {
            closeQuietly(connection);
            connection = null;
        }
    }

    /** Rolls back the open transaction; a connection that cannot even do that is discarded. */
    void rollbackOrDiscard() {
        if (connection == null) {
            return;
        }
        try {
            // In auto-commit mode a failed statement has rolled itself back.
            if (!connection.getAutoCommit()) {
                connection.rollback();
            }
        } catch (SQLException e) {
            discard();
        }
    }

    @Override
    public void close() {
        use.lock();
        try {
            discard();
        } finally {
            use.unlock();
        }
    }

    /**
     * The writer's statement ({@link NamespaceSql#applyChanges}) is planned once: PostgreSQL's
     * default (a custom plan whenever a generic one looks costlier) spent half a millisecond per
     * commit on planning. A plan made without the arguments cannot know how many rows an array
     * names, and on a namespace of a few large files it guesses that one inode owns a tenth of
     * all blocks and scans the table (50 ms per commit on a million blocks). The writer only ever
     * touches rows by their primary key, so sequential scans are simply off for it; and so is
     * JIT compilation, which the planner's costs for a big statement would otherwise start, at
     * close to a second per execution.
     */
    private static Connection tuned(Connection connection) throws SQLException {
        try (java.sql.Statement set = connection.createStatement()) {
            set.execute("SET plan_cache_mode = force_generic_plan");
            set.execute("SET enable_seqscan = off");
            set.execute("SET jit = off");
        } catch (SQLException e) {
            closeQuietly(connection);
            throw e;
        }
        return connection;
    }

    private static void closeQuietly(Connection connection) {
        try {
            connection.close();
        } catch (SQLException ignored) {
            // Already broken; the server cleans up the session.
        }
    }
}
