package dev.sqlitesuperfs.it;

import static dev.sqlitesuperfs.testing.Posix.O_APPEND;
import static dev.sqlitesuperfs.testing.Posix.O_CREAT;
import static dev.sqlitesuperfs.testing.Posix.O_RDONLY;
import static dev.sqlitesuperfs.testing.Posix.O_RDWR;
import static dev.sqlitesuperfs.testing.Posix.O_WRONLY;
import static dev.sqlitesuperfs.testing.Posix.SEEK_DATA;
import static dev.sqlitesuperfs.testing.Posix.SEEK_HOLE;
import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.testing.ChildJava;
import dev.sqlitesuperfs.testing.Posix;
import dev.sqlitesuperfs.testing.Shell;
import dev.sqlitesuperfs.testing.TestMount;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Appends from several descriptors and processes, writes past the end, holes (SEEK_DATA /
 * SEEK_HOLE, st_blocks, cp --sparse) and sparse files beyond 4 GiB, each compared with a local
 * ext4 directory where the two must agree.
 */
class SparseAndAppendTest {
    private static final long GIB = 1L << 30;

    @RegisterExtension
    static final TestMount mount = TestMount.perClass();

    private static Path local;

    @BeforeAll
    static void localDirectory() throws IOException {
        local = Files.createTempDirectory(Path.of("target").toAbsolutePath(), "sparse-ext4-");
    }

    @AfterAll
    static void removeLocalDirectory() {
        Shell.run("rm", "-rf", local.toString());
    }

    @Test
    void appendsThroughTwoDescriptorsNeverOverwriteEachOther() throws IOException {
        for (Path dir : List.of(local, mount.root())) {
            Path f = dir.resolve("two-descriptors.log");
            Files.writeString(f, "start\n");
            int a = Posix.open(f, O_WRONLY | O_APPEND, 0);
            int b = Posix.open(f, O_WRONLY | O_APPEND, 0);
            StringBuilder expected = new StringBuilder("start\n");
            try {
                for (int i = 0; i < 300; i++) {
                    String line = (i % 3 == 0 ? "b " : "a ") + i + "\n";
                    Posix.write(i % 3 == 0 ? b : a, line.getBytes(StandardCharsets.US_ASCII));
                    expected.append(line);
                }
            } finally {
                Posix.close(a);
                Posix.close(b);
            }
            assertThat(Files.readString(f)).as(dir.toString()).isEqualTo(expected.toString());
        }
    }

    @Test
    void appendsFollowTheEndWhereverOthersMoveIt() throws IOException {
        Map<Path, String> results = new HashMap<>();
        for (Path dir : List.of(local, mount.root())) {
            Path f = dir.resolve("moving-end.log");
            Files.writeString(f, "0123456789");
            int appender = Posix.open(f, O_WRONLY | O_APPEND, 0);
            int other = Posix.open(f, O_RDWR, 0);
            try {
                Posix.write(appender, ascii("A"));
                // Linux appends even when pwrite names an offset
                Posix.pwrite(appender, ascii("B"), 0);
                Posix.ftruncate(other, 4);
                Posix.write(appender, ascii("C"));
                Posix.pwrite(other, ascii("xy"), 8);
                Posix.write(appender, ascii("D"));
                assertThat(Posix.lseek(appender, 0, Posix.SEEK_END)).isEqualTo(11);
            } finally {
                Posix.close(appender);
                Posix.close(other);
            }
            results.put(dir, new String(Files.readAllBytes(f), StandardCharsets.ISO_8859_1));
        }
        assertThat(results.get(local)).isEqualTo("0123C\0\0\0xyD");
        assertThat(results.get(mount.root())).isEqualTo(results.get(local));
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    @Test
    void appendsFromThreeProcessesAtOnceLoseNothing() throws IOException {
        int perWriter = 2000;
        for (Path dir : List.of(local, mount.root())) {
            Path f = dir.resolve("three-processes.log");
            Files.writeString(f, "");
            List<ChildJava> writers = new ArrayList<>();
            try {
                for (String tag : List.of("x", "y", "z")) {
                    ChildJava w = ChildJava.start(null, AppendingWriter.class, f.toString(), tag, Integer.toString(perWriter));
                    assertThat(w.receive()).isEqualTo("ready");
                    writers.add(w);
                }
                writers.forEach(w -> w.send("go"));
                for (ChildJava w : writers) {
                    assertThat(w.receive()).isEqualTo("done");
                    assertThat(w.finish()).isZero();
                }
            } finally {
                writers.forEach(ChildJava::close);
            }
            // every line whole, each writer's lines all there and in its own order
            Map<String, Integer> next = new HashMap<>(Map.of("x", 0, "y", 0, "z", 0));
            List<String> lines = Files.readAllLines(f);
            assertThat(lines).as(dir.toString()).hasSize(3 * perWriter);
            for (String line : lines) {
                String[] parts = line.split(" ");
                assertThat(parts).as("line '%s' in %s", line, dir).hasSize(2);
                assertThat(Integer.parseInt(parts[1])).as("line '%s' in %s", line, dir).isEqualTo(next.get(parts[0]));
                next.put(parts[0], next.get(parts[0]) + 1);
            }
            assertThat(Files.size(f)).isEqualTo(Files.size(local.resolve("three-processes.log")));
        }
    }

    /** Offsets of data and holes, as SEEK_DATA/SEEK_HOLE report them from every 4 KiB step. */
    private static List<String> holeMap(int fd, long size) {
        List<String> answers = new ArrayList<>();
        for (long at = 0; at < size + 4096; at += 4096) {
            answers.add(at + ": data " + seekOrErrno(fd, at, SEEK_DATA) + ", hole " + seekOrErrno(fd, at, SEEK_HOLE));
        }
        return answers;
    }

    private static String seekOrErrno(int fd, long offset, int whence) {
        try {
            return Long.toString(Posix.lseek(fd, offset, whence));
        } catch (Posix.ErrnoException e) {
            return "errno " + e.errno;
        }
    }

    @Test
    void writesPastTheEndLeaveHolesThatReadAsZerosAndSeekLikeExt4() {
        Map<Path, List<String>> maps = new HashMap<>();
        for (Path dir : List.of(local, mount.root())) {
            Path f = dir.resolve("holes");
            int fd = Posix.open(f, O_CREAT | O_RDWR, 0644);
            try {
                Posix.pwrite(fd, new byte[] {1}, 0);
                Posix.pwrite(fd, new byte[] {2, 2}, 100_000);
                Posix.pwrite(fd, filled(5000, (byte) 3), 300_000);
                long size = 305_000;
                assertThat(Posix.fstat(fd).size()).isEqualTo(size);
                byte[] all = Posix.pread(fd, 400_000, 0);
                assertThat(all).hasSize((int) size);
                assertThat(Arrays.copyOfRange(all, 1, 100_000)).containsOnly(0);
                assertThat(Arrays.copyOfRange(all, 100_002, 300_000)).containsOnly(0);
                assertThat(Arrays.copyOfRange(all, 300_000, 305_000)).containsOnly(3);
                // before and after the data is stored
                List<String> unsynced = holeMap(fd, size);
                Posix.fsync(fd);
                assertThat(holeMap(fd, size)).as(dir.toString()).isEqualTo(unsynced);
                maps.put(dir, unsynced);
            } finally {
                Posix.close(fd);
            }
        }
        assertThat(maps.get(mount.root())).isEqualTo(maps.get(local));
        assertThat(maps.get(local)).contains("0: data 0, hole 4096", "8192: data 98304, hole 8192",
                "303104: data 303104, hole 305000", "307200: data errno 6, hole errno 6");
    }

    private static byte[] filled(int size, byte value) {
        byte[] b = new byte[size];
        Arrays.fill(b, value);
        return b;
    }

    @Test
    void cpSparseAlwaysKeepsHolesOnTheWayInAndOut() throws IOException {
        Path source = local.resolve("sparse-source");
        int fd = Posix.open(source, O_CREAT | O_RDWR, 0644);
        try {
            Posix.pwrite(fd, FileOperationsTest.random(1 << 20, 1), 0);
            Posix.pwrite(fd, FileOperationsTest.random(1 << 20, 2), 64L << 20);
            Posix.ftruncate(fd, 100L << 20);
        } finally {
            Posix.close(fd);
        }
        Path onMount = mount.path("sparse-copy");
        Shell.run("cp", "--sparse=always", source.toString(), onMount.toString());
        Shell.run("cmp", source.toString(), onMount.toString());
        Path back = local.resolve("sparse-back");
        Shell.run("cp", "--sparse=always", onMount.toString(), back.toString());
        Shell.run("cmp", source.toString(), back.toString());
        long twoMiBInSectors = (2L << 20) / 512;
        for (Path p : List.of(source, onMount, back)) {
            Posix.Stat st = Posix.lstat(p);
            assertThat(st.size()).isEqualTo(100L << 20);
            assertThat(st.blocks()).as("st_blocks of %s", p).isBetween(twoMiBInSectors, twoMiBInSectors + 64);
        }
        mount.remount();
        assertThat(Posix.lstat(onMount).blocks()).isBetween(twoMiBInSectors, twoMiBInSectors + 64);
        Shell.run("cmp", source.toString(), onMount.toString());
    }

    @Test
    void sparseFilesBeyondFourGibibytes() {
        Path f = mount.path("beyond-4g");
        byte[] across = FileOperationsTest.random(8192, 4);
        byte[] tail = FileOperationsTest.random(100, 5);
        int fd = Posix.open(f, O_CREAT | O_RDWR, 0644);
        try {
            Posix.pwrite(fd, across, 4 * GIB - 4096);
            Posix.pwrite(fd, tail, 5 * GIB);
            assertThat(Posix.fstat(fd).size()).isEqualTo(5 * GIB + 100);
        } finally {
            Posix.close(fd);
        }
        assertBeyondFourGib(f, across, tail);
        mount.remount();
        assertBeyondFourGib(f, across, tail);

        Posix.truncate(f, 4 * GIB - 10);
        assertThat(Posix.lstat(f).size()).isEqualTo(4 * GIB - 10);
        mount.remount();
        int shrunk = Posix.open(f, O_RDONLY, 0);
        try {
            assertThat(Posix.fstat(shrunk).size()).isEqualTo(4 * GIB - 10);
            assertThat(Posix.pread(shrunk, 10_000, 4 * GIB - 4096)).isEqualTo(Arrays.copyOf(across, 4086));
            assertThat(Posix.pread(shrunk, 100, 5 * GIB)).isEmpty();
            assertThat(Posix.fstat(shrunk).blocks()).isEqualTo(8);
            assertThat(Posix.lseek(shrunk, 4 * GIB - 4096, SEEK_HOLE)).isEqualTo(4 * GIB - 10);
        } finally {
            Posix.close(shrunk);
        }
        // growing again reads zeros where the old data was
        Posix.truncate(f, 5 * GIB + 100);
        fd = Posix.open(f, O_RDONLY, 0);
        try {
            assertThat(Posix.pread(fd, 8192, 4 * GIB - 4096)).isEqualTo(
                    concat(Arrays.copyOf(across, 4086), new byte[8192 - 4086]));
            assertThat(Posix.pread(fd, 100, 5 * GIB)).containsOnly(0);
        } finally {
            Posix.close(fd);
        }
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    private static void assertBeyondFourGib(Path f, byte[] across, byte[] tail) {
        int fd = Posix.open(f, O_RDONLY, 0);
        try {
            Posix.Stat st = Posix.fstat(fd);
            assertThat(st.size()).isEqualTo(5 * GIB + 100);
            // three 4 KiB blocks hold data: two around the 4 GiB boundary and one at 5 GiB
            assertThat(st.blocks()).isEqualTo(3 * 8);
            assertThat(Posix.pread(fd, 8192, 4 * GIB - 4096)).isEqualTo(across);
            assertThat(Posix.pread(fd, 1000, 5 * GIB)).isEqualTo(tail);
            assertThat(Posix.pread(fd, 4096, 5 * GIB - 4096)).containsOnly(0);
            assertThat(Posix.pread(fd, 4096, 4 * GIB + 4096)).containsOnly(0);
            assertThat(Posix.lseek(fd, 0, SEEK_DATA)).isEqualTo(4 * GIB - 4096);
            assertThat(Posix.lseek(fd, 4 * GIB - 4096, SEEK_HOLE)).isEqualTo(4 * GIB + 4096);
            assertThat(Posix.lseek(fd, 4 * GIB + 4096, SEEK_DATA)).isEqualTo(5 * GIB);
        } finally {
            Posix.close(fd);
        }
    }
}
