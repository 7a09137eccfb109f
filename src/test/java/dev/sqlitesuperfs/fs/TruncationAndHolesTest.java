package dev.sqlitesuperfs.fs;

import static dev.sqlitesuperfs.fs.FsFixture.BLOCK;
import static dev.sqlitesuperfs.fs.FsFixture.O_RDWR;
import static dev.sqlitesuperfs.fs.FsFixture.O_TRUNC;
import static dev.sqlitesuperfs.fs.FsFixture.ROOT;
import static dev.sqlitesuperfs.fs.FsFixture.SEEK_DATA;
import static dev.sqlitesuperfs.fs.FsFixture.SEEK_HOLE;
import static dev.sqlitesuperfs.fs.FsFixture.bytes;
import static dev.sqlitesuperfs.fs.FsFixture.errno;
import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.fuse.CreateResult;
import dev.sqlitesuperfs.fuse.Errno;
import java.util.Arrays;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Truncation and holes: bytes cut away never show again, holes read as zeros and are not stored,
 * and SEEK_DATA / SEEK_HOLE find them; in memory, after fsync, and after a remount.
 */
class TruncationAndHolesTest {
    private final FsFixture f = new FsFixture();

    @AfterEach
    void close() {
        f.close();
    }

    private static byte[] filled(int length, int value) {
        byte[] b = new byte[length];
        Arrays.fill(b, (byte) value);
        return b;
    }

    /** The expected content: {@code value} up to {@code kept}, zeros up to {@code size}. */
    private static byte[] keptThenZeros(int kept, int size, int value) {
        byte[] b = new byte[size];
        Arrays.fill(b, 0, kept, (byte) value);
        return b;
    }

    @Test
    void aFileShrunkToAnUnalignedSizeAndGrownAgainReadsZerosPastTheCut() {
        CreateResult c = f.create(1, "f");
        long ino = c.entry().nodeId();
        long fh = c.open().fh();
        f.write(ino, fh, 0, filled(3 * BLOCK, 0xaa));
        f.fsync(ino, fh);
        f.truncate(ino, 5000);
        f.truncate(ino, 3 * BLOCK);
        assertThat(f.read(ino, fh, 0, 3 * BLOCK)).as("in memory").isEqualTo(keptThenZeros(5000, 3 * BLOCK, 0xaa));
        f.fsync(ino, fh);
        assertThat(f.store().tables().blocksOf(ino)).as("the hole after the cut is not stored").containsOnlyKeys(0L, 1L);
        f.release(ino, fh);
        f.remount();
        assertThat(f.content(ino)).as("from storage").isEqualTo(keptThenZeros(5000, 3 * BLOCK, 0xaa));
    }

    /** The same with the cut block still only in memory: the written bytes past the cut go too. */
    @Test
    void unstoredDataCutByAShrinkNeverShowsAgain() {
        CreateResult c = f.create(1, "f");
        long ino = c.entry().nodeId();
        long fh = c.open().fh();
        f.write(ino, fh, 0, filled(3 * BLOCK, 0xdd));
        f.truncate(ino, 5000);
        f.truncate(ino, 3 * BLOCK);
        assertThat(f.read(ino, fh, 0, 3 * BLOCK)).isEqualTo(keptThenZeros(5000, 3 * BLOCK, 0xdd));
        f.fsync(ino, fh);
        f.release(ino, fh);
        f.remount();
        assertThat(f.content(ino)).isEqualTo(keptThenZeros(5000, 3 * BLOCK, 0xdd));
    }

    @Test
    void aShrinkStoredOnItsOwnAndAGrowStoredLaterReadZerosToo() {
        CreateResult c = f.create(1, "f");
        long ino = c.entry().nodeId();
        long fh = c.open().fh();
        f.write(ino, fh, 0, filled(3 * BLOCK, 0xbb));
        f.fsync(ino, fh);
        f.truncate(ino, 5000);
        f.fsync(ino, fh);
        assertThat(f.store().tables().blocksOf(ino)).containsOnlyKeys(0L, 1L);
        assertThat(f.store().tables().inode(ino).orElseThrow().nblocks()).isEqualTo(2);
        f.release(ino, fh);
        f.remount();
        long again = f.open(ino, O_RDWR);
        f.truncate(ino, 3 * BLOCK);
        f.write(ino, again, 3 * BLOCK - 1, new byte[] {1});
        f.fsync(ino, again);
        f.release(ino, again);
        f.remount();
        byte[] expected = keptThenZeros(5000, 3 * BLOCK, 0xbb);
        expected[3 * BLOCK - 1] = 1;
        assertThat(f.content(ino)).isEqualTo(expected);
        assertThat(f.store().check()).isEmpty();
    }

    @Test
    void aSparseWriteStoresOnlyItsBlockAndTheHoleReadsZeros() {
        CreateResult c = f.create(1, "sparse");
        long ino = c.entry().nodeId();
        long fh = c.open().fh();
        f.write(ino, fh, 10L * BLOCK + 5, bytes("x"));
        assertThat(f.attr(ino).size()).isEqualTo(10L * BLOCK + 6);
        f.fsync(ino, fh);
        assertThat(f.store().tables().blocksOf(ino)).containsOnlyKeys(10L);
        assertThat(f.attr(ino).blocks()).as("st_blocks: one block of 4 KiB in 512-byte units").isEqualTo(8);
        f.release(ino, fh);
        f.remount();
        byte[] expected = new byte[10 * BLOCK + 6];
        expected[10 * BLOCK + 5] = 'x';
        assertThat(f.content(ino)).isEqualTo(expected);
    }

    @Test
    void seekDataAndSeekHoleFindTheStoredBlocksAndTheHolesBetween() {
        CreateResult c = f.create(1, "f");
        long ino = c.entry().nodeId();
        long fh = c.open().fh();
        f.write(ino, fh, 0, filled(BLOCK, 1));
        f.write(ino, fh, 10L * BLOCK, filled(100, 2));
        long size = 10L * BLOCK + 100;
        // not synced: lseek stores the file first, so that written data is not taken for a hole
        assertThat(f.fs.lseek(ROOT, ino, fh, 0, SEEK_DATA)).isZero();
        assertThat(f.fs.lseek(ROOT, ino, fh, 100, SEEK_DATA)).isEqualTo(100);
        assertThat(f.fs.lseek(ROOT, ino, fh, BLOCK, SEEK_DATA)).isEqualTo(10L * BLOCK);
        assertThat(f.fs.lseek(ROOT, ino, fh, 10L * BLOCK + 50, SEEK_DATA)).isEqualTo(10L * BLOCK + 50);
        assertThat(f.fs.lseek(ROOT, ino, fh, 0, SEEK_HOLE)).isEqualTo(BLOCK);
        assertThat(f.fs.lseek(ROOT, ino, fh, 5L * BLOCK, SEEK_HOLE)).isEqualTo(5L * BLOCK);
        assertThat(f.fs.lseek(ROOT, ino, fh, 10L * BLOCK, SEEK_HOLE)).as("the end is a hole").isEqualTo(size);
        assertThat(errno(() -> f.fs.lseek(ROOT, ino, fh, size, SEEK_DATA))).isEqualTo(Errno.ENXIO);
        assertThat(errno(() -> f.fs.lseek(ROOT, ino, fh, size, SEEK_HOLE))).isEqualTo(Errno.ENXIO);
        assertThat(errno(() -> f.fs.lseek(ROOT, ino, fh, -1, SEEK_DATA))).isEqualTo(Errno.ENXIO);
        assertThat(errno(() -> f.fs.lseek(ROOT, ino, fh, 0, 0))).as("SEEK_SET is the kernel's").isEqualTo(Errno.EINVAL);

        f.truncate(ino, 20L * BLOCK);
        assertThat(errno(() -> f.fs.lseek(ROOT, ino, fh, 11L * BLOCK, SEEK_DATA))).as("only a hole past the data")
                .isEqualTo(Errno.ENXIO);
        assertThat(f.fs.lseek(ROOT, ino, fh, 10L * BLOCK, SEEK_HOLE)).isEqualTo(11L * BLOCK);
        f.release(ino, fh);
    }

    @Test
    void openWithOTruncEmptiesTheFileAndTheCutBytesNeverShowAgain() {
        long ino = f.file(1, "f", filled(2 * BLOCK, 0xcc));
        f.fsyncdir(1);
        long fh0 = f.open(ino, O_RDWR);
        f.fsync(ino, fh0);
        f.release(ino, fh0);
        long fh = f.open(ino, O_RDWR | O_TRUNC);
        assertThat(f.attr(ino).size()).isZero();
        f.write(ino, fh, 100, bytes("y"));
        byte[] expected = new byte[101];
        expected[100] = 'y';
        assertThat(f.read(ino, fh, 0, 2 * BLOCK)).isEqualTo(expected);
        f.fsync(ino, fh);
        assertThat(f.store().tables().blocksOf(ino)).containsOnlyKeys(0L);
        f.release(ino, fh);
        f.remount();
        assertThat(f.content(ino)).isEqualTo(expected);
    }

    /**
     * A file whose last block was stored short and which then grew (by a write past a hole, a
     * truncation, fallocate) is still one that {@code fsck --verify} accepts: its audit knows
     * the shape a store of the whole file leaves (no block short but the last), and the stored
     * short block must not look like a torn store.
     */
    @Test
    void aFileGrownPastAShortStoredLastBlockPassesTheAudit() {
        long[] grown = new long[3];
        for (int i = 0; i < grown.length; i++) {
            CreateResult c = f.create(1, "grown" + i);
            long ino = c.entry().nodeId();
            long fh = c.open().fh();
            f.write(ino, fh, 0, bytes("short"));
            f.fsync(ino, fh);
            switch (i) {
                case 0 -> f.write(ino, fh, 2L * BLOCK, bytes("past a hole"));
                case 1 -> f.truncate(ino, 2L * BLOCK);
                default -> f.fs.fallocate(ROOT, ino, fh, 0, 2L * BLOCK, 0);
            }
            f.fsync(ino, fh);
            f.release(ino, fh);
            grown[i] = ino;
        }
        f.fs.flushAll();
        java.util.List<String> problems = new dev.sqlitesuperfs.sealed.SealedStore(f.store(), f.ns.sealer(),
                dev.sqlitesuperfs.testing.MemoryNamespace.NAME).audit(BLOCK);
        assertThat(problems).isEmpty();
    }

    @Test
    void truncationsOutOfRangeAndOfDirectoriesAreRefused() {
        long ino = f.file(1, "f", "data");
        long dir = f.mkdir(1, "d");
        assertThat(errno(() -> f.truncate(ino, FsConfig.MAX_FILE_SIZE + 1))).isEqualTo(Errno.EFBIG);
        assertThat(errno(() -> f.truncate(ino, -1))).isEqualTo(Errno.EINVAL);
        assertThat(errno(() -> f.truncate(dir, 0))).isEqualTo(Errno.EISDIR);
        assertThat(f.attr(ino).size()).isEqualTo(4);
    }
}
