package dev.sqlitesuperfs.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.cli.ExitCode;
import dev.sqlitesuperfs.store.DatabaseConfig;
import dev.sqlitesuperfs.store.PgNamespaceStore;
import dev.sqlitesuperfs.testing.CliProcess;
import dev.sqlitesuperfs.testing.RewritingProxy;
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
import java.util.List;
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
        Shell.unmountLazilyIfMounted(dir);
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
            assertThat(signalMask(p.pid(), "SigCgt") & signalBit(2))
                    .as("SIGINT caught (CliProcess starts the mount with SIGINT at its default action)").isNotZero();
            p.signal("INT");
            assertThat(p.waitFor(READY)).isZero();
        }
    }

    /**
     * Started as a script starts a background job ({@code cmd &}: SIGINT ignored), and with SIGTERM
     * ignored too: SIGINT stays ignored, as the caller asked, but SIGTERM still stores everything
     * and unmounts with exit 0. The dispositions are read from /proc, not inferred from a signal
     * that had no effect within some time.
     */
    @Test
    void startedWithSigintAndSigtermIgnoredItKeepsSigintIgnoredAndStillStopsOnSigterm() throws Exception {
        try (CliProcess p = CliProcess.startWrapped(List.of("env", "--ignore-signal=INT,TERM", "--"), false, env(PASS),
                "mount", "--kdf", "interactive", namespace, dir.toString())) {
            p.awaitMounted(READY);
            Files.writeString(dir.resolve("kept.txt"), "written just before SIGTERM");
            assertThat(signalMask(p.pid(), "SigIgn") & signalBit(2)).as("SIGINT ignored").isNotZero();
            assertThat(signalMask(p.pid(), "SigCgt") & signalBit(15)).as("SIGTERM caught").isNotZero();
            p.signal("TERM");
            assertThat(p.waitFor(READY)).as(p.stderr()).isZero();
        }
        assertThat(Shell.run("cat", "/proc/self/mountinfo")).doesNotContain(" " + dir + " ");
        try (CliProcess p = mount(PASS)) {
            p.awaitMounted(READY);
            assertThat(Files.readString(dir.resolve("kept.txt"))).isEqualTo("written just before SIGTERM");
            p.signal("TERM");
            assertThat(p.waitFor(READY)).isZero();
        }
    }

    /** A signal mask of /proc/PID/status ("SigIgn", "SigCgt"): bit n-1 stands for signal n. */
    static long signalMask(long pid, String field) throws IOException {
        return Files.readAllLines(Path.of("/proc", Long.toString(pid), "status")).stream()
                .filter(line -> line.startsWith(field + ":"))
                .mapToLong(line -> Long.parseUnsignedLong(line.substring(field.length() + 1).trim(), 16))
                .findFirst().orElseThrow();
    }

    static long signalBit(int signal) {
        return 1L << (signal - 1);
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
        CliProcess verify = CliProcess.run(env(PASS), READY, "fsck", "--verify", namespace);
        assertThat(verify.exitCode()).as(verify.stdout() + verify.stderr()).isZero();
        assertThat(verify.stdout()).contains("namespace " + namespace + ": clean, every row authentic");
        CliProcess misused = CliProcess.run(env(PASS), READY, "fsck", "--anchor-dir", "/tmp", namespace);
        assertThat(misused.exitCode()).isEqualTo(ExitCode.USAGE.code());
        assertThat(misused.stderr()).contains("--anchor-dir is for --verify");
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
        // nobody's home is /nonexistent: its anchors go where it can write
        Path anchors = Files.createTempDirectory("anchors");
        Shell.run("chown", "65534:65534", anchors.toString());
        try (CliProcess p = CliProcess.startAs("65534:65534", Map.of("psql_url", TestPostgres.url()),
                "mount", "--kdf", "interactive", "--passphrase-file", passFile.toString(),
                "--anchor-dir", anchors.resolve("a").toString(), namespace, dir.toString())) {
            p.awaitMounted(READY);
            Shell.run("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-c",
                    "echo hello > '" + dir + "/mine' && test \"$(cat '" + dir + "/mine')\" = hello");
            // Without --allow-other only the mount's owner gets in, not even root.
            assertThat(Shell.run("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                    "stat", "-c", "%u:%g", dir.resolve("mine").toString()).trim()).isEqualTo("65534:65534");
            assertThat(Shell.run("sh", "-c", "stat '" + dir + "/mine' 2>&1 || echo denied")).contains("denied");
            assertThat(Shell.run("cat", "/proc/self/mountinfo")).contains(" " + dir + " ");
            // Not dumpable: /proc/PID belongs to root, so the user's other processes can neither
            // read the mount's environment and memory nor attach to it; and no core file is written.
            String proc = "/proc/" + p.pid();
            assertThat(Shell.run("stat", "-c", "%u", proc + "/status").trim()).isEqualTo("0");
            assertThat(Shell.run("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-c",
                    "cat " + proc + "/environ >/dev/null 2>&1 && echo readable || echo denied").trim()).isEqualTo("denied");
            assertThat(Files.readString(Path.of(proc, "limits"))).containsPattern("Max core file size\\s+0\\s+0\\s");
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
            Shell.unmountLazilyIfMounted(missing);
            Shell.run("rm", "-rf", dir.resolve("not").toString());
        }
    }

    // ---- hostile and mistaken input: one line on stderr, a distinct exit code, nothing mounted ----

    /** Runs the command, expects {@code code}, one line on stderr without a stack trace, nothing mounted on dir. */
    CliProcess refused(ExitCode code, Map<String, String> env, String... args) {
        CliProcess p = CliProcess.run(env, READY, args);
        assertThat(p.exitCode()).as(p.stderr()).isEqualTo(code.code());
        assertThat(p.stderr().lines()).as(p.stderr()).hasSize(1);
        assertThat(p.stderr()).startsWith("sqlitesuperfs: ").doesNotContain("\tat ", "Exception");
        assertThat(Shell.run("cat", "/proc/self/mountinfo")).doesNotContain(" " + dir + " ");
        return p;
    }

    @Test
    void namespaceNamesThatLookLikeSqlOrPostgresSchemasAreRefused() {
        for (String name : List.of("x'; DROP SCHEMA public CASCADE; --", "x\" OR 1=1", "pg_catalog", "pg_toast",
                "Public", "a".repeat(64), "")) {
            assertThat(refused(ExitCode.USAGE, env(PASS), "mount", name, dir.toString()).stderr())
                    .contains("invalid namespace name");
        }
        // valid names of schemas that exist but are not namespaces
        for (String name : List.of("public", "information_schema")) {
            assertThat(refused(ExitCode.NAMESPACE, env(PASS), "mount", "--kdf", "interactive", name, dir.toString())
                    .stderr()).contains("schema " + name + " exists but is not a sqlitesuperfs namespace");
        }
        assertThat(TestPostgres.<Long>query("SELECT count(*) FROM pg_namespace WHERE nspname = 'public'")).isEqualTo(1);
    }

    @Test
    void aMountDirectoryThatIsAFileAMountPointOrNotEmptyIsRefused() throws Exception {
        Path file = Files.writeString(dir.resolve("a-file"), "x");
        assertThat(refused(ExitCode.MOUNT, env(PASS), "mount", namespace, file.toString()).stderr())
                .contains("is not a directory");
        Files.delete(file);

        Shell.run("mount", "-t", "tmpfs", "-o", "size=1m", "sqlitesuperfs-test", dir.toString());
        try {
            CliProcess onMount = CliProcess.run(env(PASS), READY, "mount", namespace, dir.toString());
            assertThat(onMount.exitCode()).isEqualTo(ExitCode.MOUNT.code());
            assertThat(onMount.stderr().strip()).endsWith("is already a mount point (tmpfs); unmount it first or choose"
                    + " another directory");
        } finally {
            Shell.run("umount", dir.toString());
        }

        Path kept = Files.writeString(dir.resolve("kept"), "not lost");
        assertThat(refused(ExitCode.MOUNT, env(PASS), "mount", namespace, dir.toString()).stderr())
                .contains("is not empty", "-o nonempty");
        try (CliProcess p = mount(PASS, "-o", "nonempty")) {
            p.awaitMounted(READY);
            assertThat(Files.exists(dir.resolve("kept"))).as("hidden while mounted").isFalse();
            Shell.run("umount", dir.toString());
            assertThat(p.waitFor(READY)).isZero();
        }
        assertThat(Files.readString(kept)).isEqualTo("not lost");
        Files.delete(kept);
    }

    @Test
    void databaseMistakesAreRefusedAtOnce() throws Exception {
        String wrongPassword = TestPostgres.url().replaceFirst(":[^:@/]*@", ":not-the-password@");
        assertThat(refused(ExitCode.DATABASE, Map.of("psql_url", wrongPassword, "encryption_pass", PASS),
                "mount", namespace, dir.toString()).stderr()).contains("authentication failed")
                .doesNotContain("not-the-password");
        assertThat(refused(ExitCode.USAGE, Map.of("psql_url", "mysql://root:hunter2@db/x", "encryption_pass", PASS),
                "mount", namespace, dir.toString()).stderr()).contains("must start with postgresql://")
                .doesNotContain("hunter2");
        assertThat(refused(ExitCode.USAGE, Map.of("psql_url", "postgresql://u:p@ss@host:54x2/db", "encryption_pass",
                PASS), "mount", namespace, dir.toString()).stderr()).contains("port must be a number")
                .doesNotContain("p@ss");
        assertThat(refused(ExitCode.USAGE, Map.of("psql_url", TestPostgres.url() + "?frobnicate=1", "encryption_pass",
                PASS), "mount", namespace, dir.toString()).stderr()).contains("unknown database connection parameter");

        // A server that says it is 9.6: the real one, its version query answered by a literal of the same length.
        String query = "current_setting('server_version_num')";
        String older = String.format("%-" + query.length() + "s", "'90624'");
        try (RewritingProxy proxy = new RewritingProxy(TestPostgres.server().port(), query, older)) {
            String viaProxy = TestPostgres.url().replaceFirst(":" + TestPostgres.server().port() + "/",
                    ":" + proxy.port() + "/");
            assertThat(refused(ExitCode.DATABASE, Map.of("psql_url", viaProxy, "encryption_pass", PASS),
                    "mount", namespace, dir.toString()).stderr()).contains("is version 9.6.24; sqlitesuperfs needs 12 or newer");
        }
    }

    /**
     * A refused login, a missing database or privilege, a connection limit: said in words that
     * name the server, the user and the database, with exit code 5. What waiting cannot cure is
     * refused at once: with a --db-timeout of a day, a refusal that was retried would not end
     * within READY.
     */
    @Test
    void loginRefusalsSayWhatIsWrongInWords() throws Exception {
        String role = "r_" + namespace;
        String database = "d_" + namespace;
        DatabaseConfig.Endpoint server = TestPostgres.config().endpoints().getFirst();
        String at = "PostgreSQL at " + server;
        String testDatabase = TestPostgres.config().database();
        TestPostgres.execute("CREATE ROLE " + role + " LOGIN PASSWORD 'the-right-one'");
        TestPostgres.execute("CREATE DATABASE " + database);
        TestPostgres.execute("REVOKE CONNECT ON DATABASE " + database + " FROM PUBLIC");
        try {
            String[] args = {"mount", "--db-timeout", "86400", namespace, dir.toString()};
            assertThat(refused(ExitCode.DATABASE, dbEnv("postgresql://" + role + ":not-the-one@" + server + "/"
                    + testDatabase), args).stderr()).isEqualTo("sqlitesuperfs: " + at + " refused user \"" + role
                    + "\": password authentication failed; the password is wrong or the user does not exist"
                    + " (SQLState 28P01)\n");
            assertThat(refused(ExitCode.DATABASE, dbEnv("postgresql://nobody_" + namespace + ":x@" + server + "/"
                    + testDatabase), args).stderr()).contains(at + " refused user \"nobody_" + namespace
                    + "\": password authentication failed");
            assertThat(refused(ExitCode.DATABASE, dbEnv("postgresql://" + role + ":the-right-one@" + server
                    + "/nosuch_" + namespace), args).stderr()).isEqualTo("sqlitesuperfs: database \"nosuch_" + namespace
                    + "\" does not exist on " + at + " (SQLState 3D000)\n");
            assertThat(refused(ExitCode.DATABASE, dbEnv("postgresql://" + role + ":the-right-one@" + server + "/"
                    + database), args).stderr()).isEqualTo("sqlitesuperfs: user \"" + role + "\" may not connect to"
                    + " database \"" + database + "\" on " + at + ": it lacks the CONNECT privilege (SQLState 42501)\n");
            assertThat(refused(ExitCode.DATABASE, dbEnv("postgresql://" + role + "@" + server + "/" + testDatabase),
                    args).stderr()).isEqualTo("sqlitesuperfs: " + at + " asks user \"" + role + "\" for a password,"
                    + " and the database URL gives none (SQLState 08004)\n");

            // Its one connection is the mount's writer; the read pool is refused. A full server heals
            // as other clients leave, so this one is retried for --db-timeout, then named.
            TestPostgres.execute("ALTER ROLE " + role + " CONNECTION LIMIT 1");
            String limited = refused(ExitCode.DATABASE, dbEnv("postgresql://" + role + ":the-right-one@" + server + "/"
                    + testDatabase), "mount", "--db-timeout", "2", namespace, dir.toString()).stderr();
            assertThat(limited).contains("failed for longer than 2 s: user \"" + role + "\" has reached the"
                    + " connection limit of its role on " + at + "; a mount uses up to 9 connections (SQLState 53300)")
                    .doesNotContain("unavailable");
        } finally {
            TestPostgres.execute("DROP DATABASE IF EXISTS " + database + " WITH (FORCE)");
            TestPostgres.execute("DROP ROLE IF EXISTS " + role);
        }
    }

    static Map<String, String> dbEnv(String url) {
        return Map.of("psql_url", url, "encryption_pass", PASS);
    }

    @Test
    void passphraseMistakesAreRefusedBeforeAnythingIsCreated() throws Exception {
        assertThat(refused(ExitCode.PASSPHRASE, env(""), "mount", namespace, dir.toString()).stderr())
                .contains("passphrase in $encryption_pass is empty");
        Map<String, String> db = Map.of("psql_url", TestPostgres.url());
        assertThat(refused(ExitCode.PASSPHRASE, db, "mount", "--passphrase-file", "/nonexistent/pass", namespace,
                dir.toString()).stderr()).contains("cannot read passphrase file /nonexistent/pass: it does not exist");
        Path empty = Files.createTempFile("pass", ".txt");
        try {
            Files.writeString(empty, "\n");
            assertThat(refused(ExitCode.PASSPHRASE, db, "mount", "--passphrase-file", empty.toString(), namespace,
                    dir.toString()).stderr()).contains("is empty");
            assertThat(refused(ExitCode.PASSPHRASE, db, "mount", "--passphrase-file", dir.toString(), namespace,
                    dir.toString()).stderr()).contains("it is a directory");
            // unreadable: a root-only file, read by an ordinary user. The passphrase is checked before
            // the mount directory and what mounting needs (NamespaceMount.open), so neither DIR nor
            // /dev/fuse has to be usable by that user for this refusal.
            Files.writeString(empty, PASS);
            Shell.run("chmod", "0600", empty.toString());
            CliProcess denied = CliProcess.startAs("65534:65534", db, "mount", "--passphrase-file", empty.toString(),
                    namespace, dir.toString());
            assertThat(denied.waitFor(READY)).as(denied.stderr()).isEqualTo(ExitCode.PASSPHRASE.code());
            assertThat(denied.stderr()).contains("permission denied").doesNotContain(PASS);
        } finally {
            Files.deleteIfExists(empty);
        }
        // with the mount directory missing as well, the passphrase is still what is refused
        assertThat(refused(ExitCode.PASSPHRASE, db, "mount", "--passphrase-file", "/nonexistent/pass", namespace,
                dir.resolve("missing").toString()).stderr()).contains("cannot read passphrase file /nonexistent/pass");
        // a passphrase is never an option: refused, and not repeated
        CliProcess onCommandLine = refused(ExitCode.USAGE, db, "mount", "--passphrase", "hunter2", namespace,
                dir.toString());
        assertThat(onCommandLine.stderr()).contains("never taken on the command line").doesNotContain("hunter2");
        assertThat(TestPostgres.<Long>query("SELECT count(*) FROM pg_namespace WHERE nspname = ?", namespace)).isZero();
    }

    @Test
    void aNamespaceThatDisagreesIsRefusedWithItsReason() throws Exception {
        try (CliProcess p = mount(PASS)) {
            p.awaitMounted(READY);
            Files.writeString(dir.resolve("f"), "kept");
            p.signal("TERM");
            p.waitFor(READY);
        }
        assertThat(refused(ExitCode.NAMESPACE, env(PASS), "mount", "--block-size", "8192", namespace, dir.toString())
                .stderr()).contains("has block size 4096; --block-size 8192 does not match");

        String meta = "\"" + namespace + "\".meta";
        int current = PgNamespaceStore.FORMAT_VERSION;
        int newer = current + 1;
        TestPostgres.execute("UPDATE " + meta + " SET format_version = " + newer);
        assertThat(refused(ExitCode.DAMAGED, env(PASS), "mount", namespace, dir.toString()).stderr())
                .contains("key material of namespace " + namespace + " is damaged");
        // as a newer program would leave it: its checksum matches
        TestPostgres.execute("UPDATE " + meta + " SET " + KeyMaterialTamperTest.RECOMPUTE_CHECKSUM);
        assertThat(refused(ExitCode.NAMESPACE, env(PASS), "mount", namespace, dir.toString()).stderr())
                .contains("has format version " + newer + ", but this program only knows versions up to " + current
                        + "; use a newer sqlitesuperfs");
        TestPostgres.execute("UPDATE " + meta + " SET format_version = " + current);
        TestPostgres.execute("UPDATE " + meta + " SET " + KeyMaterialTamperTest.RECOMPUTE_CHECKSUM);

        TestPostgres.execute("UPDATE " + meta + " SET kdf_salt = set_byte(kdf_salt, 0, get_byte(kdf_salt, 0) # 1)");
        assertThat(refused(ExitCode.DAMAGED, env(PASS), "mount", namespace, dir.toString()).stderr())
                .contains("key material of namespace " + namespace + " is damaged", "checksum does not match");
        TestPostgres.execute("UPDATE " + meta + " SET kdf_salt = set_byte(kdf_salt, 0, get_byte(kdf_salt, 0) # 1)");
        try (CliProcess p = mount(PASS)) {
            p.awaitMounted(READY);
            assertThat(Files.readString(dir.resolve("f"))).isEqualTo("kept");
            p.signal("TERM");
            assertThat(p.waitFor(READY)).isZero();
        }
    }

    /** No /dev/fuse, in a mount namespace of the child's own where /dev holds only what the JVM needs. */
    @Test
    void withoutDevFuseTheMountIsRefused() throws Exception {
        Path devices = Files.createTempDirectory("sqlitesuperfs-dev-");
        try {
            String script = "mount -t tmpfs none '" + devices + "' && for n in null zero random urandom; do"
                    + " touch '" + devices + "'/$n && mount --bind /dev/$n '" + devices + "'/$n; done"
                    + " && mount --move '" + devices + "' /dev && exec \"$@\"";
            CliProcess p = CliProcess.startWrapped(List.of("unshare", "--mount", "--propagation", "private", "sh",
                    "-c", script, "sh"), false, env(PASS), "mount", "--kdf", "interactive", namespace, dir.toString());
            assertThat(p.waitFor(READY)).as(p.stderr()).isEqualTo(ExitCode.MOUNT.code());
            assertThat(p.stderr().lines()).hasSize(1);
            assertThat(p.stderr()).contains("/dev/fuse is missing");
            assertThat(Files.exists(Path.of("/dev/fuse"))).as("the real /dev/fuse is untouched").isTrue();
            assertThat(TestPostgres.<Long>query("SELECT count(*) FROM pg_namespace WHERE nspname = ?", namespace))
                    .as("no namespace created for a mount that cannot happen").isZero();
        } finally {
            Files.deleteIfExists(devices);
        }
    }

    /** An ordinary user mounts through fusermount3: without it on PATH, or without write access to DIR, no mount. */
    @Test
    void withoutFusermountOrPermissionAnOrdinaryUserIsRefused() throws Exception {
        Shell.run("chmod", "0666", "/dev/fuse");
        Path passFile = Files.createTempFile("pass", ".txt");
        try {
            Files.writeString(passFile, PASS);
            Shell.run("chmod", "0644", passFile.toString());
            Map<String, String> noFusermount = Map.of("psql_url", TestPostgres.url(), "PATH", "/nonexistent");
            Shell.run("chown", "65534:65534", dir.toString());
            CliProcess missing = CliProcess.startAs("65534:65534", noFusermount, "mount", "--kdf", "interactive",
                    "--passphrase-file", passFile.toString(), namespace, dir.toString());
            assertThat(missing.waitFor(READY)).as(missing.stderr()).isEqualTo(ExitCode.MOUNT.code());
            assertThat(missing.stderr().lines()).hasSize(1);
            assertThat(missing.stderr()).contains("fusermount3 not found on PATH");

            Shell.run("chown", "0:0", dir.toString());
            Shell.run("chmod", "0755", dir.toString());
            CliProcess denied = CliProcess.startAs("65534:65534", Map.of("psql_url", TestPostgres.url()), "mount",
                    "--passphrase-file", passFile.toString(), namespace, dir.toString());
            assertThat(denied.waitFor(READY)).as(denied.stderr()).isEqualTo(ExitCode.MOUNT.code());
            assertThat(denied.stderr().lines()).hasSize(1);
            assertThat(denied.stderr()).contains("fusermount3 mounts only on directories the user (uid 65534) may write to");
            assertThat(Shell.run("cat", "/proc/self/mountinfo")).doesNotContain(" " + dir + " ");
            assertThat(TestPostgres.<Long>query("SELECT count(*) FROM pg_namespace WHERE nspname = ?", namespace))
                    .as("no namespace created for a mount that cannot happen").isZero();
        } finally {
            Files.deleteIfExists(passFile);
        }
    }

    // ---- keys: passwd, and secrets kept out of reach ----

    @Test
    void passwdRewrapsTheKeyWithoutTouchingAnyBlock() throws Exception {
        try (CliProcess p = mount(PASS)) {
            p.awaitMounted(READY);
            Files.write(dir.resolve("data"), new byte[100_000]);
            Files.createSymbolicLink(dir.resolve("link"), Path.of("data"));
            p.signal("TERM");
            p.waitFor(READY);
        }
        String ns = "\"" + namespace + "\"";
        String payloads = "SELECT string_agg(t::text, ',' ORDER BY t::text) FROM (SELECT ino, idx, md5(data), xmin::text"
                + " FROM " + ns + ".blocks UNION ALL SELECT ino, -1, md5(target), xmin::text FROM " + ns + ".symlinks) t";
        String before = TestPostgres.query(payloads);
        byte[] saltBefore = TestPostgres.queryBytes("SELECT kdf_salt FROM " + ns + ".meta");

        Map<String, String> change = Map.of("psql_url", TestPostgres.url(), "encryption_pass", PASS,
                "new_encryption_pass", "the new passphrase");
        CliProcess passwd = CliProcess.run(change, READY, "passwd", namespace);
        assertThat(passwd.exitCode()).as(passwd.stderr()).isZero();
        assertThat(passwd.stdout()).contains("changed the passphrase of namespace " + namespace);

        assertThat((String) TestPostgres.query(payloads)).as("blocks and symlink rows, with their row versions")
                .isEqualTo(before);
        assertThat(TestPostgres.queryBytes("SELECT kdf_salt FROM " + ns + ".meta")).isNotEqualTo(saltBefore);
        try (CliProcess old = mount(PASS)) {
            assertThat(old.waitFor(READY)).isEqualTo(ExitCode.PASSPHRASE.code());
            assertThat(old.stderr()).contains("wrong passphrase");
        }
        try (CliProcess p = mount("the new passphrase")) {
            p.awaitMounted(READY);
            assertThat(Files.readAllBytes(dir.resolve("data"))).hasSize(100_000).containsOnly(0);
            // while mounted, passwd is refused at once
            CliProcess busy = CliProcess.run(Map.of("psql_url", TestPostgres.url(), "encryption_pass",
                    "the new passphrase", "new_encryption_pass", "a third"), READY, "passwd", namespace);
            assertThat(busy.exitCode()).isEqualTo(ExitCode.BUSY.code());
            assertThat(busy.stderr()).contains("is mounted", "unmount it first");
            p.signal("TERM");
            assertThat(p.waitFor(READY)).isZero();
        }
        // the wrong current passphrase changes nothing
        CliProcess wrong = CliProcess.run(change, READY, "passwd", namespace);
        assertThat(wrong.exitCode()).isEqualTo(ExitCode.PASSPHRASE.code());
        assertThat(CliProcess.run(env("the new passphrase"), READY, "fsck", namespace).exitCode()).isZero();
    }

    @Test
    void passwdOnATerminalAsksForTheNewPassphraseTwice() throws Exception {
        try (CliProcess p = mount(PASS)) {
            p.awaitMounted(READY);
            p.signal("TERM");
            p.waitFor(READY);
        }
        Map<String, String> db = Map.of("psql_url", TestPostgres.url());
        try (CliProcess p = CliProcess.startOnTerminal(db, "passwd", namespace)) {
            p.awaitOutput("Current passphrase for namespace " + namespace, READY);
            p.type(PASS + "\n");
            p.awaitOutput("New passphrase for namespace " + namespace, READY);
            p.type("first new\n");
            p.awaitOutput("Repeat the new passphrase", READY);
            p.type("not the same\n");
            assertThat(p.waitFor(READY)).isEqualTo(ExitCode.PASSPHRASE.code());
            assertThat(p.stdout()).contains("the two passphrases differ").doesNotContain("first new");
        }
        try (CliProcess p = CliProcess.startOnTerminal(db, "passwd", namespace)) {
            p.awaitOutput("Current passphrase", READY);
            p.type(PASS + "\n");
            p.awaitOutput("New passphrase", READY);
            p.type("typed twice\n");
            p.awaitOutput("Repeat the new passphrase", READY);
            p.type("typed twice\n");
            assertThat(p.waitFor(READY)).isZero();
            assertThat(p.stdout()).doesNotContain("typed twice");
        }
        try (CliProcess p = mount("typed twice")) {
            p.awaitMounted(READY);
            p.signal("TERM");
            assertThat(p.waitFor(READY)).isZero();
        }
    }

    /**
     * The mount process writes no core dump and is not dumpable; the passphrase appears neither in
     * its command line nor in its log, even at trace level.
     */
    @Test
    void thePassphraseStaysOutOfCommandLineLogsAndCoreDumps() throws Exception {
        String secret = "MARKER-passphrase-b41f";
        try (CliProcess p = mount(secret, "--log-level", "trace")) {
            p.awaitMounted(READY);
            Files.writeString(dir.resolve("f"), "x");
            assertThat(Files.readString(Path.of("/proc", Long.toString(p.pid()), "limits")))
                    .containsPattern("Max core file size\\s+0\\s+0\\s");
            assertThat(Files.readString(Path.of("/proc", Long.toString(p.pid()), "cmdline"))).doesNotContain(secret);
            p.signal("TERM");
            assertThat(p.waitFor(READY)).isZero();
            assertThat(p.stdout() + p.stderr()).contains("GETATTR").doesNotContain(secret);
        }
        // A command-line database password works, with a warning that it shows in /proc.
        try (CliProcess p = CliProcess.start(Map.of("encryption_pass", secret), "mount", "--db", TestPostgres.url(),
                namespace, dir.toString())) {
            p.awaitMounted(READY);
            assertThat(p.stderr()).contains("warning: the database password in --db is visible");
            p.signal("TERM");
            assertThat(p.waitFor(READY)).isZero();
        }
    }
}
