package dev.sqlitesuperfs.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.sqlitesuperfs.cli.ExitCode;
import dev.sqlitesuperfs.sealed.SealedNamespaceException;
import dev.sqlitesuperfs.testing.CliProcess;
import dev.sqlitesuperfs.testing.LogCapture;
import dev.sqlitesuperfs.testing.Shell;
import dev.sqlitesuperfs.testing.TestMount;
import dev.sqlitesuperfs.testing.TestPostgres;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The attack SECURITY.md calls a rollback: whoever runs PostgreSQL puts a namespace back as an
 * earlier dump of it had it, every row consistent with the others. The freshness anchor of the
 * machine that mounted it refuses the old database (exit code 14) until its user accepts the
 * rollback on purpose.
 */
class RollbackTest {

    @TempDir
    Path tmp;

    @Test
    void aNamespaceRestoredFromAnOlderDumpIsRefusedUntilTheRollbackIsAccepted() throws Exception {
        try (TestMount mount = TestMount.fresh()) {
            Files.writeString(mount.path("balance"), "100");
            mount.unmount();
            Path dump = tmp.resolve("last-week.sql");
            pgDump(mount.namespace(), dump);
            long then = lastCommit(mount);

            mount.mountAgain();
            Files.writeString(mount.path("balance"), "0");
            mount.unmount();
            long now = lastCommit(mount);
            assertThat(now).isGreaterThan(then);

            restore(mount.namespace(), dump);
            RuntimeException refused = catchThrowableOfType(RuntimeException.class, mount::mountAgain);
            assertThat(refused).isInstanceOf(SealedNamespaceException.RolledBack.class);
            assertThat(ExitCode.of(refused)).isEqualTo(ExitCode.ROLLED_BACK);
            assertThat(refused.getMessage()).contains("namespace " + mount.namespace() + " was rolled back: its last"
                    + " commit is number " + then + ", but this machine saw commit " + now);
            // a read-only mount (a follower) gives a lagging server --db-timeout to catch up first
            long started = System.nanoTime();
            RuntimeException readOnly = catchThrowableOfType(RuntimeException.class,
                    () -> mount.sameNamespaceElsewhere("--read-only", "--db-timeout", "2").close());
            assertThat(readOnly).isInstanceOf(SealedNamespaceException.RolledBack.class);
            assertThat(System.nanoTime() - started).isGreaterThanOrEqualTo(2_000_000_000L);
            assertThat(mount.verify()).as("fsck --verify against this machine's anchor")
                    .anySatisfy(p -> assertThat(p).contains("was rolled back"));

            // the command line: one line, exit code 14, nothing mounted
            Path dir = Files.createTempDirectory("sqlitesuperfs-mnt-");
            try (CliProcess p = CliProcess.run(Map.of("psql_url", TestPostgres.url(),
                            "encryption_pass", TestMount.PASSPHRASE), Duration.ofSeconds(60),
                    "mount", "--anchor-dir", mount.anchors().toString(), mount.namespace(), dir.toString())) {
                assertThat(p.exitCode()).isEqualTo(14);
                assertThat(p.stderr().strip().lines().filter(l -> l.startsWith("sqlitesuperfs:")).toList())
                        .singleElement().asString().contains("was rolled back").contains("--accept-rollback");
            }
            assertThat(Shell.run("cat", "/proc/self/mountinfo")).doesNotContain(" " + dir + " ");

            // restored on purpose: accepted once, said in the log, and the old contents served
            try (LogCapture log = LogCapture.of(dev.sqlitesuperfs.sealed.SealedNamespace.class.getPackageName()
                    + ".Freshness");
                 TestMount accepted = mount.sameNamespaceElsewhere("--accept-rollback")) {
                assertThat(log.lines()).anySatisfy(l -> assertThat(l).contains("accepted a rollback from commit "
                        + now + " to " + then));
                assertThat(Files.readString(accepted.path("balance"))).isEqualTo("100");
                Files.writeString(accepted.path("after"), "x");
            }
            mount.mountAgain();
            assertThat(Files.readString(mount.path("balance"))).isEqualTo("100");
            assertThat(mount.path("after")).exists();
        }
    }

    /** The anchor kept by a program (the example in scripts/anchor) refuses a restored dump the same way. */
    @Test
    void anAnchorKeptByACommandRefusesARestoredDumpToo() throws Exception {
        String command = "python3 " + Path.of("scripts/anchor/anchor-file.py").toAbsolutePath() + " "
                + tmp.resolve("kept");
        try (TestMount mount = TestMount.fresh("--anchor-command", command)) {
            Files.writeString(mount.path("f"), "1");
            mount.unmount();
            Path dump = tmp.resolve("dump.sql");
            pgDump(mount.namespace(), dump);
            mount.mountAgain();
            Files.writeString(mount.path("f"), "2");
            mount.unmount();
            restore(mount.namespace(), dump);
            // fsck --verify asks the same program
            CliProcess fsck = CliProcess.run(Map.of("psql_url", TestPostgres.url(), "encryption_pass",
                    TestMount.PASSPHRASE), Duration.ofSeconds(120), "fsck", "--verify", "--anchor-command", command,
                    mount.namespace());
            assertThat(fsck.exitCode()).as(fsck.stdout() + fsck.stderr()).isNotZero();
            assertThat(fsck.stdout() + fsck.stderr()).contains("anchor command python3");
            RuntimeException refused = catchThrowableOfType(RuntimeException.class, mount::mountAgain);
            assertThat(refused).isInstanceOf(SealedNamespaceException.RolledBack.class);
            assertThat(refused.getMessage()).contains("(anchor command python3");
        }
    }

    /** Commits made elsewhere (another machine's mount) put the database ahead of this anchor: no alarm. */
    @Test
    void aDatabaseAheadOfThisMachinesAnchorIsMounted() throws IOException {
        try (TestMount mount = TestMount.fresh()) {
            Files.writeString(mount.path("a"), "1");
            mount.unmount();
            Path elsewhere = Files.createTempDirectory(mount.anchors().getParent(), "elsewhere-");
            try (TestMount other = mount.sameNamespaceElsewhere("--anchor-dir", elsewhere.toString())) {
                Files.writeString(other.path("a"), "2");
            }
            mount.mountAgain();
            assertThat(Files.readString(mount.path("a"))).isEqualTo("2");
        }
    }

    /**
     * One file's rows (its inode row and its blocks) put back as an earlier commit left them, all
     * consistent with each other, while the rest of the namespace stays current: refused by the
     * next mount (the inodes no longer add up to the last commit's seal, exit 10), listed by
     * {@code fsck --verify}, and, under a running mount, refused with EIO as the file is read again.
     */
    @Test
    void oneFilePutBackAsAnEarlierCommitLeftItIsRefused() throws Exception {
        try (TestMount mount = TestMount.fresh()) {
            Files.writeString(mount.path("ledger"), "balance 100");
            Files.writeString(mount.path("other"), "untouched");
            long ledger = dev.sqlitesuperfs.testing.Posix.lstat(mount.path("ledger")).ino();
            mount.unmount();
            String saved = saveRows(mount.namespace(), ledger);
            mount.mountAgain();
            Files.writeString(mount.path("ledger"), "balance 0, spent");
            mount.unmount();

            putRowsBack(mount.namespace(), ledger, saved);
            RuntimeException refused = catchThrowableOfType(RuntimeException.class, mount::mountAgain);
            assertThat(refused).isInstanceOf(dev.sqlitesuperfs.sealed.TamperedException.class);
            assertThat(ExitCode.of(refused)).isEqualTo(ExitCode.DAMAGED);
            assertThat(refused.getMessage()).contains("namespace " + mount.namespace() + ": its inodes")
                    .contains("are not what that commit sealed");
            assertThat(mount.verify()).anySatisfy(p -> assertThat(p).contains("are not what that commit sealed"));

            // taken as it is on purpose (the owner salvages what is there); the next commit seals it
            try (TestMount accepted = mount.sameNamespaceElsewhere("--accept-rollback")) {
                assertThat(Files.readString(accepted.path("ledger"))).isEqualTo("balance 100");
                Files.writeString(accepted.path("note"), "restored");
            }
            mount.mountAgain();
            assertThat(Files.readString(mount.path("other"))).isEqualTo("untouched");

            // under a running mount: the file's rows put back, the kernel made to forget it
            String current = saveRows(mount.namespace(), ledger);
            writeDurably(mount.path("ledger"), "balance 50");
            writeDurably(mount.path("sync"), "x"); // another commit, so that the ledger's is not the last
            String authOf = "SELECT auth FROM \"" + mount.namespace() + "\".inodes WHERE ino = ?";
            assertThat(TestPostgres.queryBytes(authOf, ledger)).as("the new version is stored")
                    .isNotEqualTo(TestPostgres.queryBytes(authOf.replace("\"" + mount.namespace() + "\".inodes",
                            current + ".inode"), ledger));
            putRowsBack(mount.namespace(), ledger, current);
            // the kernel forgets in its own time: a deadline meant for a busy machine
            long deadline = System.currentTimeMillis() + 120_000;
            while (mount.fs().holds(ledger) && System.currentTimeMillis() < deadline) {
                Shell.run("sh", "-c", "sync; echo 2 > /proc/sys/vm/drop_caches");
                Thread.sleep(200);
            }
            assertThat(mount.fs().holds(ledger)).as("the kernel forgot the file").isFalse();
            assertThat(dev.sqlitesuperfs.testing.Posix.errnoOf(() -> dev.sqlitesuperfs.testing.Posix.lstat(mount.path("ledger"))))
                    .isEqualTo(dev.sqlitesuperfs.fuse.Errno.EIO);
            assertThat(Files.readString(mount.path("other"))).isEqualTo("untouched");
        }
    }

    private static void writeDurably(Path file, String content) throws IOException {
        try (var channel = java.nio.channels.FileChannel.open(file, java.nio.file.StandardOpenOption.CREATE,
                java.nio.file.StandardOpenOption.WRITE, java.nio.file.StandardOpenOption.TRUNCATE_EXISTING)) {
            channel.write(java.nio.ByteBuffer.wrap(content.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
            channel.force(true);
        }
    }

    /** Copies inode {@code ino}'s row and blocks aside, into a schema of their own; returns its name. */
    static String saveRows(String namespace, long ino) {
        String side = TestPostgres.freshNamespace();
        TestPostgres.execute("CREATE SCHEMA " + side);
        TestPostgres.execute("CREATE TABLE " + side + ".inode AS SELECT * FROM \"" + namespace + "\".inodes WHERE ino = ?",
                ino);
        TestPostgres.execute("CREATE TABLE " + side + ".blocks AS SELECT ino, idx, data FROM \"" + namespace
                + "\".blocks WHERE ino = ?", ino);
        return side;
    }

    /** Puts inode {@code ino}'s row and blocks back as {@link #saveRows} kept them. */
    static void putRowsBack(String namespace, long ino, String side) {
        String ns = "\"" + namespace + "\"";
        TestPostgres.execute("DELETE FROM " + ns + ".blocks WHERE ino = ?", ino);
        TestPostgres.execute("INSERT INTO " + ns + ".blocks (ino, idx, data) SELECT ino, idx, data FROM " + side
                + ".blocks");
        TestPostgres.execute("UPDATE " + ns + ".inodes i SET mode = s.mode, uid = s.uid, gid = s.gid, nlink = s.nlink,"
                + " size = s.size, nblocks = s.nblocks, rdev = s.rdev, atime_ns = s.atime_ns, mtime_ns = s.mtime_ns,"
                + " ctime_ns = s.ctime_ns, auth = s.auth FROM " + side + ".inode s WHERE i.ino = s.ino");
    }

    private static long lastCommit(TestMount mount) {
        return TestPostgres.queryLong("SELECT last_commit FROM \"" + mount.namespace() + "\".meta");
    }

    private static void pgDump(String namespace, Path file) throws IOException {
        Shell.run(tool("pg_dump").toString(), "--dbname=" + TestPostgres.url(), "--schema=" + namespace,
                "--file=" + file);
    }

    /** What an operator restoring a dump does: the schema dropped and loaded again from the dump. */
    private static void restore(String namespace, Path file) {
        TestPostgres.execute("DROP SCHEMA \"" + namespace + "\" CASCADE");
        Shell.run(tool("psql").toString(), "--quiet", "--set=ON_ERROR_STOP=1", "--dbname=" + TestPostgres.url(),
                "--file=" + file);
    }

    /** A PostgreSQL client program of the newest version installed (the test server's is one of them). */
    private static Path tool(String name) {
        try (Stream<Path> versions = Files.list(Path.of("/usr/lib/postgresql"))) {
            return versions.map(v -> v.resolve("bin").resolve(name)).filter(Files::isExecutable)
                    .max(Comparator.comparing(p -> Integer.parseInt(p.getParent().getParent().getFileName().toString())))
                    .orElseThrow(() -> new IllegalStateException("no " + name + " under /usr/lib/postgresql"));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
