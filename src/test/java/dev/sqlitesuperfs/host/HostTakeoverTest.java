package dev.sqlitesuperfs.host;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.cli.ExitCode;
import dev.sqlitesuperfs.testing.CliProcess;
import dev.sqlitesuperfs.testing.Shell;
import dev.sqlitesuperfs.testing.TestPostgres;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
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
 * Two hosts on one PostgreSQL (issue 13): a namespace one host serves is refused to the other at
 * once (exit 4, as for a standalone mount). When the first host is killed, its locks go with its
 * sessions and the second takes the namespace over. When the first is not dead but cut off (its
 * lock session ended by the server while it was stopped), the second takes over too, and the
 * first, once it runs again, can never write the namespace: its next fsync fails, because the
 * second host's mount raised the namespace's owner epoch that every commit claims.
 */
class HostTakeoverTest {
    private static final String PASS = "takeover passphrase";
    private static final Duration WAIT = Duration.ofSeconds(180);
    private HostScratch scratch;
    private final Map<Path, String> urls = new java.util.HashMap<>();

    @BeforeEach
    void makeDirectory() throws IOException {
        scratch = new HostScratch("sqlitesuperfs-takeover-");
    }

    @AfterEach
    void cleanUp() {
        for (CliProcess host : scratch.hosts) {
            if (host.isAlive()) {
                host.signal("CONT");
            }
        }
        scratch.cleanUp(WAIT);
    }

    @Test
    @Timeout(value = 10, unit = TimeUnit.MINUTES)
    void aSecondHostIsRefusedThenTakesOverAndTheFirstCanNeverWriteAgain() throws Exception {
        Path socketA = scratch.dir.resolve("a.sock");
        Path socketB = scratch.dir.resolve("b.sock");
        CliProcess a = serve(socketA, "takeover-a");
        CliProcess b = serve(socketB, "takeover-b");
        String killed = TestPostgres.freshNamespace();
        String cutOff = TestPostgres.freshNamespace();
        Path killedOnA = mountOk(socketA, killed, "killed-a");
        writeFile(killedOnA, "written on the first host");

        long start = System.nanoTime();
        CliProcess refused = mount(socketB, killed, newMountDir("killed-refused"));
        long refusedMs = (System.nanoTime() - start) / 1_000_000;
        assertThat(refused.exitCode()).as(refused.stderr()).isEqualTo(ExitCode.BUSY.code());
        assertThat(refused.stderr()).contains(killed);
        System.out.println("takeover: the second host refused a served namespace in " + refusedMs
                + " ms (client JVM and key derivation included)");

        // The first host dies: the server ends its sessions, and with them its locks.
        a.signal("KILL");
        a.waitFor(WAIT);
        Shell.unmountLazilyIfMounted(killedOnA);
        Path killedOnB = newMountDir("killed-b");
        long takeoverMs = mountWhenFree(socketB, killed, killedOnB);
        System.out.println("takeover: after SIGKILL of the first host, the second served its namespace after "
                + takeoverMs + " ms");
        assertThat(Files.readString(killedOnB.resolve("note.txt"))).isEqualTo("written on the first host");
        writeFile(killedOnB, "written on the second host");

        // A first host that is cut off, not dead: stopped, its lock session ended by the server.
        CliProcess a2 = serve(socketA, "takeover-a2");
        Path cutOffOnA = mountOk(socketA, cutOff, "cutoff-a");
        writeFile(cutOffOnA, "before the cut");
        // No file of its mounts may stay open meanwhile: a process started while the host is
        // stopped closes the descriptors it inherited, and each close waits for the host.
        a2.signal("STOP");
        try {
            assertThat(TestPostgres.queryLong("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    + " WHERE application_name = 'takeover-a2:host:locks'")).as("the first host's lock session").isOne();
            Path cutOffOnB = newMountDir("cutoff-b");
            long cutOffTakeoverMs = mountWhenFree(socketB, cutOff, cutOffOnB);
            System.out.println("takeover: with the first host stopped and its lock session gone, the second served"
                    + " its namespace after " + cutOffTakeoverMs + " ms");
            writeFile(cutOffOnB, "written after the takeover");
        } finally {
            // Nothing may touch the first host's mounts while it is stopped: each request would wait for it.
            a2.signal("CONT");
        }
        try (FileChannel stale = FileChannel.open(cutOffOnA.resolve("stale"), StandardOpenOption.CREATE,
                StandardOpenOption.WRITE)) {
            stale.write(ByteBuffer.wrap("the old owner writes on".getBytes(StandardCharsets.UTF_8)));
            stale.force(true);
            throw new AssertionError("the first host stored a change after the second took the namespace over");
        } catch (IOException expected) {
            // EIO: fenced by the owner epoch
        }
        assertThat(Files.readString(scratch.dir.resolve("cutoff-b").resolve("note.txt")))
                .isEqualTo("written after the takeover");
        assertThat(a2.isAlive()).as("the fenced host serves on").isTrue();
        assertThat(TestPostgres.queryLong("SELECT count(*) FROM \"" + cutOff + "\".dirents")).as("note.txt only")
                .isOne();

        b.signal("TERM");
        assertThat(b.waitFor(WAIT)).as(b.stderr()).isZero();
    }

    /**
     * A host on {@code socket}. The mounts asked of it name the database as {@link #url} does, so
     * that its sessions are told apart on the server by their application_name.
     */
    private CliProcess serve(Path socket, String applicationName) throws InterruptedException {
        urls.put(socket, TestPostgres.url() + "?application_name=" + applicationName);
        CliProcess host = CliProcess.start(Map.of("psql_url", urls.get(socket)), "serve", "--socket", socket.toString());
        scratch.hosts.add(host);
        host.awaitOutput("serving on " + socket, WAIT);
        return host;
    }

    private Path newMountDir(String name) throws IOException {
        Path m = Files.createDirectory(scratch.dir.resolve(name));
        scratch.mountDirs.add(m);
        return m;
    }

    private CliProcess mount(Path socket, String namespace, Path dir) {
        return CliProcess.run(Map.of("psql_url", urls.get(socket), "encryption_pass", PASS), WAIT, "mount", "--host",
                "--socket", socket.toString(), "--kdf", "interactive", namespace, dir.toString());
    }

    private Path mountOk(Path socket, String namespace, String dirName) throws IOException {
        Path dir = newMountDir(dirName);
        CliProcess mount = mount(socket, namespace, dir);
        assertThat(mount.exitCode()).as(mount.stderr()).isZero();
        return dir;
    }

    /** Mounts through the host on {@code socket}, again while the namespace is busy; the time it took. */
    private long mountWhenFree(Path socket, String namespace, Path dir) throws InterruptedException {
        long start = System.nanoTime();
        long deadline = start + WAIT.toNanos();
        while (true) {
            CliProcess mount = mount(socket, namespace, dir);
            if (mount.exitCode() == 0) {
                return (System.nanoTime() - start) / 1_000_000;
            }
            assertThat(mount.exitCode()).as(mount.stderr()).isEqualTo(ExitCode.BUSY.code());
            assertThat(System.nanoTime() - deadline).as("taking the namespace over").isNegative();
            Thread.sleep(200);
        }
    }

    private static void writeFile(Path mount, String content) throws IOException {
        try (FileChannel f = FileChannel.open(mount.resolve("note.txt"), StandardOpenOption.CREATE,
                StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
            f.write(ByteBuffer.wrap(content.getBytes(StandardCharsets.UTF_8)));
            f.force(true);
        }
    }
}
