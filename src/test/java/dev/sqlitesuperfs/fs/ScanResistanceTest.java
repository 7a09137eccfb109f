package dev.sqlitesuperfs.fs;

import static dev.sqlitesuperfs.fs.FsFixture.BLOCK;
import static dev.sqlitesuperfs.fs.FsFixture.O_RDONLY;
import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.fuse.CreateResult;
import java.util.Arrays;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A file read through in large requests (the kernel's readahead of a scan, a backup, cat) does
 * not push the blocks that are read again out of the block cache (here 16 blocks): the scan's
 * blocks are not cached, the kernel's page cache has them.
 */
class ScanResistanceTest {
    private final FsFixture f = new FsFixture();

    @AfterEach
    void close() {
        f.close();
    }

    private long file(String name, int blocks, int fill) {
        CreateResult c = f.create(1, name);
        long ino = c.entry().nodeId();
        long fh = c.open().fh();
        byte[] data = new byte[blocks * BLOCK];
        Arrays.fill(data, (byte) fill);
        f.write(ino, fh, 0, data);
        f.fsync(ino, fh);
        f.release(ino, fh);
        return ino;
    }

    @Test
    void aScanDoesNotEvictTheBlocksReadAgain() {
        long hot = file("hot", 1, 'h');
        long big = file("big", 64, 'b');
        f.remount();
        long hotFh = f.open(hot, O_RDONLY);
        long bigFh = f.open(big, O_RDONLY);
        assertThat(f.read(hot, hotFh, 0, BLOCK)).containsOnly('h');

        int scanRead = (int) FileContents.SCAN_BYTES;
        for (long at = 0; at < 64L * BLOCK; at += scanRead) {
            assertThat(f.read(big, bigFh, at, scanRead)).hasSize(scanRead).containsOnly('b');
        }
        long hitsBefore = f.fs.metrics().cacheHits();
        assertThat(f.read(hot, hotFh, 0, BLOCK)).containsOnly('h');
        assertThat(f.fs.metrics().cacheHits() - hitsBefore).as("the hot block is still cached").isEqualTo(1);

        hitsBefore = f.fs.metrics().cacheHits();
        f.read(big, bigFh, 0, BLOCK);
        f.read(big, bigFh, 0, BLOCK);
        assertThat(f.fs.metrics().cacheHits() - hitsBefore).as("a small read of the big file is cached").isEqualTo(1);
        f.release(hot, hotFh);
        f.release(big, bigFh);
    }
}
