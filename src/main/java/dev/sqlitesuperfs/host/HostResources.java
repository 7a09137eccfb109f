package dev.sqlitesuperfs.host;

import dev.sqlitesuperfs.cli.CliException;
import dev.sqlitesuperfs.cli.ExitCode;
import dev.sqlitesuperfs.cli.MountSettings;
import dev.sqlitesuperfs.cli.NamespaceMount;
import dev.sqlitesuperfs.cli.PassphraseSource;
import dev.sqlitesuperfs.localpg.LocalPostgres;
import dev.sqlitesuperfs.store.DatabaseConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.OptionalLong;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Everything the namespaces of one host get from it: their databases and the opening of each
 * namespace. This is the one class that creates what mounts could share (database connections,
 * caches, request threads) and the one place that opens a namespace.
 *
 * <p>Today it gives each namespace exactly what a standalone mount gets, through
 * {@link NamespaceMount#open}: its own connections, block cache and request threads. Only a local
 * PostgreSQL (no {@code --db}, no {@code $psql_url}) is shared: started once per state directory
 * and kept running until the host closes. Shared pools replace the inside of this class, not its
 * callers.
 *
 * <p>The mounts share one Java heap, so each mount reserves what a standalone mount's JVM would be
 * given for it (block cache + 2 x write buffer, see {@code MountSettings.heapMib}) plus
 * {@link #MOUNT_OVERHEAD}, and a mount that does not fit in what is left is refused with
 * {@link ExitCode#USAGE}, as a standalone mount too large for the machine is: one namespace's
 * sizes must not run the whole host out of memory.
 */
public final class HostResources implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(HostResources.class);

    /** A mount's heap beyond its cache and written data: its tables, buffers and threads. */
    static final long MOUNT_OVERHEAD = 64L << 20;
    /** The heap the host keeps for itself (its own classes, the control socket, requests). */
    static final long HOST_OVERHEAD = 128L << 20;

    private final Path defaultStateDir;
    private final Map<Path, LocalPostgres> localServers = new LinkedHashMap<>();
    private final Map<NamespaceMount, Long> reservations = new IdentityHashMap<>();
    private final long heapBudget;
    private long reserved;
    private boolean closed;

    /** @param defaultStateDir where a local PostgreSQL keeps its data unless a mount says --state-dir */
    public HostResources(Path defaultStateDir) {
        this(defaultStateDir, Runtime.getRuntime().maxMemory() - HOST_OVERHEAD);
    }

    /** @param heapBudget the heap the mounts may reserve together */
    HostResources(Path defaultStateDir, long heapBudget) {
        this.defaultStateDir = defaultStateDir;
        this.heapBudget = heapBudget;
    }

    /**
     * Opens the namespace {@code settings} names and mounts it, as {@code sqlitesuperfs mount} run by
     * user {@code ownerUid} (group {@code ownerGid}) would; returns once it serves. Throws what
     * {@link NamespaceMount#open} throws, leaving nothing open.
     */
    NamespaceMount open(MountSettings settings, PassphraseSource passphrases, int ownerUid, int ownerGid) {
        long heap = reserve(settings);
        try {
            NamespaceMount mount = openNamespace(settings, passphrases, ownerUid, ownerGid);
            synchronized (this) {
                reservations.put(mount, heap);
            }
            return mount;
        } catch (RuntimeException e) {
            synchronized (this) {
                reserved -= heap;
            }
            throw e;
        }
    }

    /** Gives back what {@code mount}, closed, had reserved. */
    synchronized void release(NamespaceMount mount) {
        Long heap = reservations.remove(mount);
        if (heap != null) {
            reserved -= heap;
        }
    }

    private synchronized long reserve(MountSettings settings) {
        long heap = saturatingAdd(saturatingAdd(settings.cacheBytes(), settings.writeBufferBytes()),
                saturatingAdd(settings.writeBufferBytes(), MOUNT_OVERHEAD));
        if (heap > heapBudget - reserved) {
            throw new CliException(ExitCode.USAGE, "the host's Java heap has room for " + Math.max(0,
                    (heapBudget - reserved) >> 20) + " MiB more, and this mount needs " + mib(heap) + " MiB (cache + 2 x"
                    + " write buffer + " + (MOUNT_OVERHEAD >> 20) + " MiB); give it a smaller --cache-size or"
                    + " --write-buffer, or unmount another namespace");
        }
        reserved += heap;
        return heap;
    }

    private static long saturatingAdd(long a, long b) {
        long sum = a + b;
        return sum < 0 ? Long.MAX_VALUE : sum;
    }

    private static String mib(long bytes) {
        return bytes == Long.MAX_VALUE ? "more than any" : Long.toString((bytes + (1 << 20) - 1) >> 20);
    }

    /** The one call that opens a namespace for a host. */
    private NamespaceMount openNamespace(MountSettings settings, PassphraseSource passphrases, int ownerUid,
            int ownerGid) {
        DatabaseConfig database;
        Supplier<OptionalLong> hostFree = OptionalLong::empty;
        if (settings.databaseUrl() != null) {
            database = DatabaseConfig.parse(settings.databaseUrl());
        } else {
            LocalPostgres local = localServer(settings.stateDir() != null ? settings.stateDir() : defaultStateDir);
            database = local.config();
            hostFree = freeSpaceOf(local.dataDirectory());
        }
        return NamespaceMount.open(settings, database.withRetryTimeout(settings.databaseTimeout()), passphrases,
                hostFree, ownerUid, ownerGid);
    }

    private synchronized LocalPostgres localServer(Path stateDir) {
        if (closed) {
            throw new IllegalStateException("the host's resources are closed");
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

    /** Lets go of the local PostgreSQL servers (each stops when its last user has gone). Call after every mount closed. */
    @Override
    public synchronized void close() {
        closed = true;
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
