package dev.sqlitesuperfs.host;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.testing.CliProcess;
import dev.sqlitesuperfs.testing.Shell;
import dev.sqlitesuperfs.testing.TestPostgres;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A host serving many namespaces at once (issue 13): all mounted from its config file, each written
 * with SQLite (WAL and DELETE modes alternating), unmounted one by one while the next is written,
 * then served again by a new host: every row is there, integrity_check is ok, and fsck of a sample
 * is clean. 100 namespaces in the default run, 1,000 with --slow.
 */
class HostManyNamespacesTest {
    private static final String PASS = "many namespaces passphrase";
    private HostScratch scratch;
    private List<Path> mountDirs;
    private Path dir;
    private Path socket;

    @BeforeEach
    void makeDirectory() throws IOException {
        scratch = new HostScratch("sqlitesuperfs-many-");
        dir = scratch.dir;
        socket = scratch.socket;
        mountDirs = scratch.mountDirs;
    }

    @AfterEach
    void cleanUp() {
        scratch.cleanUp(wait(mountDirs.size()));
    }

    @Test
    @Timeout(value = 20, unit = java.util.concurrent.TimeUnit.MINUTES)
    void aHundredNamespacesAreServedWrittenUnmountedOneByOneAndServedAgain() throws Exception {
        manyNamespaces(100);
    }

    @Test
    @Tag("slow")
    @Timeout(value = 120, unit = java.util.concurrent.TimeUnit.MINUTES)
    void aThousandNamespacesAreServedWrittenUnmountedOneByOneAndServedAgain() throws Exception {
        manyNamespaces(1000);
    }

    private void manyNamespaces(int count) throws Exception {
        Path passFile = dir.resolve("pass");
        Files.writeString(passFile, PASS + "\n");
        List<String> names = new ArrayList<>();
        StringBuilder config = new StringBuilder();
        for (int i = 0; i < count; i++) {
            String name = TestPostgres.freshNamespace();
            Path m = Files.createDirectory(dir.resolve("m" + i));
            names.add(name);
            mountDirs.add(m);
            config.append(name).append(' ').append(m).append(" passphrase-file=").append(passFile)
                    .append(" --kdf interactive\n");
        }
        Path configFile = dir.resolve("host.conf");
        Files.writeString(configFile, config);

        CliProcess host = serve(configFile, count);
        for (int i = 0; i < count; i++) {
            assertThat(HostScratch.isMounted(mountDirs.get(i))).as("namespace %d mounted at start", i).isTrue();
            sql(i, "PRAGMA journal_mode=" + mode(i) + "; CREATE TABLE t(x INTEGER); INSERT INTO t VALUES(1);"
                    + " INSERT INTO t VALUES(2);");
        }
        // one by one: unmounting a namespace stores it; the next one is written meanwhile
        for (int i = 0; i < count; i++) {
            Shell.run("umount", mountDirs.get(i).toString());
            assertThat(HostScratch.isMounted(mountDirs.get(i))).isFalse();
            if (i + 1 < count) {
                sql(i + 1, "INSERT INTO t VALUES(3);");
            }
        }
        host.signal("TERM");
        assertThat(host.waitFor(wait(count))).as("serve's exit code\n%s", tail(host.stderr())).isZero();

        CliProcess again = serve(configFile, count);
        for (int i = 0; i < count; i++) {
            String expected = i == 0 ? "1,2" : "1,2,3";
            assertThat(sql(i, "SELECT group_concat(x) FROM (SELECT x FROM t ORDER BY x);").strip())
                    .as("rows of namespace %d (%s mode)", i, mode(i)).isEqualTo(expected);
            assertThat(sql(i, "PRAGMA integrity_check;").strip()).isEqualTo("ok");
        }
        again.signal("TERM");
        assertThat(again.waitFor(wait(count))).as(tail(again.stderr())).isZero();
        for (int i : new int[] {0, count / 2, count - 1}) {
            CliProcess fsck = CliProcess.run(env(), wait(1), "fsck", names.get(i));
            assertThat(fsck.exitCode()).as("fsck of namespace %d\n%s%s", i, fsck.stdout(), fsck.stderr()).isZero();
        }
    }

    private static String mode(int i) {
        return i % 2 == 0 ? "WAL" : "DELETE";
    }

    private String sql(int i, String statements) {
        return Shell.run("sqlite3", mountDirs.get(i).resolve("app.db").toString(), statements);
    }

    /** Starts {@code serve --config FILE} and waits until it takes requests (all mounted by then). */
    private CliProcess serve(Path config, int count) throws InterruptedException {
        CliProcess host = CliProcess.start(Map.of("psql_url", TestPostgres.url()), "serve", "--socket",
                socket.toString(), "--config", config.toString(), "--db-connections", "6");
        scratch.hosts.add(host);
        host.awaitOutput("serving on " + socket, wait(count));
        return host;
    }

    /** Time for something done per namespace, on a loaded machine: a second each, a minute at least. */
    private static Duration wait(int namespaces) {
        return Duration.ofSeconds(60 + namespaces);
    }

    private static Map<String, String> env() {
        return Map.of("psql_url", TestPostgres.url(), "encryption_pass", PASS);
    }

    private static String tail(String log) {
        return log.length() <= 4000 ? log : log.substring(log.length() - 4000);
    }
}
