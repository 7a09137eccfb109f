package dev.sqlitesuperfs.fs;

import dev.sqlitesuperfs.sealed.SealedStore;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The bytes of regular files as they are read: through written blocks not stored yet (see
 * {@link WriteBuffer}, which keeps them on the node), the plaintext block cache, and storage.
 * Blocks past {@code ceil(keptSize / blockSize)} are never read from storage (a truncation not
 * stored yet cut them away), and a block shorter than the block size reads as zeros past its end,
 * so holes and regrown tails read as zeros.
 *
 * <p>Callers hold the node's lock (the read lock is enough).
 */
final class FileContents {
    /** Bytes fetched from storage by one read from which on the blocks are not cached (see {@link #read}). */
    static final long SCAN_BYTES = 128 * 1024;

    private final SealedStore store;
    private final BlockCache.Tenant cache;
    private final int blockSize;

    FileContents(SealedStore store, BlockCache.Tenant cache, int blockSize) {
        this.store = store;
        this.cache = cache;
        this.blockSize = blockSize;
    }

    int read(Node n, long offset, int size, MemorySegment dest) {
        if (offset >= n.attrs.size || size <= 0) {
            return 0;
        }
        int length = (int) Math.min(size, n.attrs.size - offset);
        long first = offset / blockSize;
        long last = (offset + length - 1) / blockSize;
        byte[][] blocks = new byte[(int) (last - first + 1)][];
        long storedEnd = readableEnd(n);
        long missingFrom = -1;
        long missingTo = -1;
        for (long idx = first; idx <= last; idx++) {
            byte[] b = n.dirty.get(idx);
            if (b == null) {
                b = cache.get(n.ino, idx);
            }
            if (b == null && idx < storedEnd) {
                if (missingFrom < 0) {
                    missingFrom = idx;
                }
                missingTo = idx + 1;
            }
            blocks[(int) (idx - first)] = b;
        }
        if (missingFrom >= 0) {
            // A scan (the kernel's readahead of a file read through) is not cached: the kernel's
            // page cache has it, and keeping it would push out the blocks that are read again.
            boolean keep = (missingTo - missingFrom) * blockSize < SCAN_BYTES;
            store.readBlocks(n.ino, missingFrom, missingTo, (idx, data) -> {
                int slot = (int) (idx - first);
                if (blocks[slot] == null) {
                    blocks[slot] = data;
                    if (keep) {
                        cache.put(n.ino, idx, data);
                    }
                }
            });
        }
        int done = 0;
        long pos = offset;
        while (done < length) {
            byte[] b = blocks[(int) (pos / blockSize - first)];
            int inBlock = (int) (pos % blockSize);
            int chunk = Math.min(blockSize - inBlock, length - done);
            int present = b == null ? 0 : Math.clamp(b.length - inBlock, 0, chunk);
            if (present > 0) {
                MemorySegment.copy(b, inBlock, dest, ValueLayout.JAVA_BYTE, done, present);
            }
            if (present < chunk) {
                dest.asSlice(done + present, chunk - present).fill((byte) 0);
            }
            done += chunk;
            pos += chunk;
        }
        return length;
    }

    /** The block's current bytes from cache or storage (null for a hole); not from dirty. */
    byte[] existing(Node n, long idx, long storedEnd) {
        byte[] cached = cache.get(n.ino, idx);
        if (cached != null || idx >= storedEnd) {
            return cached;
        }
        byte[][] found = new byte[1][];
        store.readBlocks(n.ino, idx, idx + 1, (i, data) -> found[0] = data);
        if (found[0] != null) {
            cache.put(n.ino, idx, found[0]);
        }
        return found[0];
    }

    /** Blocks needed to hold {@code size} bytes. */
    long blocksFor(long size) {
        return (size + blockSize - 1) / blockSize;
    }

    /**
     * Stored block rows plus written blocks that will add rows, in 512-byte units (st_blocks).
     * After a truncation not stored yet, the rows it will delete no longer count (estimated: at
     * most every block below the new end).
     */
    long statBlocks(Node n) {
        long keptEnd = blocksFor(n.keptSize);
        long stored = n.keptSize < n.storedSize ? Math.min(n.attrs.nblocks, keptEnd) : n.attrs.nblocks;
        long pending = pendingFrom(n, keptEnd);
        return (stored + pending) * (blockSize / 512);
    }

    /**
     * Written blocks at or past {@code keptEnd}, without walking them when all are (appends): the
     * kernel asks for attributes while a file is written, and a file can hold many written blocks.
     */
    private static long pendingFrom(Node n, long keptEnd) {
        if (n.dirty.isEmpty()) {
            return 0;
        }
        return n.dirty.firstKey() >= keptEnd ? n.dirty.size() : n.dirty.tailMap(keptEnd).size();
    }

    /**
     * Blocks from this index on are not read from storage: a truncation not stored yet cut them
     * away, or, for a node whose inode was reclaimed (unlinked and closed, yet opened again by a
     * request that raced the removal), storage no longer has any.
     */
    long readableEnd(Node n) {
        return n.removed ? 0 : blocksFor(n.keptSize);
    }

    /** A block as it was just stored, for later reads. */
    void remember(long ino, long idx, byte[] stored) {
        cache.put(ino, idx, stored);
    }

    /** Drops the cached blocks of {@code ino} from {@code fromIdx} on: storage no longer has them so. */
    void forgetFrom(long ino, long fromIdx) {
        cache.invalidate(ino, fromIdx);
    }
}
