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
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * SIGKILL of a host while 8 tenants commit (issue 13): each tenant is a shell loop of one-row
 * SQLite transactions (WAL and DELETE alternating) that records a row's number on local disk only
 * after its commit returned. After the kill, a new host serves the same namespaces (the killed
 * host's locks went with its sessions): every recorded row of every tenant is there and
 * integrity_check is ok.
 */
class HostCrashTest {
    private static final String PASS = "host crash passphrase";
    private static final int TENANTS = 8;
    private static final Duration WAIT = Duration.ofSeconds(180);
    private HostScratch scratch;
    private final List<Process> writers = new ArrayList<>();
    private List<Path> mountDirs;
    private Path dir;
    private Path socket;

    @BeforeEach
    void makeDirectory() throws IOException {
        scratch = new HostScratch("sqlitesuperfs-hostcrash-");
        dir = scratch.dir;
        socket = scratch.socket;
        mountDirs = scratch.mountDirs;
    }

    @AfterEach
    void cleanUp() throws InterruptedException {
        for (Process w : writers) {
            w.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
        }
        scratch.cleanUp(WAIT);
    }

    @Test
    @Timeout(value = 10, unit = TimeUnit.MINUTES)
    void everyAcknowledgedCommitOfEveryTenantSurvivesSigkillOfTheHost() throws Exception {
        Path passFile = dir.resolve("pass");
        Files.writeString(passFile, PASS + "\n");
        StringBuilder config = new StringBuilder();
        for (int i = 0; i < TENANTS; i++) {
            Path m = Files.createDirectory(dir.resolve("m" + i));
            mountDirs.add(m);
            config.append(TestPostgres.freshNamespace()).append(' ').append(m).append(" passphrase-file=")
                    .append(passFile).append(" --kdf interactive\n");
        }
        Path configFile = dir.resolve("host.conf");
        Files.writeString(configFile, config);
        CliProcess host = serve(configFile);
        for (int i = 0; i < TENANTS; i++) {
            Shell.run("sqlite3", db(i).toString(), "PRAGMA journal_mode=" + mode(i) + "; CREATE TABLE t(x INTEGER);");
            writers.add(new ProcessBuilder("bash", "-c", "for n in $(seq 1 1000000); do sqlite3 \"$0\" "
                    + "\"PRAGMA synchronous=FULL; INSERT INTO t VALUES($n);\" >/dev/null 2>&1 || exit 1; echo $n >>\"$1\"; done",
                    db(i).toString(), acked(i).toString()).redirectErrorStream(true).start());
        }
        long deadline = System.nanoTime() + WAIT.toNanos();
        for (int i = 0; i < TENANTS; i++) {
            while (lines(acked(i)) < 20) {
                assertThat(System.nanoTime() - deadline).as("tenant %d acknowledging 20 commits", i).isNegative();
                Thread.sleep(50);
            }
        }
        host.signal("KILL");
        host.waitFor(WAIT);
        for (Process w : writers) {
            assertThat(w.waitFor(WAIT.toSeconds(), TimeUnit.SECONDS)).as("a writer ends once its mount is gone").isTrue();
        }
        for (Path m : mountDirs) {
            Shell.unmountLazilyIfMounted(m);
        }

        CliProcess again = serve(configFile);
        for (int i = 0; i < TENANTS; i++) {
            List<String> recorded = Files.readAllLines(acked(i));
            String present = Shell.run("sqlite3", db(i).toString(), "SELECT count(*), coalesce(max(x), 0) FROM t;").strip();
            long count = Long.parseLong(present.split("\\|")[0]);
            long max = Long.parseLong(present.split("\\|")[1]);
            System.out.println("host crash: tenant " + i + " (" + mode(i) + "): " + recorded.size()
                    + " commits acknowledged, " + count + " rows stored");
            assertThat(count).as("tenant %d (%s): rows 1..%d acknowledged", i, mode(i), recorded.size())
                    .isGreaterThanOrEqualTo(recorded.size());
            assertThat(max).as("tenant %d: rows are numbered in order", i).isEqualTo(count);
            assertThat(Shell.run("sqlite3", db(i).toString(), "PRAGMA integrity_check;").strip()).isEqualTo("ok");
        }
        again.signal("TERM");
        assertThat(again.waitFor(WAIT)).as(again.stderr()).isZero();
    }

    private Path db(int i) {
        return mountDirs.get(i).resolve("app.db");
    }

    private Path acked(int i) {
        return dir.resolve("acked" + i);
    }

    private static String mode(int i) {
        return i % 2 == 0 ? "WAL" : "DELETE";
    }

    private static long lines(Path file) throws IOException {
        return Files.exists(file) ? Files.readAllLines(file).size() : 0;
    }

    private CliProcess serve(Path config) throws InterruptedException {
        CliProcess host = CliProcess.start(Map.of("psql_url", TestPostgres.url()), "serve", "--socket",
                socket.toString(), "--config", config.toString());
        scratch.hosts.add(host);
        host.awaitOutput("serving on " + socket, WAIT);
        return host;
    }
}
