package dev.sqlitesuperfs.testing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.cli.ExitCode;
import dev.sqlitesuperfs.store.DatabaseConfig;
import dev.sqlitesuperfs.store.NamespaceName;
import dev.sqlitesuperfs.store.NamespaceStore;
import dev.sqlitesuperfs.store.PgNamespaceStore;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * A fresh namespace mounted by the real command line in a separate process, on the test
 * PostgreSQL, so that a test can kill the mount with SIGKILL and mount the namespace again.
 *
 * <p>Also what a test needs that maps a file of the mount into its own memory: a page fault on a
 * mapping of a FUSE file holds the faulting process's memory map lock until the mount answers,
 * and a mount in the same process may need that lock itself (a new thread's stack, malloc growing
 * an arena, the JIT): with {@link TestMount} in the same JVM that deadlocks, now and then.
 */
public final class CliMount implements AutoCloseable {
    public static final Duration READY = Duration.ofSeconds(60);
    /**
     * How long a mount or fsck right after a SIGKILL may find the namespace still locked: the killed
     * process's PostgreSQL backend holds the namespace lock until it notices its client is gone.
     */
    private static final Duration LOCK_RELEASE = Duration.ofSeconds(30);
    private static final String PASSPHRASE = "a passphrase for the crash tests";

    /** Where the output of every mount process goes when it ends, one file per process. */
    private static final Path LOGS = Path.of("target", "cli-mount-logs").toAbsolutePath();

    private final String namespace;
    private final Path dir;
    private final List<String> options;
    /** The database, as a URL for the command line and as the tests' own configuration. */
    private final String url;
    private final DatabaseConfig database;
    private CliProcess process;
    private int mounts;

    private CliMount(Path dir, List<String> options, String url, DatabaseConfig database) {
        this(TestPostgres.freshNamespace(), dir, options, url, database);
    }

    private CliMount(String namespace, Path dir, List<String> options, String url, DatabaseConfig database) {
        this.namespace = namespace;
        this.dir = dir;
        this.options = options;
        this.url = url;
        this.database = database;
    }

    /** Mounts a fresh namespace with mount {@code options} (for example "--db-timeout", "3"). */
    public static CliMount fresh(String... options) {
        return freshIn(TestPostgres.url(), options);
    }

    /** Mounts a fresh namespace stored in the database at {@code url} (a URL of several servers, say). */
    public static CliMount freshIn(String url, String... options) {
        try {
            CliMount mount = new CliMount(Files.createTempDirectory("sqlitesuperfs-crash-mnt-"), List.of(options), url,
                    DatabaseConfig.parse(url));
            System.out.println("cli mount: namespace " + mount.namespace + ", the log of each mount in "
                    + LOGS.resolve(mount.namespace + "-N.log"));
            mount.mount();
            return mount;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * The same namespace mounted {@code --read-only} on another directory while this mount writes
     * it: a follower of its commits.
     */
    public CliMount follower(String... moreOptions) {
        List<String> followerOptions = new ArrayList<>(options);
        followerOptions.add("--read-only");
        followerOptions.addAll(List.of(moreOptions));
        try {
            CliMount follower = new CliMount(namespace, Files.createTempDirectory("sqlitesuperfs-follower-mnt-"),
                    followerOptions, url, database);
            follower.mount();
            return follower;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public String namespace() {
        return namespace;
    }

    public Path path(String relative) {
        return dir.resolve(relative);
    }

    /** The mount directory. */
    public Path root() {
        return dir;
    }

    /** Unmounts cleanly (SIGTERM) and mounts the namespace again. */
    public void remount() {
        unmount();
        mount();
    }

    /** The stored namespace's consistency problems; the namespace must not be mounted. */
    public List<String> check() {
        try (NamespaceStore store = PgNamespaceStore.open(database, NamespaceName.parse(namespace), true)) {
            return store.check();
        }
    }

    /** The environment the command line reads the database and the passphrase from. */
    private Map<String, String> env() {
        return env(url);
    }

    /** The same for a command on the database at {@code otherUrl}. */
    public static Map<String, String> env(String otherUrl) {
        return Map.of("psql_url", otherUrl, "encryption_pass", PASSPHRASE);
    }

    /** Mounts the namespace again (after {@link #kill} or {@link #unmount}) and waits until it serves. */
    public void mount() {
        List<String> args = new ArrayList<>(List.of("mount", "--kdf", "interactive"));
        args.addAll(options);
        args.add(namespace);
        args.add(dir.toString());
        process = untilTheLockIsReleased(() -> CliProcess.start(env(), args.toArray(String[]::new)), started -> {
            try {
                started.awaitMounted(READY);
                return false;
            } catch (AssertionError notMounted) {
                if (!started.isAlive() && started.exitCode() == ExitCode.BUSY.code()) {
                    return true;
                }
                throw notMounted;
            }
        });
    }

    /** What the running mount has written to stdout and stderr so far (its log). */
    public String output() {
        return process.stdout() + process.stderr();
    }

    /** SIGKILL to the mount process; then the dead mount is detached (umount -l). */
    public void kill() {
        process.signal("KILL");
        process.waitFor(READY);
        keepLog(process);
        process = null;
        Shell.run("umount", "-l", dir.toString());
    }

    /** SIGTERM: unmounts cleanly, which must store everything and exit 0. */
    public void unmount() {
        process.signal("TERM");
        int exitCode = process.waitFor(READY);
        keepLog(process);
        assertThat(exitCode).as("exit code of a cleanly unmounted mount\n%s", process.stderr()).isZero();
        process = null;
    }

    /** Runs {@code sqlitesuperfs fsck} on the namespace, which must not be mounted, and asserts it is clean. */
    public void assertFsckClean() {
        CliProcess fsck = untilTheLockIsReleased(() -> CliProcess.run(env(), READY, "fsck", namespace),
                finished -> finished.exitCode() == ExitCode.BUSY.code());
        assertThat(fsck.exitCode()).as("fsck of %s:\n%s%s", namespace, fsck.stdout(), fsck.stderr()).isZero();
    }

    /**
     * Starts {@code attempt} again while {@code busy} says the namespace was still locked, for at
     * most {@link #LOCK_RELEASE}; any other outcome is returned.
     */
    private static CliProcess untilTheLockIsReleased(Supplier<CliProcess> attempt,
            Predicate<CliProcess> busy) {
        long deadline = System.nanoTime() + LOCK_RELEASE.toNanos();
        while (true) {
            CliProcess started = attempt.get();
            if (!busy.test(started)) {
                return started;
            }
            started.close();
            if (System.nanoTime() > deadline) {
                throw new AssertionError("namespace still locked " + LOCK_RELEASE + " after the mount was killed:\n"
                        + started.stderr());
            }
            System.out.println("crash: namespace still locked by the killed mount's backend, trying again");
            sleep(Duration.ofMillis(200));
        }
    }

    /** Saves the output of a mount process that ended (or is about to be killed) for a later look. */
    private void keepLog(CliProcess ended) {
        try {
            Files.createDirectories(LOGS);
            String kind = options.contains("--read-only") ? "-follower" : "";
            Files.writeString(LOGS.resolve(namespace + kind + "-" + ++mounts + ".log"), ended.stdout() + ended.stderr());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void sleep(Duration duration) {
        try {
            Thread.sleep(duration);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted");
        }
    }

    /** Kills a mount still running, detaches the mount if it is still there, removes the directory. */
    @Override
    public void close() {
        if (process != null) {
            keepLog(process);
            process.close();
            process = null;
        }
        Shell.unmountLazilyIfMounted(dir);
        try {
            Files.deleteIfExists(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
