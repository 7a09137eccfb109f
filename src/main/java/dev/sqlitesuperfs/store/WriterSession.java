package dev.sqlitesuperfs.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;
import java.time.OffsetDateTime;
import java.util.Optional;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The connection that holds the namespace lock, and through which every write goes. After a lost
 * connection it reconnects, takes the lock again and proves the namespace is still this process's
 * before anything more is written.
 *
 * <p>Not thread-safe: used by the opening thread until writing starts, then only by the writer.
 */
final class WriterSession implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(WriterSession.class);

    /** A server backend, told apart from a later one that reuses its process id by its start time. */
    record Backend(int pid, OffsetDateTime started) {}

    private final DataSource dataSource;
    private final NamespaceName namespace;
    private final NamespaceSql sql;
    private Connection connection;
    private WriterStatements statements;
    /** The backend that last held the lock for this process; it may outlive our view of it. */
    private Backend lockHolder;
    private long epoch = -1;
    /** The number of this mount's last transaction; each one stores its number in meta.last_commit. */
    private long commitNumber;

    private WriterSession(DataSource dataSource, NamespaceName namespace, NamespaceSql sql) {
        this.dataSource = dataSource;
        this.namespace = namespace;
        this.sql = sql;
    }

    /** Connects and takes the namespace lock, or fails with {@link StoreException.NamespaceBusy}. */
    static WriterSession open(DatabaseConfig config, NamespaceName namespace, NamespaceSql sql) throws SQLException {
        WriterSession session = new WriterSession(config.dataSource(":" + namespace + ":writer"), namespace, sql);
        Connection connection = tuned(session.dataSource.getConnection());
        try {
            if (!tryLock(connection, namespace)) {
                throw new StoreException.NamespaceBusy("namespace " + namespace + " is already mounted by another process");
            }
            session.lockHolder = identify(connection);
            session.connection = connection;
            return session;
        } catch (SQLException | RuntimeException e) {
            closeQuietly(connection);
            throw e;
        }
    }

    Connection connection() {
        if (connection == null) {
            throw new IllegalStateException("the writer connection is not open");
        }
        return connection;
    }

    boolean isConnected() {
        return connection != null;
    }

    /** Prepared statements of the current connection, reused until it is replaced. */
    WriterStatements statements() throws SQLException {
        if (statements == null) {
            statements = new WriterStatements(connection(), sql);
        }
        return statements;
    }

    long epoch() {
        return epoch;
    }

    /**
     * Records a new owner epoch, fencing out every earlier owner. The connection stays in
     * auto-commit mode: most transactions are one statement.
     */
    void startEpoch() throws SQLException {
        Connection c = connection();
        c.setAutoCommit(true);
        try (PreparedStatement bump = c.prepareStatement(sql.bumpMountEpoch); ResultSet rows = bump.executeQuery()) {
            if (!rows.next()) {
                throw new StoreException("namespace " + namespace + " has no metadata row");
            }
            epoch = rows.getLong(1);
            commitNumber = rows.getLong(2);
        }
        log.info("Writing to namespace {} as owner epoch {}", namespace, epoch);
    }

    /**
     * A number no earlier transaction of this namespace stored in meta.last_commit: after a lost
     * connection, finding it there proves the transaction in flight committed.
     */
    long nextCommitNumber() {
        return ++commitNumber;
    }

    /** Forgets a connection that failed; the server ends its session (and releases its lock). */
    void discard() {
        statements = null;
        if (connection != null) {
            closeQuietly(connection);
            connection = null;
        }
    }

    /**
     * Opens a new connection, takes the lock again and checks that the owner epoch is still ours.
     *
     * @return the namespace's {@code last_commit}, to decide whether a transaction in flight when
     *     the old connection broke was committed
     * @throws StoreException.Fenced if another process holds or has held the namespace meanwhile
     * @throws SQLException a transient failure: try again later
     */
    long reconnect() throws SQLException {
        discard();
        Connection fresh = tuned(dataSource.getConnection());
        try {
            if (!tryLock(fresh, namespace)) {
                Optional<Backend> holder = holderOfLock(fresh);
                if (holder.isPresent() && holder.get().equals(lockHolder)) {
                    // Our own old session, still alive on the server though we lost it (a half-open
                    // connection). End it; the retry finds the lock free once it has gone.
                    terminate(fresh, holder.get().pid());
                    throw new SQLTransientConnectionException(
                            "the previous writer session still holds the lock", "08000");
                }
                if (holder.isEmpty()) {
                    throw new SQLTransientConnectionException("the namespace lock was just released", "08000");
                }
                throw new StoreException.Fenced("namespace " + namespace
                        + " was taken over by another process while the connection to PostgreSQL was lost");
            }
            lockHolder = identify(fresh);
            long lastCommit;
            try (PreparedStatement state = fresh.prepareStatement(sql.readWriterState);
                 ResultSet rows = state.executeQuery()) {
                if (!rows.next()) {
                    throw new StoreException.Fenced("namespace " + namespace + " lost its metadata row");
                }
                long storedEpoch = rows.getLong(1);
                lastCommit = rows.getLong(2);
                commitNumber = Math.max(commitNumber, lastCommit);
                if (epoch >= 0 && storedEpoch != epoch) {
                    throw new StoreException.Fenced("namespace " + namespace
                            + " was mounted by another process while the connection to PostgreSQL was lost");
                }
            }
            fresh.setAutoCommit(true);
            connection = fresh;
            return lastCommit;
        } catch (SQLException | RuntimeException e) {
            // Closing gives up the lock if this attempt took it.
            closeQuietly(fresh);
            throw e;
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

    /** Lets the lock go and closes the connection. */
    @Override
    public void close() {
        if (connection == null) {
            return;
        }
        try {
            if (!connection.getAutoCommit()) {
                connection.rollback();
                connection.setAutoCommit(true);
            }
            try (PreparedStatement unlock = connection.prepareStatement(NamespaceSql.UNLOCK)) {
                unlock.setString(1, namespace.value());
                unlock.execute();
            }
        } catch (SQLException e) {
            // Closing the session below releases the lock all the same.
            log.debug("Could not unlock namespace {} explicitly: {}", namespace, e.getMessage());
        }
        discard();
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

    private static boolean tryLock(Connection connection, NamespaceName namespace) throws SQLException {
        try (PreparedStatement lock = connection.prepareStatement(NamespaceSql.TRY_LOCK)) {
            lock.setString(1, namespace.value());
            try (ResultSet rows = lock.executeQuery()) {
                rows.next();
                return rows.getBoolean(1);
            }
        }
    }

    private Optional<Backend> holderOfLock(Connection connection) throws SQLException {
        try (PreparedStatement holder = connection.prepareStatement(NamespaceSql.LOCK_HOLDER)) {
            holder.setString(1, namespace.value());
            try (ResultSet rows = holder.executeQuery()) {
                if (!rows.next()) {
                    return Optional.empty();
                }
                return Optional.of(new Backend(rows.getInt(1), rows.getObject(2, OffsetDateTime.class)));
            }
        }
    }

    private void terminate(Connection connection, int pid) throws SQLException {
        log.warn("Ending this process's previous writer session (backend {}) of namespace {}: it still holds the lock",
                pid, namespace);
        try (PreparedStatement terminate = connection.prepareStatement(NamespaceSql.TERMINATE_BACKEND)) {
            terminate.setInt(1, pid);
            terminate.execute();
        }
    }

    private static Backend identify(Connection connection) throws SQLException {
        try (PreparedStatement identity = connection.prepareStatement(NamespaceSql.BACKEND_IDENTITY);
             ResultSet rows = identity.executeQuery()) {
            rows.next();
            return new Backend(rows.getInt(1), rows.getObject(2, OffsetDateTime.class));
        }
    }

    private static void closeQuietly(Connection connection) {
        try {
            connection.close();
        } catch (SQLException ignored) {
            // Already broken; the server cleans up the session.
        }
    }
}
