package dev.sqlitesuperfs.host;

import dev.sqlitesuperfs.cli.CliException;
import dev.sqlitesuperfs.cli.ExitCode;
import dev.sqlitesuperfs.cli.FleetChoice;
import dev.sqlitesuperfs.cli.MountSettings;
import dev.sqlitesuperfs.cli.NamespaceMount;
import dev.sqlitesuperfs.cli.PassphraseSource;
import dev.sqlitesuperfs.fs.FsResources;
import dev.sqlitesuperfs.fuse.RequestPool;
import dev.sqlitesuperfs.localpg.LocalPostgres;
import dev.sqlitesuperfs.metrics.HostMetrics;
import dev.sqlitesuperfs.store.DatabaseConfig;
import dev.sqlitesuperfs.store.PgServer;
import dev.sqlitesuperfs.store.StoreException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Everything the namespaces of one host share, and the one place that opens a namespace for it:
 *
 * <ul>
 *   <li>one {@link PgServer} per database (same URL, user and options): every namespace on it
 *       uses its connections, at most {@link Limits#dbConnections} however many are mounted
 *       ({@code serve --db-connections});
 *   <li>one {@link FsResources}: one block cache ({@code serve --cache-size}), one bound on
 *       written data not stored yet ({@code serve --write-buffer}) and one write-back thread, each
 *       shared fairly among the namespaces;
 *   <li>the local PostgreSQL of mounts that name no database, started once per state directory.
 * </ul>
 *
 * <p>Hence the options of a hosted mount that would size what is shared are refused
 * ({@link #HOST_WIDE_OPTIONS}); {@code --write-buffer} of a mount stays its own bound within the
 * host's.
 *
 * <p>The mounts share one Java heap. The shared cache and unstored data are reserved when the host
 * starts (a host whose sizes do not fit is refused with {@link ExitCode#USAGE}); each mount then
 * reserves {@link #MOUNT_OVERHEAD} for its tables, and one that does not fit in what is left is
 * refused as a standalone mount too large for the machine is.
 */
public final class HostResources implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(HostResources.class);

    public static final int DEFAULT_DB_CONNECTIONS = 10;
    /** Fewest connections a server can work with: the lock session, one writer, one reader. */
    public static final int MIN_DB_CONNECTIONS = 3;
    public static final long DEFAULT_CACHE_BYTES = 512L << 20;
    public static final long DEFAULT_DIRTY_BYTES = 256L << 20;
    /**
     * A mount's heap beyond the shared cache and written data: its inode tables and directories.
     * Measured (bench/host.sh, 1,000 namespaces): 226 KiB resident per idle mount, request pool
     * shared; 2 MiB leaves room for a working set of inodes. Not counted: the block tags of a
     * large file being read (16 bytes a block, 16 MiB for a 4 GiB file) live as long as its inode.
     */
    static final long MOUNT_OVERHEAD = 2L << 20;
    /**
     * Request workers serving every mount of the host (one epoll set; {@code serve --workers}): an
     * idle mount costs no thread and no buffer; one mount has at most a quarter of them in flight
     * ({@link RequestPool#hostSessionCap}), so that its hung requests leave the rest to the others.
     */
    public static final int DEFAULT_REQUEST_WORKERS = 16;
    /** The heap the host keeps for itself (its own classes, the control socket, request buffers). */
    static final long HOST_OVERHEAD = 128L << 20;
    /** Mount options that size what the host shares: given to {@code serve}, not to one mount. */
    static final Map<String, String> HOST_WIDE_OPTIONS = Map.of(
            "--cache-size", "the block cache is the host's (serve --cache-size)",
            "--db-timeout", "the database connections are the host's (serve --db-timeout)");

    /**
     * What {@code serve} was told to share.
     *
     * @param dbConnections most connections to one database server, over all its namespaces
     * @param cacheBytes    the block cache of all namespaces together
     * @param dirtyBytes    written data not stored yet, all namespaces together
     * @param dbTimeout     how long a database call keeps retrying before it fails
     * @param bulkPause     how long a large write on the bulk lane pauses after each 256 KiB while
     *                      other namespaces of its server commit (zero: never; see {@code store.BulkPacer})
     */
    public record Limits(int dbConnections, long cacheBytes, long dirtyBytes, Duration dbTimeout, int workers,
            Duration bulkPause) {
        /** 10 ms per 256 KiB: at most 25 MiB/s for large writes while others commit (BENCHMARKS.md). */
        public static final Duration DEFAULT_BULK_PAUSE = Duration.ofMillis(10);
        public static final Limits DEFAULT = new Limits(DEFAULT_DB_CONNECTIONS, DEFAULT_CACHE_BYTES,
                DEFAULT_DIRTY_BYTES, DatabaseConfig.DEFAULT_RETRY_TIMEOUT, DEFAULT_REQUEST_WORKERS, DEFAULT_BULK_PAUSE);

        /** Writer lanes of a server: about one connection in four, the rest read. */
        int lanes() {
            return Math.max(1, (dbConnections - 1) / 4);
        }

        /** Whether large writes get a lane of their own: when at least two connections remain to read. */
        boolean bulkLane() {
            return dbConnections - 1 - lanes() - 1 >= 2;
        }

        int readConnections() {
            return dbConnections - 1 - lanes() - (bulkLane() ? 1 : 0);
        }
    }

    private final Path defaultStateDir;
    private final Limits limits;
    private final FsResources fs;
    private final RequestPool requests;
    private final Map<Path, LocalPostgres> localServers = new LinkedHashMap<>();
    private final Map<DatabaseConfig, PgServer> servers = new LinkedHashMap<>();
    private final Set<NamespaceMount> reservations = Collections.newSetFromMap(new IdentityHashMap<>());
    private final long mountBudget;
    /** Mounts being opened, each reserving {@link #MOUNT_OVERHEAD} like those in {@link #reservations}. */
    private int pendingReservations;
    private boolean closed;

    /** @param defaultStateDir where a local PostgreSQL keeps its data unless a mount says --state-dir */
    public HostResources(Path defaultStateDir, Limits limits) {
        this(defaultStateDir, limits, Runtime.getRuntime().maxMemory());
    }

    /** @param heapBytes the heap the host may use */
    HostResources(Path defaultStateDir, Limits limits, long heapBytes) {
        long shared = saturatingAdd(saturatingAdd(limits.cacheBytes(), limits.dirtyBytes()),
                saturatingAdd(limits.dirtyBytes(), HOST_OVERHEAD));
        if (shared > heapBytes) {
            throw new CliException(ExitCode.USAGE, "the host's Java heap is " + (heapBytes >> 20) + " MiB, and"
                    + " --cache-size + 2 x --write-buffer + " + (HOST_OVERHEAD >> 20) + " MiB come to " + mib(shared)
                    + " MiB; give smaller sizes");
        }
        this.defaultStateDir = defaultStateDir;
        this.limits = limits;
        this.mountBudget = heapBytes - shared;
        this.fs = FsResources.shared(limits.cacheBytes(), limits.dirtyBytes());
        try {
            this.requests = RequestPool.start("host", limits.workers());
        } catch (IOException | RuntimeException e) {
            fs.close();
            throw new CliException(ExitCode.MOUNT, "cannot start the host's request workers: " + e.getMessage());
        }
    }

    /**
     * Refuses the options of a hosted mount that size what the host shares
     * ({@link #HOST_WIDE_OPTIONS}), as a usage error.
     */
    static void checkMountOptions(MountSettings settings) {
        for (String given : settings.hostOptions()) {
            for (Map.Entry<String, String> option : HOST_WIDE_OPTIONS.entrySet()) {
                if (given.equals(option.getKey()) || given.startsWith(option.getKey() + "=")) {
                    throw new CliException(ExitCode.USAGE, option.getKey() + " is not for a mount on a host: "
                            + option.getValue());
                }
            }
        }
    }

    /**
     * Opens the namespace {@code settings} names and mounts it, as {@code sqlitesuperfs mount} run by
     * user {@code ownerUid} (group {@code ownerGid}) would, on the host's shared connections and
     * caches; returns once it serves. Throws what {@link NamespaceMount#open} throws, leaving
     * nothing open; a failure caused by the server's connection limit says so and names the
     * host's bound.
     */
    NamespaceMount open(MountSettings settings, PassphraseSource passphrases, int ownerUid, int ownerGid) {
        checkMountOptions(settings);
        reserve();
        try {
            NamespaceMount mount;
            if (settings.fleetFile() != null) {
                mount = FleetChoice.forMount(settings, located -> NamespaceMount.open(settings,
                        server(located.config()), fs, requests, passphrases, OptionalLong::empty, ownerUid, ownerGid));
            } else if (settings.databaseUrl() != null) {
                mount = NamespaceMount.open(settings, server(DatabaseConfig.parse(settings.databaseUrl())), fs,
                        requests, passphrases, OptionalLong::empty, ownerUid, ownerGid);
            } else {
                LocalPostgres local = localServer(settings.stateDir() != null ? settings.stateDir() : defaultStateDir);
                mount = NamespaceMount.open(settings, server(local.config()), fs, requests, passphrases,
                        freeSpaceOf(local.dataDirectory()), ownerUid, ownerGid);
            }
            synchronized (this) {
                pendingReservations--;
                reservations.add(mount);
            }
            return mount;
        } catch (StoreException e) {
            unreserve();
            throw connectionLimitExplained(e);
        } catch (RuntimeException e) {
            unreserve();
            throw e;
        }
    }

    /** Gives back what {@code mount}, closed, had reserved. */
    synchronized void release(NamespaceMount mount) {
        reservations.remove(mount);
    }

    private synchronized void reserve() {
        if (closed) {
            throw new CliException(ExitCode.NO_HOST, "the host is shutting down");
        }
        long needed = (reservations.size() + pendingReservations + 1) * MOUNT_OVERHEAD;
        if (needed > mountBudget) {
            throw new CliException(ExitCode.USAGE, "the host's Java heap has no room for another mount ("
                    + (mountBudget >> 20) + " MiB for mounts, " + (MOUNT_OVERHEAD >> 20) + " MiB each); unmount"
                    + " a namespace, or give the host more heap or a smaller --cache-size or --write-buffer");
        }
        pendingReservations++;
    }

    private synchronized void unreserve() {
        pendingReservations--;
    }

    /**
     * Connects to the database of {@code url} (the host's $psql_url, where mounts that name none
     * go) before any mount asks, in the background; a failure is logged, and the first mount meets
     * it again.
     */
    void connectAhead(String url) {
        Thread.ofVirtual().name("connect-ahead").start(() -> {
            long start = System.nanoTime();
            try {
                server(DatabaseConfig.parse(url)).connectAhead();
                log.info("connected to the default database ahead of the first mount in {} ms",
                        (System.nanoTime() - start) / 1_000_000);
            } catch (SQLException | RuntimeException e) {
                log.info("not connected to the default database ahead of the first mount: {}", e.getMessage());
            }
        });
    }

    /** The host's server for {@code config}'s database: one per URL, user and options. */
    private synchronized PgServer server(DatabaseConfig config) {
        if (closed) {
            throw new CliException(ExitCode.NO_HOST, "the host is shutting down");
        }
        DatabaseConfig key = config.withRetryTimeout(limits.dbTimeout());
        return servers.computeIfAbsent(key, k -> {
            log.info("database {}: up to {} connections for all its namespaces ({} writer lane{}{}, {} read)",
                    k.endpoints(), limits.dbConnections(), limits.lanes(), limits.lanes() == 1 ? "" : "s",
                    limits.bulkLane() ? " and one for large writes" : "", limits.readConnections());
            return PgServer.shared(k, limits.lanes(), limits.bulkLane(), limits.readConnections(),
                    limits.bulkPause().toNanos());
        });
    }

    /**
     * {@code e} with the host's bound named when the server refused a connection for its
     * connection limit (SQLState 53300): the store's message says which limit; the host adds
     * how many connections it uses itself and which option lowers that.
     */
    private RuntimeException connectionLimitExplained(StoreException e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SQLException sql && "53300".equals(sql.getSQLState())) {
                return new CliException(ExitCode.of(e), e.getMessage() + "; this host uses up to "
                        + limits.dbConnections() + " connections to it for all its namespaces (serve"
                        + " --db-connections)");
            }
        }
        return e;
    }

    private synchronized LocalPostgres localServer(Path stateDir) {
        if (closed) {
            throw new CliException(ExitCode.NO_HOST, "the host is shutting down");
        }
        Path key = stateDir.toAbsolutePath().normalize();
        LocalPostgres server = localServers.get(key);
        if (server == null) {
            server = LocalPostgres.start(key);
            localServers.put(key, server);
            log.info("using local PostgreSQL with data in {}", server.dataDirectory());
        }
        return server;
    }

    private static Supplier<OptionalLong> freeSpaceOf(Path dir) {
        return () -> {
            try {
                return OptionalLong.of(Files.getFileStore(dir).getUsableSpace());
            } catch (IOException | SecurityException e) {
                return OptionalLong.empty();
            }
        };
    }

    /** The host's shared resources, for a metrics scrape. */
    HostMetrics.Host metrics() {
        List<PgServer> all;
        synchronized (this) {
            all = List.copyOf(servers.values());
        }
        long open = all.stream().mapToLong(PgServer::connectionsOpen).sum();
        long max = all.stream().mapToLong(PgServer::maxConnections).sum();
        return new HostMetrics.Host(open, max, saturatingAdd(limits.cacheBytes(), limits.dirtyBytes()),
                fs.cachedBytes() + fs.unstoredBytes(), requests.busy(), requests.workers());
    }

    /** The host's figures for status: what its namespaces share, and how much of it is in use. */
    synchronized Map<String, Object> figures() {
        Map<String, Object> figures = new LinkedHashMap<>();
        figures.put("databases", (long) servers.size());
        figures.put("db_connections_max", (long) servers.values().stream().mapToInt(PgServer::maxConnections).sum());
        figures.put("cache_bytes_max", limits.cacheBytes());
        figures.put("cached_bytes", fs.cachedBytes());
        figures.put("unstored_bytes_max", limits.dirtyBytes());
        figures.put("unstored_bytes", fs.unstoredBytes());
        return figures;
    }

    private static long saturatingAdd(long a, long b) {
        long sum = a + b;
        return sum < 0 ? Long.MAX_VALUE : sum;
    }

    private static String mib(long bytes) {
        return bytes == Long.MAX_VALUE ? "more than any" : Long.toString((bytes + (1 << 20) - 1) >> 20);
    }

    /**
     * Closes the shared connections and the write-back thread and lets go of the local PostgreSQL
     * servers (each stops when its last user has gone). Call after every mount closed.
     */
    @Override
    public void close() {
        Map<DatabaseConfig, PgServer> toClose;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            toClose = new LinkedHashMap<>(servers);
            servers.clear();
        }
        toClose.forEach((config, server) -> {
            try {
                server.close();
            } catch (RuntimeException e) {
                log.warn("closing the connections to {}: {}", config.endpoints(), e.getMessage());
            }
        });
        fs.close();
        requests.close();
        synchronized (this) {
            for (LocalPostgres server : localServers.values()) {
                try {
                    server.release();
                } catch (RuntimeException e) {
                    log.warn("releasing the local PostgreSQL in {}: {}", server.dataDirectory(), e.getMessage());
                }
            }
            localServers.clear();
        }
    }
}
