package dev.sqlitesuperfs.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;
import java.time.OffsetDateTime;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The connection that holds the namespace locks of this process on one server: a session-level
 * advisory lock per namespace open for writing or reading, all on one connection, however many
 * namespaces that is (a host of a thousand holds a thousand locks on one session). The lock is
 * what refuses a second mount at once; what keeps two writers from ever interleaving is the owner
 * epoch each commit claims (see {@link CommitWriter}), so losing this session costs no safety:
 * the next writer reconnect takes every lock again ({@link #reassure}).
 *
 * <p>Thread-safe (every method is synchronized; the calls are rare).
 */
final class LockSession implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(LockSession.class);

    /** A server backend, told apart from a later one that reuses its process id by its start time. */
    record Backend(int pid, OffsetDateTime started) {}

    private final DataSource dataSource;
    private final Set<NamespaceName> held = new HashSet<>();
    private Connection connection;
    /** The backend of the current (or last) session: it may outlive our view of it (half-open). */
    private Backend backend;

    LockSession(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    /**
     * Whether the session's connection is open (for the host's metrics). Unsynchronized on
     * purpose: a scrape must not wait behind a reconnect; a stale answer is fine for a gauge.
     */
    boolean isOpen() {
        return connection != null;
    }

    /**
     * Takes {@code namespace}'s lock; false if another process holds it.
     *
     * @throws SQLException when PostgreSQL cannot be reached (transient: try again)
     */
    synchronized boolean tryLock(NamespaceName namespace) throws SQLException {
        connected();
        if (!lock(connection, namespace)) {
            return false;
        }
        held.add(namespace);
        return true;
    }

    /** Opens the session's connection ahead of the first lock. */
    synchronized void connectAhead() throws SQLException {
        connected();
    }

    /** Lets {@code namespace}'s lock go; a failure is harmless (the session may be gone already). */
    synchronized void unlock(NamespaceName namespace) {
        if (!held.remove(namespace) || connection == null) {
            return;
        }
        try {
            unlock(connection, namespace);
        } catch (SQLException e) {
            log.debug("Could not unlock namespace {} explicitly: {}", namespace, e.getMessage());
        }
    }

    /**
     * Whether this process still holds {@code namespace}'s lock, after making sure the session
     * lives: a lost session is replaced and every lock it held is taken again. False when another
     * process holds the namespace now (it took it while our session was gone).
     *
     * @throws SQLException a transient failure (PostgreSQL away, or our previous session still
     *     holding the locks on the server): try again later
     */
    synchronized boolean reassure(NamespaceName namespace) throws SQLException {
        if (!held.contains(namespace)) {
            return false;
        }
        if (connection != null && connection.isValid(5)) {
            return true;
        }
        replace();
        return held.contains(namespace);
    }

    /** A new session taking every lock the lost one held; namespaces another process took are dropped. */
    private void replace() throws SQLException {
        discard();
        Connection fresh = dataSource.getConnection();
        try {
            Set<NamespaceName> lost = new HashSet<>();
            for (NamespaceName namespace : held) {
                if (lock(fresh, namespace)) {
                    continue;
                }
                Optional<Backend> holder = holderOf(fresh, namespace);
                if (holder.isPresent() && holder.get().equals(backend)) {
                    // Our own old session, still alive on the server though we lost it (a half-open
                    // connection). End it; the retry finds the locks free once it has gone.
                    terminate(fresh, holder.get().pid());
                    throw new SQLTransientConnectionException("the previous lock session still holds the locks", "08000");
                }
                if (holder.isEmpty()) {
                    throw new SQLTransientConnectionException("the lock of " + namespace + " was just released", "08000");
                }
                lost.add(namespace);
                log.warn("Namespace {} was taken by another process while the connection to PostgreSQL was lost",
                        namespace);
            }
            held.removeAll(lost);
            backend = identify(fresh);
            connection = fresh;
        } catch (SQLException | RuntimeException e) {
            // Closing lets go of whatever this attempt took.
            closeQuietly(fresh);
            throw e;
        }
    }

    private void connected() throws SQLException {
        if (connection == null) {
            Connection fresh = dataSource.getConnection();
            try {
                backend = identify(fresh);
            } catch (SQLException | RuntimeException e) {
                closeQuietly(fresh);
                throw e;
            }
            connection = fresh;
        }
    }

    /** Forgets a session that failed; the server ends it (and releases its locks). */
    private void discard() {
        if (connection != null) {
            closeQuietly(connection);
            connection = null;
        }
    }

    /** Lets every lock go and closes the session. */
    @Override
    public synchronized void close() {
        held.clear();
        discard();
    }

    /**
     * Takes {@code namespace}'s session-level lock on {@code connection}; false if another session
     * holds it. Also for {@link Catalog#drop}, which holds it on its own connection while it drops.
     */
    static boolean lock(Connection connection, NamespaceName namespace) throws SQLException {
        try (PreparedStatement lock = connection.prepareStatement(NamespaceSql.TRY_LOCK)) {
            lock.setString(1, namespace.value());
            try (ResultSet rows = lock.executeQuery()) {
                rows.next();
                return rows.getBoolean(1);
            }
        }
    }

    /** Lets {@code namespace}'s session-level lock on {@code connection} go. */
    static void unlock(Connection connection, NamespaceName namespace) throws SQLException {
        try (PreparedStatement unlock = connection.prepareStatement(NamespaceSql.UNLOCK)) {
            unlock.setString(1, namespace.value());
            unlock.execute();
        }
    }

    private static Optional<Backend> holderOf(Connection connection, NamespaceName namespace) throws SQLException {
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

    private static void terminate(Connection connection, int pid) throws SQLException {
        log.warn("Ending this process's previous lock session (backend {}): it still holds its locks", pid);
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
