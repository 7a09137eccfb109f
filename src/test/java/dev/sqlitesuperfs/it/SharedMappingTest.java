package dev.sqlitesuperfs.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.testing.ChildJava;
import dev.sqlitesuperfs.testing.Posix;
import dev.sqlitesuperfs.testing.Shell;
import dev.sqlitesuperfs.testing.CliMount;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * One file mapped MAP_SHARED by two processes, as SQLite maps a WAL database's -shm file: each
 * sees the other's stores, and what was stored is in the file after a remount. Then two sqlite3
 * processes sharing one WAL database, one writing while the other reads.
 */
class SharedMappingTest {
    private static final int SIZE = 64 * 1024;

    /** In a process of its own: this test maps a file of the mount into its own memory (see {@link CliMount}). */
    private static CliMount mount;

    @BeforeAll
    static void mount() {
        mount = CliMount.fresh();
    }

    @AfterAll
    static void unmount() {
        mount.unmount();
        assertThat(mount.check()).isEmpty();
        mount.close();
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    @Test
    void twoProcessesSeeEachOthersStoresThroughTheirMappings() throws IOException {
        Path f = mount.path("shared.shm");
        Files.write(f, new byte[SIZE]);
        byte[] fromChild = ascii("written by the child");
        byte[] fromTest = ascii("written by the test process");
        int fd = Posix.open(f, Posix.O_RDWR, 0);
        MemorySegment map = Posix.mmap(fd, SIZE, Posix.PROT_READ | Posix.PROT_WRITE, 0);
        try (ChildJava child = ChildJava.start(null, MappedFileChild.class, f.toString(), Integer.toString(SIZE))) {
            assertThat(child.receive()).isEqualTo("mapped");
            assertThat(child.ask("write 100 " + HexFormat.of().formatHex(fromChild))).isEqualTo("ok");
            assertThat(map.asSlice(100, fromChild.length).toArray(ValueLayout.JAVA_BYTE)).isEqualTo(fromChild);

            // a page the child has not touched yet, and one it has
            MemorySegment.copy(fromTest, 0, map, ValueLayout.JAVA_BYTE, 40_000, fromTest.length);
            MemorySegment.copy(fromTest, 0, map, ValueLayout.JAVA_BYTE, 200, fromTest.length);
            assertThat(child.ask("read 40000 " + fromTest.length)).isEqualTo(HexFormat.of().formatHex(fromTest));
            assertThat(child.ask("read 200 " + fromTest.length)).isEqualTo(HexFormat.of().formatHex(fromTest));

            // the last writer of a byte wins, for both readers
            assertThat(child.ask("write 200 ff")).isEqualTo("ok");
            assertThat(map.get(ValueLayout.JAVA_BYTE, 200)).isEqualTo((byte) 0xff);
            // and plain reads through a descriptor see the stores too
            assertThat(Posix.pread(fd, fromChild.length, 100)).isEqualTo(fromChild);

            assertThat(child.ask("msync")).isEqualTo("ok");
            assertThat(child.finish()).isZero();
        } finally {
            Posix.msync(map, Posix.MS_SYNC);
            Posix.munmap(map);
            Posix.close(fd);
        }
        mount.remount();
        byte[] stored = Files.readAllBytes(f);
        assertThat(stored).hasSize(SIZE);
        assertThat(Arrays.copyOfRange(stored, 100, 100 + fromChild.length)).isEqualTo(fromChild);
        assertThat(stored[200]).isEqualTo((byte) 0xff);
        assertThat(Arrays.copyOfRange(stored, 201, 200 + fromTest.length))
                .isEqualTo(Arrays.copyOfRange(fromTest, 1, fromTest.length));
        assertThat(Arrays.copyOfRange(stored, 40_000, 40_000 + fromTest.length)).isEqualTo(fromTest);
        assertThat(Arrays.copyOfRange(stored, 0, 100)).containsOnly(0);
    }

    @Test
    void aSqliteWriterAndASqliteReaderShareOneWalDatabase() throws Exception {
        Path db = mount.path("shared-wal.db");
        SqliteTest.sqlite(db, "PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, x INTEGER NOT NULL);");
        int transactions = 400;
        StringBuilder writes = new StringBuilder(".timeout 60000\nPRAGMA synchronous=FULL;\n");
        for (int i = 1; i <= transactions; i++) {
            // every transaction keeps sum(x) at zero and count(*) even
            writes.append("BEGIN; INSERT INTO t(x) VALUES (").append(i).append("); INSERT INTO t(x) VALUES (-")
                    .append(i).append("); COMMIT;\n");
        }
        StringBuilder reads = new StringBuilder(".timeout 60000\n");
        for (int i = 0; i < 300; i++) {
            reads.append("SELECT count(*) % 2, coalesce(sum(x), 0), count(*) FROM t;\n");
        }
        Path writeScript = Files.writeString(Files.createTempFile("wal-writes", ".sql"), writes);
        Path readScript = Files.writeString(Files.createTempFile("wal-reads", ".sql"), reads);
        try {
            CompletableFuture<String> writer = CompletableFuture.supplyAsync(() -> Shell.run("sh", "-c",
                    "sqlite3 -batch -bail '" + db + "' < '" + writeScript + "'"), runner());
            List<String> seen = new ArrayList<>();
            while (!writer.isDone()) {
                seen.addAll(Shell.lines("sh", "-c", "sqlite3 -batch -bail '" + db + "' < '" + readScript + "'"));
            }
            writer.get(10, TimeUnit.MINUTES);
            seen.addAll(Shell.lines("sh", "-c", "sqlite3 -batch -bail '" + db + "' < '" + readScript + "'"));
            long lastCount = -1;
            for (String row : seen) {
                String[] cols = row.split("\\|");
                assertThat(cols[0] + "|" + cols[1]).as("a reader saw half a transaction: %s", row).isEqualTo("0|0");
                lastCount = Long.parseLong(cols[2]);
            }
            assertThat(lastCount).isEqualTo(2L * transactions);
        } finally {
            Files.delete(writeScript);
            Files.delete(readScript);
        }
        assertThat(SqliteTest.sqlite(db, "PRAGMA integrity_check;").trim()).isEqualTo("ok");
        mount.remount();
        assertThat(SqliteTest.sqlite(db, "PRAGMA integrity_check; SELECT count(*), sum(x) FROM t;").lines())
                .containsExactly("ok", (2 * transactions) + "|0");
    }

    private static java.util.concurrent.Executor runner() {
        return command -> Thread.ofPlatform().daemon().start(command);
    }
}
