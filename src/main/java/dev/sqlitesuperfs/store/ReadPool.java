package dev.sqlitesuperfs.store;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The reads of one namespace, on pooled connections (the namespace's own, or its host's shared
 * pool). Each read runs on a connection of its own in auto-commit mode and is retried on transient
 * failures until the retry timeout.
 */
final class ReadPool implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(ReadPool.class);

    /** One read: runs on a borrowed connection. */
    @FunctionalInterface
    interface Read<T> {
        T run(Connection connection) throws SQLException;
    }

    private final NamespaceName namespace;
    private final Duration retryTimeout;
    private final HikariDataSource pool;
    private final boolean owned;
    /** A follower's snapshot, which every read but {@link #readNewest} runs in; null for any other store. */
    private final SnapshotReads snapshot;

    /**
     * The reads of {@code namespace} on {@code pool}; {@code owned}: the pool is this namespace's
     * own and closes with it (a standalone mount), else it is shared by every namespace of a host.
     */
    ReadPool(HikariDataSource pool, NamespaceName namespace, Duration retryTimeout, boolean owned) {
        this(pool, namespace, retryTimeout, owned, null);
    }

    private ReadPool(HikariDataSource pool, NamespaceName namespace, Duration retryTimeout, boolean owned,
                     SnapshotReads snapshot) {
        this.pool = pool;
        this.namespace = namespace;
        this.retryTimeout = retryTimeout;
        this.owned = owned;
        this.snapshot = snapshot;
    }

    /** These reads, but in {@code snapshot} (closed with them); {@link #readNewest} still reads outside it. */
    ReadPool inSnapshot(SnapshotReads snapshot) {
        return new ReadPool(pool, namespace, retryTimeout, owned, snapshot);
    }

    /** The follower's snapshot, or null. */
    SnapshotReads snapshot() {
        return snapshot;
    }

    /** A pool of up to {@code size} read connections named {@code label} (for its threads and logs). */
    static HikariDataSource connections(DatabaseConfig config, String applicationSuffix, String label, int size) {
        long connectionTimeout = clamp(config.retryTimeout().toMillis() / 2, 250, 10_000);
        HikariConfig hikari = new HikariConfig();
        hikari.setPoolName("sqlitesuperfs-read-" + label);
        hikari.setDataSource(config.dataSource(applicationSuffix));
        hikari.setMaximumPoolSize(size);
        hikari.setMinimumIdle(Math.min(2, size));
        hikari.setAutoCommit(true);
        hikari.setConnectionTimeout(connectionTimeout);
        hikari.setValidationTimeout(clamp(connectionTimeout / 2, 250, 5_000));
        // Open lazily: the pool must not fail to exist just because the server is briefly away.
        hikari.setInitializationFailTimeout(-1);
        return new HikariDataSource(hikari);
    }

    /**
     * Runs {@code read}, retrying transient failures; {@code what} names it in error messages. A
     * follower's read runs in its snapshot, unretried (see {@link SnapshotReads}).
     */
    <T> T read(String what, Read<T> read) {
        return snapshot != null ? snapshot.read(what, read) : readNewest(what, read);
    }

    /** As {@link #read}, always on a pooled connection: what is committed now, even for a follower. */
    <T> T readNewest(String what, Read<T> read) {
        long deadline = System.nanoTime() + retryTimeout.toNanos();
        Backoff backoff = new Backoff();
        while (true) {
            SQLException failure;
            try (Connection connection = pool.getConnection()) {
                return read.run(connection);
            } catch (SQLException e) {
                failure = e;
            }
            if (!SqlFailures.isTransient(failure)) {
                throw SqlFailures.describe(what, namespace, failure);
            }
            if (System.nanoTime() - deadline >= 0) {
                // Thrown, not logged: the filesystem logs the failed request, the command line
                // prints it as its one line.
                throw SqlFailures.unavailable(what + " in namespace " + namespace, retryTimeout, failure);
            }
            if (backoff.attempts() == 0) {
                log.debug("Read of namespace {} hit a transient failure (SQLState {}); retrying",
                        namespace, failure.getSQLState());
            }
            backoff.pause(deadline);
        }
    }

    @Override
    public void close() {
        if (snapshot != null) {
            snapshot.close();
        }
        if (owned) {
            pool.close();
        }
    }

    private static long clamp(long value, long min, long max) {
        return Math.max(min, Math.min(max, value));
    }
}
