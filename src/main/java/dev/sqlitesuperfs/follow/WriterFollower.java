package dev.sqlitesuperfs.follow;

import dev.sqlitesuperfs.fs.Filesystem;
import dev.sqlitesuperfs.sealed.SealedNamespace;
import dev.sqlitesuperfs.store.NamespaceStore;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps a read-only mount on its namespace's newest commit. Every interval it asks PostgreSQL for
 * the newest commit number (one indexed read, outside the mount's snapshot); when that moved, it
 * takes one step: once no reader is inside a transaction (the filesystem's POSIX locks, which
 * SQLite takes for each read transaction), the filesystem stops requests, the sealed namespace
 * moves the snapshot to the newest commit and checks that commit's seal over the inodes it shows,
 * the filesystem reloads the inodes that changed, requests go on, and the kernel drops what it
 * cached of them before a transaction may start again. So readers see the writer's commits whole
 * and in order, several at once when they come faster than the interval, never a part of one and
 * never an older one after a newer; a SQLite read transaction sees one state from its start to its
 * end.
 *
 * <p>A step that fails (PostgreSQL away, a seal that does not match, a commit older than one
 * already followed) is logged and tried again at the next interval; meanwhile reads of what the
 * failed step would have changed fail (ETIMEDOUT while PostgreSQL is away, EIO otherwise), and
 * the rest is served as it was.
 */
public final class WriterFollower implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(WriterFollower.class);

    private final String namespace;
    private final NamespaceStore store;
    private final SealedNamespace opened;
    private final Filesystem filesystem;
    private final Duration interval;
    private final Thread thread;
    private volatile boolean stopped;
    /** The commit the mount serves. */
    private final AtomicLong followed = new AtomicLong();
    /**
     * A snapshot is renewed at least this often, also when the writer commits nothing: its open
     * transaction holds back PostgreSQL's vacuum and keeps the namespace's tables from being
     * dropped or altered (ns move, ns drop, upgrade) for as long as it lasts.
     */
    static final long RENEW_IDLE_NANOS = 5_000_000_000L;
    private long lastStepNanos = System.nanoTime();
    /** The last failure logged, so that a failure repeated every interval is logged once. */
    private String lastFailure;

    private WriterFollower(String namespace, NamespaceStore store, SealedNamespace opened, Filesystem filesystem,
            Duration interval) {
        this.namespace = namespace;
        this.store = store;
        this.opened = opened;
        this.filesystem = filesystem;
        this.interval = interval;
        this.followed.set(opened.followedCommit());
        this.thread = Thread.ofPlatform().daemon().name("follow-" + namespace).unstarted(this::run);
    }

    /**
     * Starts following for a mount opened read-only on a store that follows its writer
     * ({@code PgNamespaceStore.openFollower}).
     */
    public static WriterFollower start(String namespace, NamespaceStore store, SealedNamespace opened,
            Filesystem filesystem, Duration interval) {
        WriterFollower follower = new WriterFollower(namespace, store, opened, filesystem, interval);
        follower.thread.start();
        log.info("namespace {}: following its writer (every {} ms), from commit {}", namespace,
                interval.toMillis(), follower.followed.get());
        return follower;
    }

    /** The number of the commit the mount serves now. */
    public long followedCommit() {
        return followed.get();
    }

    private void run() {
        while (!stopped) {
            try {
                Thread.sleep(interval);
            } catch (InterruptedException e) {
                return;
            }
            try {
                long newest = store.newestCommit();
                // A lost snapshot is renewed as soon as the server answers again, not at the
                // next idle renewal: until then every read that needs PostgreSQL fails.
                if (newest != followed.get() || store.snapshotLost()
                        || System.nanoTime() - lastStepNanos > RENEW_IDLE_NANOS) {
                    step(newest);
                }
                if (lastFailure != null) {
                    log.info("namespace {}: following its writer again, at commit {}", namespace, followed.get());
                    lastFailure = null;
                }
            } catch (RuntimeException e) {
                if (stopped) {
                    return;
                }
                String failure = e.getMessage();
                if (!failure.equals(lastFailure)) {
                    log.error("namespace {}: cannot follow its writer past commit {}: {}", namespace,
                            followed.get(), failure);
                    lastFailure = failure;
                }
            }
        }
    }

    private void step(long newest) {
        long start = System.nanoTime();
        lastStepNanos = start;
        int changed = filesystem.followWriter(opened::followWriter, () -> stopped);
        // what the step checked, without asking PostgreSQL again
        long now = opened.followedCommit();
        followed.set(now);
        if (log.isDebugEnabled()) {
            log.debug("namespace {}: followed to commit {} (newest seen {}): {} inodes changed, {} us", namespace,
                    now, newest, changed, (System.nanoTime() - start) / 1000);
        }
    }

    @Override
    public void close() {
        stopped = true;
        thread.interrupt();
        try {
            thread.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
