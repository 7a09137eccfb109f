package dev.sqlitesuperfs.it;

import static dev.sqlitesuperfs.testing.Posix.O_APPEND;
import static dev.sqlitesuperfs.testing.Posix.O_CREAT;
import static dev.sqlitesuperfs.testing.Posix.O_EXCL;
import static dev.sqlitesuperfs.testing.Posix.O_RDONLY;
import static dev.sqlitesuperfs.testing.Posix.O_RDWR;
import static dev.sqlitesuperfs.testing.Posix.O_TRUNC;
import static dev.sqlitesuperfs.testing.Posix.O_WRONLY;
import static dev.sqlitesuperfs.testing.Posix.errnoOf;
import static dev.sqlitesuperfs.fuse.Errno.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sqlitesuperfs.testing.Posix;
import dev.sqlitesuperfs.testing.TestMount;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Reading, writing, sizes, truncation, holes, open flags and errors on regular files. */
class FileOperationsTest {

    @RegisterExtension
    static final TestMount mount = TestMount.perClass();

    static byte[] random(int size, long seed) {
        byte[] b = new byte[size];
        new Random(seed).nextBytes(b);
        return b;
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 100, 4095, 4096, 4097, 8191, 8192, 8193, 65536, 1 << 20, (1 << 20) + 17, 3_000_001})
    void contentRoundTripsAtSizesAroundBlockBoundaries(int size) throws IOException {
        Path f = mount.path("size-" + size);
        byte[] data = random(size, size);
        Files.write(f, data);
        assertThat(Files.size(f)).isEqualTo(size);
        assertThat(Files.readAllBytes(f)).isEqualTo(data);
    }

    @Test
    void overwriteInTheMiddleKeepsTheRest() throws IOException {
        Path f = mount.path("overwrite");
        byte[] data = random(20_000, 1);
        Files.write(f, data);
        int fd = Posix.open(f, O_RDWR, 0);
        try {
            Posix.pwrite(fd, new byte[] {1, 2, 3, 4, 5}, 4094);
            Posix.fsync(fd);
        } finally {
            Posix.close(fd);
        }
        System.arraycopy(new byte[] {1, 2, 3, 4, 5}, 0, data, 4094, 5);
        assertThat(Files.readAllBytes(f)).isEqualTo(data);
    }

    @Test
    void pwritePastTheEndLeavesZerosInTheGap() {
        Path f = mount.path("gap");
        int fd = Posix.open(f, O_CREAT | O_RDWR, 0644);
        try {
            Posix.pwrite(fd, new byte[] {9}, 0);
            Posix.pwrite(fd, new byte[] {7, 7}, 10_000);
            byte[] all = Posix.pread(fd, 20_000, 0);
            assertThat(all).hasSize(10_002);
            assertThat(all[0]).isEqualTo((byte) 9);
            assertThat(Arrays.copyOfRange(all, 1, 10_000)).containsOnly(0);
            assertThat(all[10_000]).isEqualTo((byte) 7);
        } finally {
            Posix.close(fd);
        }
    }

    @Test
    void appendFromTwoDescriptorsNeverOverwrites() {
        Path f = mount.path("append");
        int a = Posix.open(f, O_CREAT | O_WRONLY | O_APPEND, 0644);
        int b = Posix.open(f, O_WRONLY | O_APPEND, 0);
        try {
            for (int i = 0; i < 100; i++) {
                Posix.write(i % 2 == 0 ? a : b, ("line " + i + "\n").getBytes());
            }
        } finally {
            Posix.close(a);
            Posix.close(b);
        }
        int fd = Posix.open(f, O_RDONLY, 0);
        try {
            String text = new String(Posix.pread(fd, 10_000, 0));
            assertThat(text.lines()).hasSize(100);
            for (int i = 0; i < 100; i++) {
                assertThat(text).contains("line " + i + "\n");
            }
        } finally {
            Posix.close(fd);
        }
    }

    @Test
    void openWithTruncEmptiesTheFile() throws IOException {
        Path f = mount.path("trunc");
        Files.write(f, random(10_000, 2));
        int fd = Posix.open(f, O_WRONLY | O_TRUNC, 0);
        Posix.close(fd);
        assertThat(Files.size(f)).isZero();
        assertThat(Posix.lstat(f).blocks()).isZero();
    }

    @Test
    void ftruncateShrinksAndGrowsWithZeros() throws IOException {
        Path f = mount.path("ftruncate");
        byte[] data = random(3 * 4096 + 100, 3);
        Files.write(f, data);
        int fd = Posix.open(f, O_RDWR, 0);
        try {
            Posix.ftruncate(fd, 5000);
            assertThat(Posix.fstat(fd).size()).isEqualTo(5000);
            Posix.ftruncate(fd, 20_000);
            byte[] all = Posix.pread(fd, 30_000, 0);
            assertThat(all).hasSize(20_000);
            assertThat(Arrays.copyOf(all, 5000)).isEqualTo(Arrays.copyOf(data, 5000));
            assertThat(Arrays.copyOfRange(all, 5000, 20_000)).containsOnly(0);
        } finally {
            Posix.close(fd);
        }
    }

    @Test
    void shrinkToAnUnalignedSizeThenGrowExposesOnlyZerosAfterRemount() throws IOException {
        Path f = mount.path("unaligned");
        byte[] data = random(8192, 4);
        Files.write(f, data);
        try (var ch = java.nio.channels.FileChannel.open(f, java.nio.file.StandardOpenOption.WRITE)) {
            ch.truncate(4100);
        }
        mount.remount();
        int fd = Posix.open(f, O_RDWR, 0);
        try {
            Posix.ftruncate(fd, 8192);
        } finally {
            Posix.close(fd);
        }
        mount.remount();
        byte[] after = Files.readAllBytes(f);
        assertThat(Arrays.copyOf(after, 4100)).isEqualTo(Arrays.copyOf(data, 4100));
        assertThat(Arrays.copyOfRange(after, 4100, 8192)).containsOnly(0);
    }

    @Test
    void holesReadAsZerosAndCostNoStorage() {
        Path f = mount.path("sparse");
        int fd = Posix.open(f, O_CREAT | O_RDWR, 0644);
        try {
            Posix.pwrite(fd, new byte[] {1}, 100L << 20);
            Posix.fsync(fd);
            Posix.Stat st = Posix.fstat(fd);
            assertThat(st.size()).isEqualTo((100L << 20) + 1);
            assertThat(st.blocks()).isEqualTo(8); // one 4 KiB block, in 512-byte units
            assertThat(Posix.pread(fd, 8192, 50L << 20)).hasSize(8192).containsOnly(0);
            assertThat(Posix.lseek(fd, 0, Posix.SEEK_DATA)).isEqualTo(100L << 20);
            assertThat(Posix.lseek(fd, 0, Posix.SEEK_HOLE)).isZero();
            assertThat(Posix.lseek(fd, 100L << 20, Posix.SEEK_HOLE)).isEqualTo((100L << 20) + 1);
            assertThat(errnoOf(() -> Posix.lseek(fd, (100L << 20) + 1, Posix.SEEK_DATA))).isEqualTo(ENXIO);
        } finally {
            Posix.close(fd);
        }
    }

    /**
     * st_blocks follows what is stored: told to the kernel at once after a quiet second, and at
     * most a second and a write-back tick late for a file stored more often (BlockCountNotices).
     */
    @Test
    void blockCountReachesTheKernelAlsoWhenAFileIsStoredAgainAtOnce() throws InterruptedException {
        Path f = mount.path("blocks-twice");
        int fd = Posix.open(f, O_CREAT | O_RDWR, 0644);
        try {
            Posix.pwrite(fd, new byte[4096], 0);
            Posix.fsync(fd);
            assertThat(Posix.fstat(fd).blocks()).isEqualTo(8);
            Posix.pwrite(fd, new byte[] {1}, 4096);
            Posix.pwrite(fd, new byte[] {1}, 8192);
            Posix.fsync(fd);
            long deadline = System.nanoTime() + 20_000_000_000L;
            while (Posix.fstat(fd).blocks() != 24 && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            assertThat(Posix.fstat(fd).blocks()).isEqualTo(24);
        } finally {
            Posix.close(fd);
        }
    }

    /**
     * Many separate dirty pages make the kernel's writeback of them overlap the seeks: every
     * answer must still count every page written before it.
     */
    @Test
    void seekDataAndHoleSeeEveryPageStillInTheKernel() {
        for (int round = 0; round < 5; round++) {
            Path f = mount.path("seek-scattered-" + round);
            int fd = Posix.open(f, O_CREAT | O_RDWR, 0644);
            try {
                int pages = 300;
                for (int i = pages - 1; i >= 0; i--) {
                    Posix.pwrite(fd, new byte[] {(byte) (i + 1)}, i * 8192L);
                }
                for (int i = 0; i < pages; i++) {
                    long at = i * 8192L;
                    assertThat(Posix.lseek(fd, at, Posix.SEEK_DATA)).as("SEEK_DATA %d", at).isEqualTo(at);
                    assertThat(Posix.lseek(fd, at, Posix.SEEK_HOLE)).as("SEEK_HOLE %d", at)
                            .isEqualTo(i == pages - 1 ? at + 1 : at + 4096);
                }
            } finally {
                Posix.close(fd);
            }
        }
    }

    @Test
    void seekDataAndHoleSeeUnsyncedWrites() {
        Path f = mount.path("seek-unsynced");
        int fd = Posix.open(f, O_CREAT | O_RDWR, 0644);
        try {
            Posix.pwrite(fd, random(4096, 5), 8192);
            assertThat(Posix.lseek(fd, 0, Posix.SEEK_DATA)).isEqualTo(8192);
            assertThat(Posix.lseek(fd, 8192, Posix.SEEK_HOLE)).isEqualTo(12288);
        } finally {
            Posix.close(fd);
        }
    }

    @Test
    void fallocateExtendsOrKeepsSizeAndRefusesOtherModes() {
        Path f = mount.path("falloc");
        int fd = Posix.open(f, O_CREAT | O_RDWR, 0644);
        try {
            Posix.fallocate(fd, 0, 0, 10_000);
            assertThat(Posix.fstat(fd).size()).isEqualTo(10_000);
            Posix.fallocate(fd, Posix.FALLOC_FL_KEEP_SIZE, 0, 50_000);
            assertThat(Posix.fstat(fd).size()).isEqualTo(10_000);
            assertThat(errnoOf(() -> Posix.fallocate(fd, Posix.FALLOC_FL_PUNCH_HOLE | Posix.FALLOC_FL_KEEP_SIZE, 0, 4096)))
                    .isEqualTo(EOPNOTSUPP);
            assertThat(Posix.pread(fd, 10_000, 0)).containsOnly(0);
        } finally {
            Posix.close(fd);
        }
    }

    @Test
    void missingPathsGiveEnoentForEveryOperation() {
        Path missing = mount.path("no-such-file");
        Path missingDir = mount.path("no-such-dir/child");
        for (int flags : new int[] {O_RDONLY, O_WRONLY, O_RDWR, O_WRONLY | O_TRUNC, O_RDWR | O_APPEND}) {
            assertThat(errnoOf(() -> Posix.open(missing, flags, 0))).as("open flags %o", flags).isEqualTo(ENOENT);
        }
        assertThat(errnoOf(() -> Posix.open(missingDir, O_CREAT | O_WRONLY, 0644))).isEqualTo(ENOENT);
        assertThat(errnoOf(() -> Posix.lstat(missing))).isEqualTo(ENOENT);
        assertThat(errnoOf(() -> Posix.rename(missing, mount.path("x"), 0))).isEqualTo(ENOENT);
        assertThat(errnoOf(() -> Posix.link(missing, mount.path("y")))).isEqualTo(ENOENT);
        assertThat(errnoOf(() -> Posix.utimens(missing, 0, Posix.UTIME_NOW, 0, Posix.UTIME_NOW, false))).isEqualTo(ENOENT);
        assertThat(errnoOf(() -> Posix.getxattr(missing, "user.x"))).isEqualTo(ENOENT);
        assertThat(Files.exists(missing)).isFalse();
        assertThatThrownBy(() -> Files.delete(missing)).isInstanceOf(java.nio.file.NoSuchFileException.class);
        assertThatThrownBy(() -> Files.newDirectoryStream(missing)).isInstanceOf(java.nio.file.NoSuchFileException.class);
        assertThatThrownBy(() -> Files.setPosixFilePermissions(missing, java.util.Set.of()))
                .isInstanceOf(java.nio.file.NoSuchFileException.class);
        assertThatThrownBy(() -> Files.readSymbolicLink(missing)).isInstanceOf(java.nio.file.NoSuchFileException.class);
    }

    @ParameterizedTest
    @ValueSource(ints = {O_CREAT | O_WRONLY, O_CREAT | O_RDWR, O_CREAT | O_WRONLY | O_TRUNC,
            O_CREAT | O_WRONLY | O_APPEND, O_CREAT | O_EXCL | O_WRONLY, O_CREAT | O_EXCL | O_RDWR})
    void createAndRemoveCyclesInEveryWriteMode(int flags) throws IOException {
        Path dir = Files.createDirectory(mount.path("cycles-" + Integer.toOctalString(flags)));
        for (int i = 0; i < 25; i++) {
            Path f = dir.resolve("f");
            int fd = Posix.open(f, flags, 0600);
            Posix.write(fd, ("round " + i).getBytes());
            Posix.close(fd);
            assertThat(Files.readString(f)).isEqualTo("round " + i);
            Files.delete(f);
        }
        try (var s = Files.list(dir)) {
            assertThat(s).isEmpty();
        }
    }

    @Test
    void exclusiveCreateOfAnExistingFileFails() throws IOException {
        Path f = Files.createFile(mount.path("exists"));
        assertThat(errnoOf(() -> Posix.open(f, O_CREAT | O_EXCL | O_WRONLY, 0644))).isEqualTo(EEXIST);
    }

    @Test
    void secondCloseIsEbadf() throws IOException {
        Path f = Files.createFile(mount.path("close-twice"));
        int fd = Posix.open(f, O_RDONLY, 0);
        Posix.close(fd);
        assertThat(errnoOf(() -> Posix.close(fd))).isEqualTo(EBADF);
    }
}
