package dev.sqlitesuperfs.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.cli.ExitCode;
import dev.sqlitesuperfs.testing.CliProcess;
import dev.sqlitesuperfs.testing.Shell;
import dev.sqlitesuperfs.testing.TestPostgres;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The program as users run it: a separate process, its output, its exit codes, signals, kill -9,
 * a second mount of the same namespace, another user.
 */
class CommandLineTest {
    static final Duration READY = Duration.ofSeconds(60);
    static final String PASS = "a passphrase for the command line tests";

    Path dir;
    String namespace;

    @BeforeEach
    void setUp() throws IOException {
        dir = Files.createTempDirectory("sqlitesuperfs-cli-");
        namespace = TestPostgres.freshNamespace();
    }

    @AfterEach
    void tearDown() throws IOException {
        // A mount killed with SIGKILL stays in the kernel's table until unmounted.
        Shell.run("sh", "-c", "grep -q ' " + dir + " ' /proc/self/mountinfo && umount -l '" + dir + "' || true");
        Files.deleteIfExists(dir);
    }

    static Map<String, String> env(String passphrase) {
        return Map.of("psql_url", TestPostgres.url(), "encryption_pass", passphrase);
    }

    CliProcess mount(String passphrase, String... extra) {
        String[] args = new String[extra.length + 5];
        args[0] = "mount";
        args[1] = "--kdf";
        args[2] = "interactive";
        System.arraycopy(extra, 0, args, 3, extra.length);
        args[extra.length + 3] = namespace;
        args[extra.length + 4] = dir.toString();
        return CliProcess.start(env(passphrase), args);
    }

    @Test
    void helpAndVersion() {
        CliProcess help = CliProcess.run(Map.of(), READY, "--help");
        assertThat(help.exitCode()).isZero();
        assertThat(help.stdout()).contains("mount [options] NAMESPACE DIR");
        CliProcess mountHelp = CliProcess.run(Map.of(), READY, "mount", "--help");
        assertThat(mountHelp.stdout()).contains("--passphrase-file", "--block-size", "--read-only");
        CliProcess version = CliProcess.run(Map.of(), READY, "--version");
        assertThat(version.stdout()).startsWith("sqlitesuperfs ");
    }

    @Test
    void badInputGetsOneLineAndADistinctExitCode() {
        CliProcess badName = CliProcess.run(env(PASS), READY, "mount", "Bad\"Name;--", dir.toString());
        assertThat(badName.exitCode()).isEqualTo(ExitCode.USAGE.code());
        assertThat(badName.stderr().lines()).hasSize(1);
        assertThat(badName.stderr()).doesNotContain("Exception", "\tat ");

        CliProcess noDir = CliProcess.run(env(PASS), READY, "mount", namespace, dir.resolve("missing").toString());
        assertThat(noDir.exitCode()).isEqualTo(ExitCode.MOUNT.code());
        assertThat(noDir.stderr()).contains("does not exist").doesNotContain("\tat ");

        CliProcess unknown = CliProcess.run(env(PASS), READY, "mount", "--frobnicate", namespace, dir.toString());
        assertThat(unknown.exitCode()).isEqualTo(ExitCode.USAGE.code());

        CliProcess badBlock = CliProcess.run(env(PASS), READY, "mount", "--block-size", "3000", namespace, dir.toString());
        assertThat(badBlock.exitCode()).isEqualTo(ExitCode.USAGE.code());

        CliProcess noDb = CliProcess.run(Map.of("psql_url", "postgresql://nobody:x@127.0.0.1:1/none", "encryption_pass", PASS),
                READY, "mount", "--db-timeout", "2", namespace, dir.toString());
        assertThat(noDb.exitCode()).isEqualTo(ExitCode.DATABASE.code());
        assertThat(noDb.stderr().lines()).hasSize(1);
    }

    @Test
    void mountPrintsMountedAndSigtermUnmountsWithExitZeroAfterStoringEverything() throws Exception {
        try (CliProcess p = mount(PASS)) {
            p.awaitMounted(READY);
            assertThat(p.stdout()).contains("mounted");
            Files.writeString(dir.resolve("kept.txt"), "written just before SIGTERM");
            p.signal("TERM");
            assertThat(p.waitFor(READY)).isZero();
        }
        assertThat(Shell.run("cat", "/proc/self/mountinfo")).doesNotContain(" " + dir + " ");
        try (CliProcess p = mount(PASS)) {
            p.awaitMounted(READY);
            assertThat(Files.readString(dir.resolve("kept.txt"))).isEqualTo("written just before SIGTERM");
            p.signal("INT");
            assertThat(p.waitFor(READY)).isZero();
        }
    }

    @Test
    void unmountCommandAndUmountFromOutsideEndTheProcessCleanly() throws Exception {
        try (CliProcess p = mount(PASS)) {
            p.awaitMounted(READY);
            Files.writeString(dir.resolve("a"), "a");
            CliProcess un = CliProcess.run(Map.of(), READY, "unmount", dir.toString());
            assertThat(un.exitCode()).as(un.stderr()).isZero();
            assertThat(p.waitFor(READY)).isZero();
        }
        try (CliProcess p = mount(PASS)) {
            p.awaitMounted(READY);
            assertThat(Files.readString(dir.resolve("a"))).isEqualTo("a");
            Shell.run("umount", dir.toString());
            assertThat(p.waitFor(READY)).isZero();
        }
    }

    @Test
    void wrongPassphraseIsRefusedBeforeAnythingIsMounted() throws Exception {
        try (CliProcess p = mount(PASS)) {
            p.awaitMounted(READY);
            p.signal("TERM");
            p.waitFor(READY);
        }
        try (CliProcess wrong = mount("not the passphrase")) {
            assertThat(wrong.waitFor(READY)).isEqualTo(ExitCode.PASSPHRASE.code());
            assertThat(wrong.stderr()).contains("wrong passphrase").doesNotContain("\tat ");
        }
        assertThat(Shell.run("cat", "/proc/self/mountinfo")).doesNotContain(" " + dir + " ");
    }

    @Test
    void secondMountOfTheSameNamespaceIsRefusedAtOnce() throws Exception {
        Path other = Files.createTempDirectory("sqlitesuperfs-cli-other-");
        try (CliProcess first = mount(PASS)) {
            first.awaitMounted(READY);
            CliProcess second = CliProcess.run(env(PASS), READY, "mount", "--kdf", "interactive", namespace, other.toString());
            assertThat(second.exitCode()).isEqualTo(ExitCode.BUSY.code());
            assertThat(second.stderr()).contains("already mounted");
            first.signal("TERM");
            assertThat(first.waitFor(READY)).isZero();
        } finally {
            Files.deleteIfExists(other);
        }
    }

    /** kill -9 right after COMMITs: every committed row is there after the next mount. */
    @Test
    void killDashNineLosesNoCommittedTransaction() throws Exception {
        Path db = dir.resolve("crash.db");
        int committed = 0;
        try (CliProcess p = mount(PASS)) {
            p.awaitMounted(READY);
            try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db); Statement s = c.createStatement()) {
                s.execute("PRAGMA journal_mode=DELETE");
                s.execute("PRAGMA synchronous=FULL");
                s.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)");
                for (int i = 1; i <= 200; i++) {
                    s.execute("INSERT INTO t VALUES (" + i + ", 'row " + i + "')");
                    committed = i;
                }
                p.signal("KILL");
                p.waitFor(READY);
            } catch (java.sql.SQLException afterKill) {
                // the connection may notice the dead mount; what counts is what committed before
            }
        }
        Shell.run("umount", "-l", dir.toString());
        try (CliProcess p = mount(PASS)) {
            p.awaitMounted(READY);
            try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db); Statement s = c.createStatement()) {
                try (ResultSet rs = s.executeQuery("PRAGMA integrity_check")) {
                    rs.next();
                    assertThat(rs.getString(1)).isEqualTo("ok");
                }
                try (ResultSet rs = s.executeQuery("SELECT count(*) FROM t")) {
                    rs.next();
                    assertThat(rs.getInt(1)).isEqualTo(committed);
                }
            }
            p.signal("TERM");
            assertThat(p.waitFor(READY)).isZero();
        }
        CliProcess fsck = CliProcess.run(env(PASS), READY, "fsck", namespace);
        assertThat(fsck.exitCode()).as(fsck.stdout() + fsck.stderr()).isZero();
    }

    /** An unlinked file still open when the process dies is reclaimed by the next mount. */
    @Test
    void orphansLeftByACrashAreReclaimedAtTheNextMount() throws Exception {
        try (CliProcess p = mount(PASS)) {
            p.awaitMounted(READY);
            Path f = dir.resolve("orphan");
            Files.write(f, new byte[50_000]);
            try (var ch = java.nio.channels.FileChannel.open(f, java.nio.file.StandardOpenOption.READ)) {
                Files.delete(f);
                p.signal("KILL");
                p.waitFor(READY);
            } catch (IOException closedUnderUs) {
                // the mount is gone; the kernel may refuse the close
            }
        }
        Shell.run("umount", "-l", dir.toString());
        assertThat(TestPostgres.queryLong("SELECT count(*) FROM \"" + namespace + "\".inodes WHERE nlink = 0")).isEqualTo(1);
        try (CliProcess p = mount(PASS)) {
            p.awaitMounted(READY);
            assertThat(TestPostgres.queryLong("SELECT count(*) FROM \"" + namespace + "\".inodes WHERE nlink = 0")).isZero();
            assertThat(TestPostgres.queryLong("SELECT count(*) FROM \"" + namespace + "\".blocks")).isZero();
            p.signal("TERM");
            p.waitFor(READY);
        }
    }

    /** Not root: the mount goes through fusermount3, files belong to that user. */
    @Test
    void anUnprivilegedUserMountsThroughFusermount() throws Exception {
        // Debian's udev makes /dev/fuse usable by everyone (0666); some virtual machines do not.
        Shell.run("chmod", "0666", "/dev/fuse");
        Shell.run("chown", "65534:65534", dir.toString());
        Path passFile = Files.createTempFile("pass", ".txt");
        Files.writeString(passFile, PASS + "\n");
        Shell.run("chmod", "0644", passFile.toString());
        try (CliProcess p = CliProcess.startAs("65534:65534", Map.of("psql_url", TestPostgres.url()),
                "mount", "--kdf", "interactive", "--passphrase-file", passFile.toString(), namespace, dir.toString())) {
            p.awaitMounted(READY);
            Shell.run("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-c",
                    "echo hello > '" + dir + "/mine' && test \"$(cat '" + dir + "/mine')\" = hello");
            // Without --allow-other only the mount's owner gets in, not even root.
            assertThat(Shell.run("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                    "stat", "-c", "%u:%g", dir.resolve("mine").toString()).trim()).isEqualTo("65534:65534");
            assertThat(Shell.run("sh", "-c", "stat '" + dir + "/mine' 2>&1 || echo denied")).contains("denied");
            assertThat(Shell.run("cat", "/proc/self/mountinfo")).contains(" " + dir + " ");
            CliProcess un = CliProcess.startAs("65534:65534", Map.of(), "unmount", dir.toString());
            assertThat(un.waitFor(READY)).as(un.stderr()).isZero();
            assertThat(p.waitFor(READY)).isZero();
        } finally {
            Files.deleteIfExists(passFile);
        }
    }

    /** No --db and no psql_url: a local PostgreSQL is started, keeps its data, and stops with the mount. */
    @Test
    void withoutADatabaseALocalPostgresServesTheMount() throws Exception {
        Path state = Files.createTempDirectory("sqlitesuperfs-state-");
        try {
            String[] args = {"mount", "--kdf", "interactive", "--state-dir", state.toString(), namespace, dir.toString()};
            try (CliProcess p = CliProcess.start(Map.of("encryption_pass", PASS), args)) {
                p.awaitMounted(READY);
                assertThat(p.stdout()).contains("using local PostgreSQL with data in " + state);
                Files.writeString(dir.resolve("f"), "kept by the local server");
                p.signal("TERM");
                assertThat(p.waitFor(READY)).as(p.stderr()).isZero();
            }
            assertThat(Files.exists(state.resolve("pg/data/postmaster.pid"))).as("server stopped").isFalse();
            try (CliProcess p = CliProcess.start(Map.of("encryption_pass", PASS), args)) {
                p.awaitMounted(READY);
                assertThat(Files.readString(dir.resolve("f"))).isEqualTo("kept by the local server");
                p.signal("TERM");
                assertThat(p.waitFor(READY)).isZero();
            }
        } finally {
            TestPostgres.deleteRecursively(state);
        }
    }

    /** On a terminal the passphrase is asked for, twice for a new namespace, and never echoed. */
    @Test
    void thePassphraseIsAskedForOnATerminal() throws Exception {
        try (CliProcess p = CliProcess.startOnTerminal(Map.of("psql_url", TestPostgres.url()),
                "mount", "--kdf", "interactive", namespace, dir.toString())) {
            p.awaitOutput("Passphrase for namespace", READY);
            p.type("typed at the prompt\n");
            p.awaitOutput("repeat the passphrase", READY);
            p.type("typed at the prompt\n");
            p.awaitMounted(READY);
            assertThat(p.stdout()).contains("Passphrase for namespace " + namespace, "repeat the passphrase")
                    .doesNotContain("typed at the prompt");
            Shell.run("umount", dir.toString());
            assertThat(p.waitFor(READY)).isZero();
        }
        try (CliProcess wrong = CliProcess.startOnTerminal(Map.of("psql_url", TestPostgres.url()),
                "mount", "--kdf", "interactive", namespace, dir.toString())) {
            wrong.awaitOutput("Passphrase for namespace", READY);
            wrong.type("another one\n");
            assertThat(wrong.waitFor(READY)).isEqualTo(ExitCode.PASSPHRASE.code());
            assertThat(wrong.stdout()).contains("wrong passphrase");
        }
    }

    /** --mkdir creates a missing mount directory, parents included; without it, a clear refusal. */
    @Test
    void mkdirCreatesAMissingMountDirectory() throws Exception {
        Path missing = dir.resolve("not/there/yet");
        CliProcess refused = CliProcess.run(env(PASS), READY, "mount", namespace, missing.toString());
        assertThat(refused.exitCode()).isEqualTo(ExitCode.MOUNT.code());
        assertThat(refused.stderr()).contains("does not exist (--mkdir creates it)");
        try (CliProcess p = CliProcess.start(env(PASS), "mount", "--mkdir", "--kdf", "interactive", namespace,
                missing.toString())) {
            p.awaitMounted(READY);
            Files.writeString(missing.resolve("f"), "here");
            Shell.run("umount", missing.toString());
            assertThat(p.waitFor(READY)).isZero();
        } finally {
            Shell.run("sh", "-c", "grep -q ' " + missing + " ' /proc/self/mountinfo && umount -l '" + missing + "' || true");
            Shell.run("rm", "-rf", dir.resolve("not").toString());
        }
    }
}
