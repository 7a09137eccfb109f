package dev.sqlitesuperfs.fs;

import dev.sqlitesuperfs.crypto.PlainBlock;
import dev.sqlitesuperfs.crypto.SealedStore;
import dev.sqlitesuperfs.fuse.Errno;
import dev.sqlitesuperfs.fuse.FuseException;
import dev.sqlitesuperfs.fuse.KernelChannel;
import dev.sqlitesuperfs.store.CommitResult;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The bytes of regular files: reads through dirty blocks, the block cache and storage; writes
 * into whole-block buffers kept in memory until a durability point; truncation; and staging of a
 * file's dirty blocks into a transaction.
 *
 * <p>Invariants: a stored block holds exactly the file's bytes that fall in it, so the last block
 * of a file is stored shorter than a block; every byte of a buffer past the file's size is zero;
 * no block is stored at or past {@code ceil(storedSize / blockSize)}. Together they make holes
 * and regrown tails read as zeros without any extra bookkeeping.
 *
 * <p>Callers hold the node's lock: the read lock for {@link #read}, the write lock for the rest.
 */
final class FileContents {
    private final SealedStore store;
    private final BlockCache cache;
    private final int blockSize;
    private final AtomicLong dirtyBytes = new AtomicLong();
    private final AtomicLong storedBlocks = new AtomicLong();
    private final Set<Node> dirtyNodes = ConcurrentHashMap.newKeySet();
    private volatile KernelChannel kernel = NO_KERNEL;

    private static final KernelChannel NO_KERNEL = new KernelChannel() {
        @Override
        public void invalidateAttributes(long ino) {}

        @Override
        public void writeBackPages(long ino) {}
    };

    FileContents(SealedStore store, BlockCache cache, int blockSize) {
        this.store = store;
        this.cache = cache;
        this.blockSize = blockSize;
    }

    /** From INIT on, flushes tell the kernel when the block count it caches went stale. */
    void connect(KernelChannel kernel) {
        this.kernel = kernel;
    }

    long dirtyBytes() {
        return dirtyBytes.get();
    }

    /** Block rows stored for the whole namespace (statfs, quota). */
    long storedBlocks() {
        return storedBlocks.get();
    }

    void initStoredBlocks(long blocks) {
        storedBlocks.set(blocks);
    }

    /** Nodes holding written data or times not stored yet. */
    Set<Node> dirtyNodes() {
        return dirtyNodes;
    }

    /** Marks timestamps changed without storing them yet (see the setattr rules). */
    void timesChanged(Node n) {
        n.timesDirty = true;
        markDirty(n);
    }

    private void markDirty(Node n) {
        if (n.dirtySinceNanos == 0) {
            n.dirtySinceNanos = System.nanoTime() | 1;
        }
        dirtyNodes.add(n);
    }

    private void markClean(Node n) {
        n.dirtySinceNanos = 0;
        n.timesDirty = false;
        dirtyNodes.remove(n);
    }

    int read(Node n, long offset, int size, MemorySegment dest) {
        if (offset >= n.size || size <= 0) {
            return 0;
        }
        int length = (int) Math.min(size, n.size - offset);
        long first = offset / blockSize;
        long last = (offset + length - 1) / blockSize;
        byte[][] blocks = new byte[(int) (last - first + 1)][];
        long storedEnd = blocksFor(n.storedSize);
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
            store.readBlocks(n.ino, missingFrom, missingTo, (idx, data) -> {
                int slot = (int) (idx - first);
                if (blocks[slot] == null) {
                    blocks[slot] = data;
                    cache.put(n.ino, idx, data);
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

    /** Buffers {@code data} at {@code offset}; updates size and times. Not durable. */
    void write(Node n, long offset, MemorySegment data, long now) {
        int length = (int) data.byteSize();
        if (offset < 0) {
            throw new FuseException(Errno.EINVAL);
        }
        if (length == 0) {
            return;
        }
        if (offset + length > FsConfig.MAX_FILE_SIZE || offset + length < 0) {
            throw new FuseException(Errno.EFBIG);
        }
        long storedEnd = blocksFor(n.storedSize);
        int done = 0;
        long pos = offset;
        while (done < length) {
            long idx = pos / blockSize;
            int inBlock = (int) (pos % blockSize);
            int chunk = Math.min(blockSize - inBlock, length - done);
            byte[] block = n.dirty.get(idx);
            if (block == null) {
                block = new byte[blockSize];
                if (chunk < blockSize) {
                    byte[] old = existing(n, idx, storedEnd);
                    if (old != null) {
                        System.arraycopy(old, 0, block, 0, Math.min(old.length, blockSize));
                    }
                }
                n.dirty.put(idx, block);
                dirtyBytes.addAndGet(blockSize);
            }
            MemorySegment.copy(data, ValueLayout.JAVA_BYTE, done, block, inBlock, chunk);
            done += chunk;
            pos += chunk;
        }
        n.size = Math.max(n.size, offset + length);
        n.mtimeNs = now;
        n.ctimeNs = now;
        markDirty(n);
    }

    /** The block's current bytes from cache or storage (null for a hole); not from dirty. */
    private byte[] existing(Node n, long idx, long storedEnd) {
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

    /** Stored block rows plus written blocks that will add rows, in 512-byte units (st_blocks). */
    long statBlocks(Node n) {
        long pending = n.dirty.isEmpty() ? 0 : n.dirty.tailMap(blocksFor(n.storedSize)).size();
        return (n.nblocks + pending) * (blockSize / 512);
    }

    /**
     * Adds the node's row (from {@code attrs}, whose size may differ from the node's: a
     * truncation) and every dirty block to {@code tx}. Returns what to apply once the commit
     * returned. The node must not change in between (the caller keeps the write lock).
     */
    Staged stage(SealedStore.Transaction tx, Node n, Attrs attrs) {
        long newSize = attrs.size;
        if (newSize < 0 || newSize > FsConfig.MAX_FILE_SIZE) {
            throw new FuseException(newSize < 0 ? Errno.EINVAL : Errno.EFBIG);
        }
        // A shrink changes which blocks go down (and cuts the tail block), so it works on a copy;
        // otherwise the dirty blocks are staged as they are, without copying the map.
        TreeMap<Long, byte[]> blocks = n.dirty;
        long storedEnd = blocksFor(n.storedSize);
        long keepEnd = blocksFor(newSize);
        long firstNew = storedEnd;
        if (newSize < n.size) {
            blocks = new TreeMap<>(n.dirty.headMap(keepEnd));
            int tail = (int) (newSize % blockSize);
            long tailIdx = newSize / blockSize;
            if (tail != 0) {
                byte[] b = blocks.get(tailIdx);
                if (b == null) {
                    b = existing(n, tailIdx, storedEnd);
                }
                if (b != null) {
                    byte[] cut = Arrays.copyOf(b, blockSize);
                    Arrays.fill(cut, tail, blockSize, (byte) 0);
                    blocks.put(tailIdx, cut);
                }
            }
            if (keepEnd < storedEnd) {
                tx.truncateBlocks(n.ino, keepEnd);
                firstNew = keepEnd;
            }
        }
        List<PlainBlock> plain = new ArrayList<>(blocks.size());
        for (Map.Entry<Long, byte[]> e : blocks.entrySet()) {
            long base = e.getKey() * blockSize;
            plain.add(new PlainBlock(e.getKey(), e.getValue(), (int) Math.min(blockSize, newSize - base)));
        }
        tx.putInode(attrs.record());
        tx.putBlocks(n.ino, firstNew, plain);
        return new Staged(n, attrs, plain, newSize < n.size);
    }

    /**
     * Stores the node's row from {@code attrs} (a truncation if its size differs) with all of its
     * written blocks, in one transaction, then applies it. The caller holds the write lock.
     */
    void commit(Node n, Attrs attrs) {
        SealedStore.Transaction tx = store.transaction();
        Staged staged = stage(tx, n, attrs);
        staged.apply(tx.commit());
    }

    /** What an operation changes in memory once its transaction committed. */
    @FunctionalInterface
    interface AfterCommit {
        AfterCommit NOTHING = r -> {};

        void apply(CommitResult result);
    }

    /**
     * Stages node {@code n}'s row from {@code attrs}; for a regular file together with all of
     * its written blocks (a file's row never reaches storage without them, so size and blocks
     * agree in every committed state). Returns what to apply once committed.
     */
    AfterCommit stageRow(SealedStore.Transaction tx, Node n, Attrs attrs) {
        if (n.isRegular()) {
            return stage(tx, n, attrs)::apply;
        }
        tx.putInode(attrs.record());
        return r -> attrs.applyTo(n);
    }

    /** Dirty state of a node that has been put into a transaction, applied after the commit. */
    final class Staged {
        private final Node node;
        private final Attrs attrs;
        private final List<PlainBlock> blocks;
        private final boolean shrunk;

        private Staged(Node node, Attrs attrs, List<PlainBlock> blocks, boolean shrunk) {
            this.node = node;
            this.attrs = attrs;
            this.blocks = blocks;
            this.shrunk = shrunk;
        }

        void apply(CommitResult result) {
            Node n = node;
            attrs.applyTo(n);
            if (shrunk) {
                cache.invalidate(n.ino, attrs.size / blockSize);
            }
            for (PlainBlock b : blocks) {
                byte[] stored = b.length() == b.data().length ? b.data() : Arrays.copyOf(b.data(), b.length());
                cache.put(n.ino, b.idx(), stored);
            }
            dirtyBytes.addAndGet(-(long) n.dirty.size() * blockSize);
            n.dirty.clear();
            n.size = attrs.size;
            n.storedSize = attrs.size;
            long delta = result.nblocks(n.ino, n.nblocks) - n.nblocks;
            n.nblocks += delta;
            storedBlocks.addAndGet(delta);
            if (delta != 0) {
                // st_blocks moved without a request from the kernel, whose cached copy is now stale.
                kernel.invalidateAttributes(n.ino);
            }
            markClean(n);
        }
    }

    /** Forgets a node's unstored data, cached blocks and stored-block count: its storage is gone. */
    void discard(Node n) {
        storedBlocks.addAndGet(-n.nblocks);
        n.nblocks = 0;
        dirtyBytes.addAndGet(-(long) n.dirty.size() * blockSize);
        n.dirty.clear();
        n.storedSize = n.size;
        markClean(n);
        cache.invalidate(n.ino, 0);
    }
}
