package dev.sqlitesuperfs.store;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.concurrent.locks.ReentrantLock;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The reads of a follower (a read-only mount of a namespace that another process writes): one
 * connection in one REPEATABLE READ, READ ONLY transaction, so that every read between two
 * {@link #renew renewals} sees the same committed state, never a mix of two of the writer's
 * commits. Reads run one at a time on it.
 *
 * <p>A failed read, or a lost connection, ends the snapshot (PostgreSQL aborts the transaction):
 * reads then fail as {@link StoreException.Unavailable} until the next renewal, which starts a
 * new snapshot on a new connection if need be. Nothing is retried here: a retry in a new
 * snapshot would answer from another state than the reads before it.
 */
final class SnapshotReads implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(SnapshotReads.class);

    private final DataSource source;
    private final NamespaceName namespace;
    private final ReentrantLock lock = new ReentrantLock();
    /**
     * In an open snapshot transaction (or about to begin one at its next statement); null when
     * lost. Changed and used under {@link #lock}; volatile for {@link #lost}.
     */
    private volatile Connection connection;
    private volatile boolean closed;

    SnapshotReads(DataSource source, NamespaceName namespace) {
        this.source = source;
        this.namespace = namespace;
    }

    <T> T read(String what, ReadPool.Read<T> read) {
        lock.lock();
        try {
            if (connection == null) {
                throw new StoreException.Unavailable(what + " in namespace " + namespace
                        + " failed: the follower's snapshot was lost with its connection; it starts a new one"
                        + " at its next renewal", null);
            }
            try {
                return read.run(connection);
            } catch (SQLException e) {
                discard();
                throw SqlFailures.isTransient(e)
                        ? new StoreException.Unavailable(what + " in namespace " + namespace + " failed: lost"
                                + " PostgreSQL (SQLState " + e.getSQLState() + ")", e)
                        : SqlFailures.describe(what, namespace, e);
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Ends the current snapshot; the next read begins one of the newest committed state. Connects
     * if the connection was lost.
     *
     * @throws StoreException.Unavailable if PostgreSQL cannot be reached
     */
    void renew() {
        lock.lock();
        try {
            if (closed) {
                throw new IllegalStateException("the follower reads of namespace " + namespace + " are closed");
            }
            if (connection != null) {
                try {
                    connection.commit();
                    return;
                } catch (SQLException e) {
                    log.debug("Ending the snapshot of namespace {} failed: {}; connecting again", namespace,
                            e.getMessage());
                    discard();
                }
            }
            try {
                Connection c = source.getConnection();
                c.setAutoCommit(false);
                c.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
                c.setReadOnly(true);
                connection = c;
            } catch (SQLException e) {
                throw new StoreException.Unavailable("following namespace " + namespace + ": cannot connect: "
                        + e.getMessage(), e);
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Whether the snapshot was lost with its connection: reads fail until the next {@link #renew}.
     * Without the lock, which a read holds for as long as PostgreSQL takes to answer it: this is
     * asked by the follower's poll, which must not wait for a read stuck on a dead server.
     */
    boolean lost() {
        return !closed && connection == null;
    }

    private void discard() {
        if (connection != null) {
            try {
                connection.close();
            } catch (SQLException ignored) {
                // gone either way
            }
            connection = null;
        }
    }

    @Override
    public void close() {
        lock.lock();
        try {
            closed = true;
            discard();
        } finally {
            lock.unlock();
        }
    }
}
