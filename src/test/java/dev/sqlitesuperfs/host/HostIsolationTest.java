package dev.sqlitesuperfs.host;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.cli.ExitCode;
import dev.sqlitesuperfs.testing.CliProcess;
import dev.sqlitesuperfs.testing.Shell;
import dev.sqlitesuperfs.testing.TestPostgres;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Isolation on one host (issue 13, point 4): while a victim tenant commits with SQLite in a loop,
 * its neighbours on the same host and the same writer lanes meet every kind of trouble: stored
 * data tampered with (EIO, a tamper event counted for that tenant only), a quota exhausted
 * (ENOSPC), damaged key material (the mount refused with exit 10), a client stopped in the middle
 * of a transaction, and a burst of writes. The victim never fails, commits on throughout, and all
 * its acknowledged rows are there with integrity_check ok; the host serves on.
 */
class HostIsolationTest {
    private static final String PASS = "isolation passphrase";
    private static final Duration WAIT = Duration.ofSeconds(180);
    private HostScratch scratch;
    private Process victimWriter;
    private Process stoppedClient;

    @BeforeEach
    void makeDirectory() throws IOException {
        scratch = new HostScratch("sqlitesuperfs-isolation-");
    }

    @AfterEach
    void cleanUp() throws InterruptedException, IOException {
        for (Process p : new Process[] {victimWriter, stoppedClient}) {
            if (p != null && p.isAlive()) {
                new ProcessBuilder("kill", "-CONT", Long.toString(p.pid())).start().waitFor();
                p.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
            }
        }
        scratch.cleanUp(WAIT);
    }

    @Test
    @Timeout(value = 10, unit = TimeUnit.MINUTES)
    void aTenantsTroublesNeverReachItsNeighbours() throws Exception {
        CliProcess host = CliProcess.start(Map.of("psql_url", TestPostgres.url()), "serve", "--socket",
                scratch.socket.toString(), "--db-connections", "3");
        scratch.hosts.add(host);
        host.awaitOutput("serving on " + scratch.socket, WAIT);

        Path victim = mountOk(TestPostgres.freshNamespace(), "victim");
        Path acked = scratch.dir.resolve("acked");
        Shell.run("sqlite3", victim.resolve("app.db").toString(), "PRAGMA journal_mode=WAL; CREATE TABLE t(x INTEGER);");
        victimWriter = new ProcessBuilder("bash", "-c", "for n in $(seq 1 1000000); do sqlite3 \"$0\" "
                + "\"PRAGMA synchronous=FULL; INSERT INTO t VALUES($n);\" >/dev/null 2>&1 || exit 1; echo $n >>\"$1\"; done",
                victim.resolve("app.db").toString(), acked.toString()).redirectErrorStream(true).start();
        awaitAcked(acked, 10);

        // Tampered: a stored block changed while the tenant was unmounted; its read is refused.
        String tamperedNs = TestPostgres.freshNamespace();
        Path tampered = mountOk(tamperedNs, "tampered");
        writeAndSync(tampered.resolve("data"), new byte[16384]);
        unmount(tampered);
        assertThat(TestPostgres.update("UPDATE \"" + tamperedNs + "\".blocks SET data = set_byte(data, 5,"
                + " get_byte(data, 5) # 8) WHERE idx = 1")).isOne();
        mountOk(tamperedNs, "tampered");
        assertThatReadFails(tampered.resolve("data"));

        // Over quota: the write that does not fit fails with ENOSPC, at write().
        Path full = mountOk(TestPostgres.freshNamespace(), "full", "--quota", "1M");
        try (FileChannel f = FileChannel.open(full.resolve("big"), StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            ByteBuffer chunk = ByteBuffer.allocate(256 * 1024);
            IOException refused = null;
            for (int i = 0; i < 8 && refused == null; i++) {
                try {
                    f.write(chunk.clear());
                } catch (IOException e) {
                    refused = e;
                }
            }
            assertThat(refused).as("a write past the quota").isNotNull();
            assertThat(refused.getMessage()).containsIgnoringCase("space");
        }

        // Damaged key material: refused as damage, nothing else touched.
        String damagedNs = TestPostgres.freshNamespace();
        Path damaged = mountOk(damagedNs, "damaged");
        unmount(damaged);
        TestPostgres.update("UPDATE \"" + damagedNs + "\".meta SET key_check = set_byte(key_check, 30,"
                + " get_byte(key_check, 30) # 128)");
        CliProcess refusedMount = mount(damagedNs, damaged);
        assertThat(refusedMount.exitCode()).as(refusedMount.stderr()).isEqualTo(ExitCode.DAMAGED.code());

        // A client stopped in the middle of a transaction, and a burst of writes beside it.
        Path busy = mountOk(TestPostgres.freshNamespace(), "busy");
        Shell.run("sqlite3", busy.resolve("app.db").toString(), "CREATE TABLE t(x BLOB);");
        stoppedClient = new ProcessBuilder("sqlite3", busy.resolve("app.db").toString())
                .redirectErrorStream(true).start();
        stoppedClient.getOutputStream().write("BEGIN IMMEDIATE; INSERT INTO t VALUES(randomblob(1000000));\n".getBytes());
        stoppedClient.getOutputStream().flush();
        // Inside its transaction once its rollback journal exists (a database of one table is small
        // enough for SQLite to begin writing its pages through the journal at once).
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!Files.exists(busy.resolve("app.db-journal"))) {
            assertThat(System.nanoTime() - deadline).as("the client inside its transaction").isNegative();
            Thread.sleep(20);
        }
        Shell.run("kill", "-STOP", Long.toString(stoppedClient.pid()));
        long before = lines(acked);
        Shell.run("dd", "if=/dev/zero", "of=" + busy.resolve("burst"), "bs=1M", "count=200", "conv=fsync", "status=none");
        awaitAcked(acked, before + 20);

        assertThat(victimWriter.isAlive()).as("the victim's writer never failed").isTrue();
        victimWriter.destroy();
        victimWriter.waitFor(60, TimeUnit.SECONDS);
        // The loop's last sqlite3 may still be finishing its transaction: wait for its lock.
        long recorded = lines(acked);
        String present = Shell.run("sqlite3", "-cmd", ".timeout 60000", victim.resolve("app.db").toString(),
                "SELECT count(*) FROM t;").strip();
        assertThat(Long.parseLong(present)).isGreaterThanOrEqualTo(recorded);
        assertThat(Shell.run("sqlite3", "-cmd", ".timeout 60000", victim.resolve("app.db").toString(),
                "PRAGMA integrity_check;").strip())
                .isEqualTo("ok");
        System.out.println("isolation: the victim committed " + recorded + " transactions through its neighbours' trouble");

        Shell.run("kill", "-CONT", Long.toString(stoppedClient.pid()));
        stoppedClient.getOutputStream().write("COMMIT;\n.quit\n".getBytes());
        stoppedClient.getOutputStream().flush();
        assertThat(stoppedClient.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(Shell.run("sqlite3", busy.resolve("app.db").toString(), "SELECT count(*) FROM t;").strip())
                .isEqualTo("1");

        host.signal("TERM");
        assertThat(host.waitFor(WAIT)).as(host.stderr()).isZero();
        assertThat(host.stderr()).contains(tamperedNs);
    }

    private Path mountOk(String namespace, String dirName, String... options) throws IOException {
        Path dir = scratch.dir.resolve(dirName);
        if (!Files.exists(dir)) {
            Files.createDirectory(dir);
            scratch.mountDirs.add(dir);
        }
        CliProcess mount = mount(namespace, dir, options);
        assertThat(mount.exitCode()).as(mount.stderr()).isZero();
        return dir;
    }

    private CliProcess mount(String namespace, Path dir, String... options) {
        java.util.List<String> args = new java.util.ArrayList<>(java.util.List.of("mount", "--host", "--socket",
                scratch.socket.toString(), "--kdf", "interactive"));
        args.addAll(java.util.List.of(options));
        args.add(namespace);
        args.add(dir.toString());
        return CliProcess.run(Map.of("psql_url", TestPostgres.url(), "encryption_pass", PASS), WAIT,
                args.toArray(String[]::new));
    }

    private static void unmount(Path dir) {
        CliProcess unmount = CliProcess.run(Map.of(), WAIT, "unmount", dir.toString());
        assertThat(unmount.exitCode()).as(unmount.stderr()).isZero();
    }

    private static void writeAndSync(Path file, byte[] content) throws IOException {
        try (FileChannel f = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            f.write(ByteBuffer.wrap(content));
            f.force(true);
        }
    }

    private static void assertThatReadFails(Path file) {
        try {
            Files.readAllBytes(file);
            throw new AssertionError("a tampered block was served");
        } catch (IOException expected) {
            // EIO
        }
    }

    private static void awaitAcked(Path acked, long count) throws Exception {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (lines(acked) < count) {
            assertThat(System.nanoTime() - deadline).as("the victim acknowledging %d commits", count).isNegative();
            Thread.sleep(50);
        }
    }

    private static long lines(Path file) throws IOException {
        return Files.exists(file) ? Files.readAllLines(file).size() : 0;
    }
}
