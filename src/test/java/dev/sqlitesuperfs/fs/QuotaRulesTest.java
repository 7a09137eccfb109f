package dev.sqlitesuperfs.fs;

import static dev.sqlitesuperfs.fs.FsFixture.BLOCK;
import static dev.sqlitesuperfs.fs.FsFixture.ROOT;
import static dev.sqlitesuperfs.fs.FsFixture.errno;
import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.fuse.CreateResult;
import dev.sqlitesuperfs.fuse.Errno;
import dev.sqlitesuperfs.fuse.StatFs;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The quota ({@link FsConfig#quotaBytes}): a write that would take the namespace's blocks past it
 * fails with ENOSPC at once, with nothing changed; overwrites in place and freed space are
 * accounted; statfs reports it; a remount counts what is stored.
 */
class QuotaRulesTest {
    private static final int QUOTA_BLOCKS = 8;

    private final FsFixture f = new FsFixture((long) QUOTA_BLOCKS * BLOCK);

    @AfterEach
    void close() {
        f.close();
    }

    private static byte[] blocks(int n, int value) {
        byte[] b = new byte[n * BLOCK];
        java.util.Arrays.fill(b, (byte) value);
        return b;
    }

    @Test
    void aWritePastTheQuotaFailsAtOnceWithNothingChanged() {
        CreateResult c = f.create(1, "f");
        long ino = c.entry().nodeId();
        long fh = c.open().fh();
        f.write(ino, fh, 0, blocks(QUOTA_BLOCKS - 1, 1));
        int stored = f.store().transactions().size();
        assertThat(errno(() -> f.write(ino, fh, (QUOTA_BLOCKS - 1L) * BLOCK, blocks(2, 2)))).as("two blocks, one free")
                .isEqualTo(Errno.ENOSPC);
        assertThat(f.attr(ino).size()).as("nothing of the refused write").isEqualTo((QUOTA_BLOCKS - 1L) * BLOCK);
        assertThat(f.read(ino, fh, 0, QUOTA_BLOCKS * BLOCK)).isEqualTo(blocks(QUOTA_BLOCKS - 1, 1));
        assertThat(f.store().transactions()).as("refused in memory, without a commit").hasSize(stored);

        f.write(ino, fh, (QUOTA_BLOCKS - 1L) * BLOCK, blocks(1, 3));
        StatFs full = f.fs.statfs(ROOT, 1);
        assertThat(full.blocks()).isEqualTo(QUOTA_BLOCKS);
        assertThat(full.bfree()).isZero();
        assertThat(errno(() -> f.write(ino, fh, (long) QUOTA_BLOCKS * BLOCK, new byte[1]))).isEqualTo(Errno.ENOSPC);
        CreateResult other = f.create(1, "g");
        assertThat(errno(() -> f.write(other.entry().nodeId(), other.open().fh(), 0, new byte[1])))
                .as("the quota is the namespace's").isEqualTo(Errno.ENOSPC);
        f.write(ino, fh, 0, blocks(2, 4)); // in place: no new block
        f.fsync(ino, fh);
        f.release(ino, fh);
    }

    @Test
    void spaceFreedByATruncationOrRemovalCanBeWrittenAgainAndARemountCountsWhatIsStored() {
        CreateResult c = f.create(1, "f");
        long ino = c.entry().nodeId();
        long fh = c.open().fh();
        f.write(ino, fh, 0, blocks(QUOTA_BLOCKS, 1));
        f.fsync(ino, fh);
        f.truncate(ino, 4L * BLOCK);
        f.write(ino, fh, 4L * BLOCK, blocks(4, 2));
        assertThat(f.attr(ino).size()).isEqualTo((long) QUOTA_BLOCKS * BLOCK);
        f.fsync(ino, fh);
        f.release(ino, fh);
        f.remount();
        assertThat(f.fs.statfs(ROOT, 1).bfree()).isZero();
        long again = f.open(ino, FsFixture.O_RDWR);
        assertThat(errno(() -> f.write(ino, again, (long) QUOTA_BLOCKS * BLOCK, new byte[1]))).isEqualTo(Errno.ENOSPC);
        f.release(ino, again);
        f.fs.unlink(ROOT, 1, FsFixture.bytes("f"));
        assertThat(f.fs.statfs(ROOT, 1).bfree()).isEqualTo(QUOTA_BLOCKS);
        f.file(1, "g", blocks(QUOTA_BLOCKS, 5));
    }

    @Test
    void fallocatePastTheQuotaIsRefused() {
        CreateResult c = f.create(1, "f");
        long ino = c.entry().nodeId();
        long fh = c.open().fh();
        assertThat(errno(() -> f.fs.fallocate(ROOT, ino, fh, 0, (QUOTA_BLOCKS + 1L) * BLOCK, 0)))
                .isEqualTo(Errno.ENOSPC);
        assertThat(f.attr(ino).size()).isZero();
        f.fs.fallocate(ROOT, ino, fh, 0, (long) QUOTA_BLOCKS * BLOCK, 0);
        assertThat(f.attr(ino).size()).isEqualTo((long) QUOTA_BLOCKS * BLOCK);
        f.release(ino, fh);
    }
}
