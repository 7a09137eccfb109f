package dev.sqlitesuperfs.cli;

import dev.sqlitesuperfs.follow.WriterFollower;
import dev.sqlitesuperfs.fs.Filesystem;
import dev.sqlitesuperfs.fs.FsConfig;
import dev.sqlitesuperfs.fs.FsResources;
import dev.sqlitesuperfs.fuse.FuseSession;
import dev.sqlitesuperfs.fuse.RequestCounts;
import dev.sqlitesuperfs.fuse.MountException;
import dev.sqlitesuperfs.fuse.MountOptions;
import dev.sqlitesuperfs.fuse.RequestPool;
import dev.sqlitesuperfs.anchor.AnchorCommand;
import dev.sqlitesuperfs.anchor.AnchorDirectory;
import dev.sqlitesuperfs.sealed.FreshnessPolicy;
import dev.sqlitesuperfs.sealed.SealedNamespace;
import dev.sqlitesuperfs.sealed.SealedStore;
import dev.sqlitesuperfs.store.DatabaseConfig;
import dev.sqlitesuperfs.store.NamespaceName;
import dev.sqlitesuperfs.store.NamespaceStore;
import dev.sqlitesuperfs.store.Replication;
import dev.sqlitesuperfs.store.StoreException;
import dev.sqlitesuperfs.store.PgNamespaceStore;
import dev.sqlitesuperfs.store.PgServer;
import dev.sqlitesuperfs.store.StoreMetrics;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.OptionalLong;
import java.util.function.BiFunction;
import java.util.function.Function;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One namespace mounted on one directory: the store holding the namespace's lock, the namespace
 * opened with its key, the filesystem and the FUSE session, assembled in order and taken apart in
 * reverse. Used by the command line and, in-process, by tests.
 */
public final class NamespaceMount implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(NamespaceMount.class);
    /** Shown as {@code fuse.sqlitesuperfs} in /proc/mounts; how `unmount` recognises our mounts. */
    public static final String SUBTYPE = "sqlitesuperfs";

    private final String namespace;
    private final Path mountPoint;
    private final NamespaceStore store;
    private final SealedNamespace opened;
    private final Filesystem filesystem;
    private final FuseSession session;
    /** A read-only mount's follower of the namespace's writer; null for a writable one. */
    private final WriterFollower follower;
    private boolean closed;

    /** How often a read-only mount asks whether its namespace's writer committed. */
    static final Duration FOLLOW_INTERVAL = Duration.ofMillis(50);

    private NamespaceMount(String namespace, Path mountPoint, NamespaceStore store, SealedNamespace opened,
            Filesystem filesystem, FuseSession session, WriterFollower follower) {
        this.follower = follower;
        this.namespace = namespace;
        this.mountPoint = mountPoint;
        this.store = store;
        this.opened = opened;
        this.filesystem = filesystem;
        this.session = session;
    }

    /**
     * Opens (creating if needed) the namespace and mounts it; returns once the directory serves
     * requests. Every failure leaves nothing mounted and nothing open. The checks come in this
     * order, so that a command with several mistakes is always refused for the same one: the
     * namespace name; whether a passphrase can be had at all (file, variable, terminal); the mount
     * directory and what mounting needs (/dev/fuse, fusermount3, write access); the database and
     * the namespace; the passphrase against the namespace's key (see {@link SealedNamespace#open});
     * the kernel mount.
     *
     * @param hostFreeBytes free space where PostgreSQL keeps its data, when known
     */
    public static NamespaceMount open(MountSettings settings, DatabaseConfig database, PassphraseSource passphrases,
            Supplier<OptionalLong> hostFreeBytes, int callerUid, int callerGid) {
        // Read-only: beside the namespace's writer, following its commits (see WriterFollower).
        return open(settings, name -> settings.readOnly() ? PgNamespaceStore.openFollower(database, name)
                        : PgNamespaceStore.open(database, name, false), Filesystem::open,
                null, passphrases, hostFreeBytes, callerUid, callerGid);
    }

    /**
     * As {@link #open(MountSettings, DatabaseConfig, PassphraseSource, Supplier, int, int)}, for a
     * host: the namespace is opened on {@code server}'s connections, which all the host's
     * namespaces on that database share, and its filesystem uses the host's block cache, bound on
     * unstored data and write-back thread ({@code resources}) instead of its own, and its kernel
     * requests are served by the host's request workers ({@code pool}); the settings' cache size,
     * database timeout and threads are then the server's, the resources' and the pool's.
     */
    public static NamespaceMount open(MountSettings settings, PgServer server, FsResources resources, RequestPool pool,
            PassphraseSource passphrases, Supplier<OptionalLong> hostFreeBytes, int callerUid, int callerGid) {
        return open(settings, name -> settings.readOnly() ? server.openFollower(name) : server.open(name, false),
                (config, sealed) -> Filesystem.open(config, sealed, resources), pool, passphrases, hostFreeBytes,
                callerUid, callerGid);
    }

    /**
     * Refuses a server that does not replicate synchronously when asked to, and says so in the log
     * when it streams to standbys that a commit does not wait for: a failover to one of them can
     * lose the last commits this mount acknowledged.
     */
    private static void checkReplication(NamespaceStore store, NamespaceName name, boolean requireSynchronous) {
        Replication replication = store.replication();
        if (replication == null || replication.isSynchronous()) {
            return;
        }
        if (requireSynchronous) {
            throw new StoreException.NotSynchronous("the PostgreSQL server of namespace " + name
                    + " does not replicate synchronously (" + replication.describe() + "); --require-sync-standby"
                    + " refuses to mount");
        }
        if (replication.isAsynchronousOnly()) {
            log.warn("The PostgreSQL server of namespace {} replicates only asynchronously ({}): a failover can lose"
                    + " the last commits this mount acknowledged", name, replication.describe());
        }
    }

    private static FreshnessPolicy freshness(MountSettings settings) {
        if (settings.anchorCommand() != null) {
            return new FreshnessPolicy(new AnchorCommand(settings.anchorCommand(), settings.databaseTimeout()),
                    settings.acceptRollback(), settings.anchorInterval());
        }
        return settings.anchorDir() == null ? FreshnessPolicy.NONE
                : new FreshnessPolicy(new AnchorDirectory(settings.anchorDir()), settings.acceptRollback(),
                        settings.anchorInterval());
    }

    private static NamespaceMount open(MountSettings settings, Function<NamespaceName, NamespaceStore> stores,
            BiFunction<FsConfig, SealedStore, Filesystem> filesystems, RequestPool pool, PassphraseSource passphrases,
            Supplier<OptionalLong> hostFreeBytes, int callerUid, int callerGid) {
        NamespaceName name = NamespaceName.parse(settings.namespace());
        passphrases.checkAvailable();
        Path dir = checkMountPoint(settings.mountPoint(), settings.createMountPoint(), settings.allowNonEmpty());
        NamespaceStore store = stores.apply(name);
        SealedNamespace opened = null;
        try {
            checkReplication(store, name, settings.requireSyncStandby());
            int uid = settings.ownerUid() >= 0 ? settings.ownerUid() : callerUid;
            int gid = settings.ownerGid() >= 0 ? settings.ownerGid() : callerGid;
            if (settings.readOnly()) {
                opened = SealedNamespace.open(store, name.value(), SealedNamespace.Access.READ_ONLY,
                        settings.blockSize(), passphrases.prompt(name.value()), freshness(settings));
            } else {
                int blockSize = settings.blockSize() != 0 ? settings.blockSize() : MountSettings.DEFAULT_BLOCK_SIZE;
                opened = SealedNamespace.openOrCreate(store, name.value(), settings.blockSize(),
                        new SealedNamespace.NewNamespace(blockSize, settings.kdfStrength(), uid, gid, 0,
                                settings.sealNames()),
                        passphrases.prompt(name.value()), freshness(settings));
            }
            // The namespace's stored quota (ns create, ns quota), unless --quota overrides it for this mount.
            long quotaBytes = settings.quotaBytes() != 0 ? settings.quotaBytes() : opened.quotaBytes();
            // A follower's files and names change underneath the kernel, which may cache them all the
            // same: each step tells it to drop the attributes and pages of what changed and the
            // names it was told of in changed directories (Filesystem.followWriter).
            FsConfig fsConfig = new FsConfig(name.value(), opened.blockSize(), settings.cacheBytes(),
                    settings.writeBufferBytes(), settings.writebackDelay(), settings.cacheTtl(), settings.readOnly(),
                    quotaBytes, hostFreeBytes, settings.orderedJournals());
            Filesystem fs = filesystems.apply(fsConfig, opened.store());
            // With a quota, every write(2) must reach the mount while the writer waits, so that one
            // that does not fit fails itself: the kernel's writeback cache would accept it and
            // send it long after. (Measured: the SQLite commit loop is as fast either way.)
            // A read-only mount writes nothing, and a follower's files change size underneath the
            // kernel, which with the writeback cache would keep its own size of them.
            boolean writebackCache = quotaBytes == 0 && !settings.readOnly();
            MountOptions options = new MountOptions(dir, name.value(), SUBTYPE, uid, gid,
                    settings.allowOther(), true, settings.readOnly(), settings.fuseOptions(),
                    MountOptions.MAX_WRITE_LIMIT, settings.threads(), writebackCache);
            FuseSession session;
            try {
                session = pool == null ? FuseSession.mount(options, fs) : FuseSession.mount(options, fs, pool);
            } catch (MountException e) {
                fs.destroy();
                throw new CliException(ExitCode.MOUNT, e.getMessage());
            } catch (RuntimeException e) {
                fs.destroy();
                throw e;
            }
            try {
                session.start();
            } catch (IOException e) {
                closeQuietly(session);
                throw new CliException(ExitCode.MOUNT, "cannot serve " + dir + ": " + e.getMessage());
            }
            WriterFollower follower = settings.readOnly()
                    ? WriterFollower.start(name.value(), store, opened, fs, FOLLOW_INTERVAL) : null;
            return new NamespaceMount(name.value(), dir, store, opened, fs, session, follower);
        } catch (RuntimeException e) {
            if (opened != null) {
                opened.close();
            }
            store.close();
            throw e;
        }
    }

    /**
     * The mount directory, refused before anything else happens if it is missing (unless
     * {@code create}), not a directory, already a mount point (a second mount would hide the first),
     * or not empty (its entries would be hidden while mounted; {@code allowNonEmpty} accepts that).
     */
    private static Path checkMountPoint(Path requested, boolean create, boolean allowNonEmpty) {
        Path dir = requested.toAbsolutePath().normalize();
        if (!Files.exists(dir) && create) {
            try {
                Files.createDirectories(dir);
            } catch (IOException e) {
                throw new CliException(ExitCode.MOUNT, "cannot create mount directory " + dir + ": " + e.getMessage());
            }
        }
        if (!Files.exists(dir)) {
            throw new CliException(ExitCode.MOUNT, "mount directory " + dir + " does not exist (--mkdir creates it)");
        }
        if (!Files.isDirectory(dir)) {
            throw new CliException(ExitCode.MOUNT, "mount directory " + dir + " is not a directory");
        }
        Path real;
        try {
            real = dir.toRealPath();
        } catch (IOException e) {
            throw new CliException(ExitCode.MOUNT, "cannot resolve mount directory " + dir + ": " + e.getMessage());
        }
        FuseSession.mountTypeAt(real).ifPresent(type -> {
            throw new CliException(ExitCode.MOUNT, "mount directory " + dir + " is already a mount point (" + type
                    + "); unmount it first or choose another directory");
        });
        try {
            FuseSession.checkMountable(real);
        } catch (MountException e) {
            throw new CliException(ExitCode.MOUNT, e.getMessage());
        }
        if (!allowNonEmpty) {
            try (var entries = Files.list(real)) {
                if (entries.findAny().isPresent()) {
                    throw new CliException(ExitCode.MOUNT, "mount directory " + dir + " is not empty; its files would"
                            + " be hidden while mounted (-o nonempty mounts anyway)");
                }
            } catch (IOException e) {
                throw new CliException(ExitCode.MOUNT, "cannot read mount directory " + dir + ": " + e.getMessage());
            }
        }
        return dir;
    }

    /** Ends the session (unmounting, detaching if busy); a failure is logged, not thrown: we are going away. */
    private static void closeQuietly(FuseSession session) {
        try {
            session.close();
        } catch (MountException e) {
            log.warn("{}", e.getMessage());
        }
    }

    /** FUSE requests the kernel sent this mount, by opcode. */
    public RequestCounts requestCounts() {
        return session.requestCounts();
    }

    /** The namespace writer's counters (zero for a store that keeps none). */
    public StoreMetrics storeMetrics() {
        return store instanceof PgNamespaceStore pg ? pg.metrics() : new StoreMetrics();
    }

    /** Nanoseconds spent deriving the namespace's key while it was opened. */
    public long keyNanos() {
        return opened.keyNanos();
    }

    public String namespace() {
        return namespace;
    }

    public Path mountPoint() {
        return mountPoint;
    }

    public Filesystem filesystem() {
        return filesystem;
    }

    /** Blocks until the directory is unmounted (from outside, or by {@link #close()}). */
    public void awaitUnmount() throws InterruptedException {
        session.awaitTermination();
    }

    /**
     * Stores everything still in memory (including what the kernel's page cache holds), unmounts,
     * and releases the namespace. Safe to call more than once and from several threads (a
     * signal handler and the main thread): a second caller waits until the first is done.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (follower != null) {
            follower.close();
        }
        try {
            try {
                session.syncKernelCaches();
            } catch (IOException | IllegalStateException e) {
                log.debug("syncfs before unmount: {}", e.getMessage());
            }
            filesystem.flushAll();
            closeQuietly(session);
        } finally {
            try {
                store.close();
            } finally {
                opened.close();
            }
        }
        log.info("namespace {} unmounted from {}", namespace, mountPoint);
    }
}
