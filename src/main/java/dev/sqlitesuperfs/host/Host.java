package dev.sqlitesuperfs.host;

import dev.sqlitesuperfs.cli.CliException;
import dev.sqlitesuperfs.cli.ExitCode;
import dev.sqlitesuperfs.cli.MountRegistry;
import dev.sqlitesuperfs.cli.MountSettings;
import dev.sqlitesuperfs.cli.NamespaceMount;
import dev.sqlitesuperfs.cli.PassphraseSource;
import dev.sqlitesuperfs.fuse.FuseSession;
import dev.sqlitesuperfs.fuse.MountException;
import dev.sqlitesuperfs.metrics.HostMetrics;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Many namespaces served by one process, each mounted and unmounted while the others go on.
 *
 * <p>One namespace's failure is its own: a wrong passphrase, a namespace mounted elsewhere, a bad
 * directory, a failure to store at unmount end that namespace's request (or its part of
 * {@link #close}) with its exit code and a log line, and nothing else. A mount unmounted from
 * outside the host ({@code umount DIR}) is noticed, its data stored and its namespace released.
 *
 * <p>Mounts are known by their directory, absolute and normalized as given (not resolved through
 * symbolic links), as {@link NamespaceMount#mountPoint} has it.
 */
public final class Host implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Host.class);

    private final HostResources resources;
    private final Path socket;
    private final Map<Path, HostedMount> mounts = new LinkedHashMap<>();
    /** Directories a mount is being opened on: a second request for one is refused at once. */
    private final Set<Path> opening = new HashSet<>();
    /** Namespaces of the configuration that did not mount at start, until one mounts on that directory. */
    private final Map<Path, NamespaceStatus> failures = new LinkedHashMap<>();
    private boolean closing;

    /**
     * @param socket the control socket, recorded with each mount so that {@code sqlitesuperfs unmount DIR}
     *               asks this host; null for a host without one
     */
    public Host(HostResources resources, Path socket) {
        this.resources = resources;
        this.socket = socket;
    }

    /** Connects to the database at {@code url} in the background, ahead of its first mount. */
    void connectAhead(String url) {
        resources.connectAhead(url);
    }

    /**
     * Mounts the namespace {@code settings} names, owned by {@code ownerUid}/{@code ownerGid} (the
     * user it is mounted for, as the caller of a standalone mount); returns once it serves.
     *
     * @param origin where the request came from, for status and the log
     * @throws CliException (or what {@link ExitCode#of} classifies) with the exit code a standalone
     *                      mount would have had
     */
    public HostedMount mount(MountSettings settings, PassphraseSource passphrases, int ownerUid, int ownerGid,
            String origin) {
        Path dir = settings.mountPoint().toAbsolutePath().normalize();
        synchronized (this) {
            if (closing) {
                throw new CliException(ExitCode.NO_HOST, "the host is shutting down");
            }
            HostedMount there = mounts.get(dir);
            if (there != null || opening.contains(dir)) {
                throw new CliException(ExitCode.MOUNT, "mount directory " + dir + " is already a mount point (this"
                        + " host serves " + (there != null ? "namespace " + there.namespace() : "a mount being opened")
                        + " there)");
            }
            opening.add(dir);
        }
        NamespaceMount opened = null;
        HostedMount hosted = null;
        long start = System.nanoTime();
        try {
            opened = resources.open(settings, passphrases, ownerUid, ownerGid);
        } finally {
            synchronized (this) {
                opening.remove(dir);
                if (opened != null && !closing) {
                    hosted = new HostedMount(opened, opened.namespace(), dir, Instant.now(), ownerUid,
                            settings.readOnly(), origin);
                    mounts.put(dir, hosted);
                    failures.remove(dir);
                }
                notifyAll();
            }
        }
        if (hosted == null) {
            closeQuietly(opened);
            resources.release(opened);
            throw new CliException(ExitCode.NO_HOST, "the host is shutting down");
        }
        if (socket != null) {
            MountRegistry.registerHosted(dir, socket);
        }
        HostedMount watched = hosted;
        // A virtual thread: an idle mount must cost the host no thread of its own.
        Thread.ofVirtual().name("watch-" + hosted.namespace()).start(() -> watch(watched));
        long keyNanos = opened.keyNanos();
        log.info("namespace {} mounted on {} for uid {} ({}) in {} ms after its key (derived in {} ms)",
                hosted.namespace(), dir, ownerUid, origin, millis(System.nanoTime() - start - keyNanos), millis(keyNanos));
        return hosted;
    }

    /** The mount on {@code dir}, if this host serves one there. */
    public synchronized HostedMount mountOn(Path dir) {
        return mounts.get(dir.toAbsolutePath().normalize());
    }

    /**
     * Unmounts {@code dir} as {@code sqlitesuperfs unmount} does a standalone mount: refused while
     * it is busy, else unmounted, everything stored and the namespace released before this returns.
     */
    public void unmount(Path dir) {
        HostedMount hosted = mountOn(dir);
        if (hosted == null) {
            throw new CliException(ExitCode.MOUNT, dir + " is not mounted by this host");
        }
        if (!hosted.startRetiring()) {
            throw new CliException(ExitCode.MOUNT, dir + " is being unmounted already");
        }
        try {
            FuseSession.unmountDirectory(hosted.directory(), NamespaceMount.SUBTYPE);
        } catch (MountException e) {
            hosted.stopRetiring();
            throw new CliException(ExitCode.MOUNT, e.getMessage());
        }
        retire(hosted);
    }

    /** Waits for the mount's end; one that nobody here asked for was unmounted from outside. */
    private void watch(HostedMount hosted) {
        try {
            hosted.mount().awaitUnmount();
        } catch (InterruptedException e) {
            return;
        }
        if (hosted.startRetiring()) {
            log.info("namespace {} on {} was unmounted from outside the host; storing what it held",
                    hosted.namespace(), hosted.directory());
            try {
                retire(hosted);
            } catch (CliException e) {
                log.error("{}", e.getMessage());
            }
        }
    }

    /** Stores everything, unmounts (if still mounted) and forgets the mount, whatever fails. */
    private void retire(HostedMount hosted) {
        try {
            hosted.mount().close();
        } catch (RuntimeException e) {
            log.error("namespace {} on {}: storing what it held at unmount failed: {}", hosted.namespace(),
                    hosted.directory(), e.getMessage());
            throw new CliException(ExitCode.of(e), "namespace " + hosted.namespace() + " on " + hosted.directory()
                    + ": storing what it held at unmount failed: " + e.getMessage());
        } finally {
            synchronized (this) {
                mounts.remove(hosted.directory(), hosted);
            }
            resources.release(hosted.mount());
            MountRegistry.unregister(hosted.directory());
        }
    }

    /** Records that a namespace of the configuration did not mount at start, for status. */
    synchronized void recordFailure(String namespace, Path dir, String origin, ExitCode code, String message) {
        failures.put(dir.toAbsolutePath().normalize(),
                NamespaceStatus.failed(namespace, dir.toAbsolutePath().normalize(), origin, code, message));
    }

    /** What the namespaces share, and how much of it is in use (see {@link HostResources#figures}). */
    public Map<String, Object> figures() {
        return resources.figures();
    }

    /** The text of a metrics scrape: the host's figures and each mounted namespace's counters. */
    public String metricsText() {
        List<HostMetrics.Namespace> namespaces = new ArrayList<>();
        synchronized (this) {
            for (HostedMount hosted : mounts.values()) {
                namespaces.add(new HostMetrics.Namespace(hosted.namespace(), hosted.mount().filesystem().metrics(),
                        hosted.mount().storeMetrics(), hosted.mount().requestCounts().byOpcode()));
            }
        }
        return HostMetrics.render(resources.metrics(), namespaces);
    }

    /** What the host serves, in the order mounted, then what failed at start. */
    public synchronized List<NamespaceStatus> status() {
        List<NamespaceStatus> list = new ArrayList<>();
        for (HostedMount hosted : mounts.values()) {
            list.add(NamespaceStatus.mounted(hosted));
        }
        list.addAll(failures.values());
        return list;
    }

    /**
     * Stores everything and unmounts every namespace, all at once, each on its own so that one
     * that fails (logged) does not keep the others from being stored; waits first for mounts
     * being opened. Returns whether every namespace was stored and unmounted. Later calls return
     * at once (with true).
     */
    public boolean shutDown() {
        List<HostedMount> all;
        synchronized (this) {
            if (closing) {
                return true;
            }
            closing = true;
            while (!opening.isEmpty()) {
                try {
                    wait();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
            all = new ArrayList<>(mounts.values());
        }
        if (!all.isEmpty()) {
            log.info("storing and unmounting {} namespace{}", all.size(), all.size() == 1 ? "" : "s");
        }
        List<Thread> closers = new ArrayList<>();
        boolean[] failed = new boolean[all.size()];
        for (int i = 0; i < all.size(); i++) {
            HostedMount hosted = all.get(i);
            int index = i;
            closers.add(Thread.ofPlatform().name("close-" + hosted.namespace()).start(() -> {
                hosted.startRetiring();
                try {
                    retire(hosted);
                } catch (RuntimeException e) {
                    failed[index] = true;
                }
            }));
        }
        boolean allStored = true;
        for (int i = 0; i < closers.size(); i++) {
            try {
                closers.get(i).join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            allStored &= !failed[i];
        }
        resources.close();
        return allStored;
    }

    /** {@link #shutDown}, for try-with-resources. */
    @Override
    public void close() {
        shutDown();
    }

    private static void closeQuietly(NamespaceMount mount) {
        if (mount == null) {
            return;
        }
        try {
            mount.close();
        } catch (RuntimeException e) {
            log.error("namespace {}: closing a mount the host no longer wanted failed: {}", mount.namespace(),
                    e.getMessage());
        }
    }

    private static String millis(long nanos) {
        return String.format(java.util.Locale.ROOT, "%.1f", nanos / 1e6);
    }
}
