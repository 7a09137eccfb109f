package dev.sqlitesuperfs.fs;

import static dev.sqlitesuperfs.fs.FsFixture.BLOCK;
import static dev.sqlitesuperfs.fs.FsFixture.O_RDONLY;
import static dev.sqlitesuperfs.fs.FsFixture.ROOT;
import static dev.sqlitesuperfs.fs.FsFixture.bytes;
import static dev.sqlitesuperfs.fs.FsFixture.errno;
import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.fuse.CreateResult;
import dev.sqlitesuperfs.fuse.Errno;
import java.util.Arrays;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** What a namespace's filesystem counts for the operator's metrics. */
class FsMetricsTest {
    private final FsFixture f = new FsFixture();

    @AfterEach
    void close() {
        f.close();
    }

    @Test
    void bytesFsyncsCacheAndErrorsAreCounted() {
        CreateResult c = f.create(1, "f");
        long ino = c.entry().nodeId();
        long fh = c.open().fh();
        f.write(ino, fh, 0, new byte[3 * BLOCK]);
        f.fsync(ino, fh);
        f.fsync(ino, fh);
        f.release(ino, fh);
        f.remount();
        long reader = f.open(ino, O_RDONLY);
        f.read(ino, reader, 0, BLOCK);
        f.read(ino, reader, 0, 100);
        assertThat(errno(() -> f.fs.unlink(ROOT, 1, bytes("missing")))).isEqualTo(Errno.ENOENT);

        FsMetrics m = f.fs.metrics();
        assertThat(m.bytesWritten()).as("before the remount: a new filesystem counts afresh").isZero();
        assertThat(m.bytesRead()).isEqualTo(BLOCK + 100);
        assertThat(m.cacheMisses()).as("the first read of the block").isPositive();
        assertThat(m.cacheHits()).as("the second read of the same block").isPositive();
        assertThat(m.errors()).containsEntry(Errno.ENOENT, 1L);
        f.release(ino, reader);
    }

    @Test
    void fsyncsLandInTheHistogramAndTamperIsCounted() {
        CreateResult c = f.create(1, "f");
        long ino = c.entry().nodeId();
        long fh = c.open().fh();
        f.write(ino, fh, 0, bytes("sealed"));
        f.fsync(ino, fh);
        f.fsync(ino, fh);
        FsMetrics m = f.fs.metrics();
        assertThat(Arrays.stream(m.fsyncBuckets()).sum()).isEqualTo(2);
        assertThat(m.fsyncSeconds()).isPositive();
        assertThat(m.bytesWritten()).isEqualTo(6);
        f.release(ino, fh);

        f.store().tamper(rows -> rows.putBlock(ino, 0, new byte[40]));
        f.remount();
        long reader = f.open(ino, O_RDONLY);
        assertThat(errno(() -> f.read(ino, reader, 0, 10))).isEqualTo(Errno.EIO);
        assertThat(f.fs.metrics().tamperEvents()).isEqualTo(1);
        assertThat(f.fs.metrics().errors()).containsEntry(Errno.EIO, 1L);
    }
}
