package dev.sqlitesuperfs.store;

import com.zaxxer.hikari.HikariDataSource;
import java.sql.SQLException;

/**
 * The connections of one process to one PostgreSQL server, shared by every namespace it opens
 * there: one session holding the namespaces' locks ({@link LockSession}), a few writer lanes
 * ({@link WriterLane}) over which the namespaces are spread, optionally a lane for large writes
 * (see {@link #bulkLane}), and a pool of read connections. However many namespaces a host serves,
 * it holds at most {@code 1 + lanes + bulk + reads} connections to the server.
 *
 * <p>A standalone mount opens its namespace with {@link PgNamespaceStore#open}, which makes such a
 * server of its own (one lane, the configured reads) and closes it with the store.
 */
public final class PgServer implements AutoCloseable {
    private final DatabaseConfig config;
    private final LockSession locks;
    private final WriterLane[] lanes;
    /** The lane of large writes (COPY transactions), or null: they then use their namespace's lane. */
    private final WriterLane bulk;
    private final HikariDataSource reads;
    private final boolean dedicated;

    private PgServer(DatabaseConfig config, LockSession locks, WriterLane[] lanes, WriterLane bulk,
            HikariDataSource reads, boolean dedicated) {
        this.config = config;
        this.locks = locks;
        this.lanes = lanes;
        this.bulk = bulk;
        this.reads = reads;
        this.dedicated = dedicated;
    }

    /**
     * The server for a host: {@code lanes} writer connections, with {@code bulkLane} one more for
     * large writes (paused {@code bulkPauseNanos} after each piece while the other lanes are busy,
     * see {@link BulkPacer}), and up to {@code readConnections} read connections, shared by every
     * namespace opened through it. Connects lazily.
     */
    public static PgServer shared(DatabaseConfig config, int lanes, boolean bulkLane, int readConnections,
                                  long bulkPauseNanos) {
        if (lanes < 1 || readConnections < 1) {
            throw new IllegalArgumentException("a server needs at least one writer lane and one read connection");
        }
        WriterLane[] writers = new WriterLane[lanes];
        for (int i = 0; i < lanes; i++) {
            writers[i] = new WriterLane(config.dataSource(":host:writer-" + i));
        }
        WriterLane bulk = null;
        if (bulkLane) {
            bulk = new WriterLane(config.dataSource(":host:writer-bulk"));
            bulk.paceFor(writers, bulkPauseNanos);
        }
        return new PgServer(config, new LockSession(config.dataSource(":host:locks")), writers, bulk,
                ReadPool.connections(config, ":host:read", "host", readConnections), false);
    }

    /** The server of one standalone mount, named after its namespace in pg_stat_activity. */
    static PgServer dedicated(DatabaseConfig config, NamespaceName namespace) {
        return new PgServer(config, new LockSession(config.dataSource(":" + namespace + ":lock")),
                new WriterLane[] {new WriterLane(config.dataSource(":" + namespace + ":writer"))}, null,
                ReadPool.connections(config, ":" + namespace + ":read", namespace.value(), config.readPoolSize()),
                true);
    }

    /**
     * Opens {@code namespace} through this server's connections; see {@link PgNamespaceStore#open}.
     *
     * @throws StoreException.NamespaceBusy if another process has the namespace open
     */
    public PgNamespaceStore open(NamespaceName namespace, boolean readOnly) {
        return PgNamespaceStore.open(this, namespace, readOnly, SchemaMigrations.CURRENT);
    }

    /**
     * Opens {@code namespace} to follow its writer, on this server's connections; see
     * {@link PgNamespaceStore#openFollower(DatabaseConfig, NamespaceName)}.
     */
    public PgNamespaceStore openFollower(NamespaceName namespace) {
        return PgNamespaceStore.openFollower(this, namespace);
    }

    DatabaseConfig config() {
        return config;
    }

    LockSession locks() {
        return locks;
    }

    /** The lane a namespace writes on: always the same one, so its prepared statements stay warm. */
    WriterLane laneFor(NamespaceName namespace) {
        return lanes[Math.floorMod(namespace.value().hashCode(), lanes.length)];
    }

    /**
     * The lane that large writes (COPY transactions) of every namespace take, or null. On a host
     * such a transaction can run for seconds; on its namespace's own lane it would keep every
     * neighbour on that lane waiting meanwhile (they cannot ride along with a COPY).
     */
    WriterLane bulkLane() {
        return bulk;
    }

    ReadPool readsFor(NamespaceName namespace) {
        return new ReadPool(reads, namespace, config.retryTimeout(), false);
    }

    /** Whether this server belongs to one store, which closes it. */
    boolean dedicated() {
        return dedicated;
    }

    /**
     * Opens what a first namespace needs (the lock session, the writer lanes, one read connection)
     * before any namespace asks, so that the first mount does not pay for connecting and for the
     * driver's first run; within {@link #maxConnections} like any other use.
     *
     * @throws SQLException when the server cannot be reached; the namespaces meet it again
     */
    public void connectAhead() throws SQLException {
        locks.connectAhead();
        for (WriterLane lane : lanes) {
            lane.connectAhead();
        }
        // borrowing one makes the pool connect it (and check it); nothing else to do with it
        reads.getConnection().close();
    }

    /** The most connections this server opens: the lock session, the lanes and the read pool. */
    public int maxConnections() {
        return 1 + lanes.length + (bulk == null ? 0 : 1) + reads.getMaximumPoolSize();
    }

    /** Connections open now (for the host's metrics): the lock session's, the lanes', the read pool's. */
    public int connectionsOpen() {
        int open = locks.isOpen() ? 1 : 0;
        for (WriterLane lane : lanes) {
            open += lane.isConnected() ? 1 : 0;
        }
        open += bulk != null && bulk.isConnected() ? 1 : 0;
        var readPool = reads.getHikariPoolMXBean();
        return open + (readPool == null ? 0 : readPool.getTotalConnections());
    }

    /** Closes every connection; the namespaces opened through it must be closed first. */
    @Override
    public void close() {
        try {
            for (WriterLane lane : lanes) {
                lane.close();
            }
            if (bulk != null) {
                bulk.close();
            }
        } finally {
            try {
                locks.close();
            } finally {
                reads.close();
            }
        }
    }
}
