package dev.sqlitesuperfs.fs;

import dev.sqlitesuperfs.sealed.PlainBlock;
import dev.sqlitesuperfs.sealed.SealedStore;
import dev.sqlitesuperfs.sealed.SealedTransaction;
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
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The bytes of regular files: reads through dirty blocks, the block cache and storage; writes
 * into whole-block buffers kept in memory until a durability point; truncation; and staging of a
 * file's dirty blocks into a transaction.
 *
 * <p>Invariants: a stored block holds exactly the file's bytes that fall in it, so the last block
 * of a file is stored shorter than a block; every byte of a buffer past the file's size is zero;
 * no block is stored at or past {@code ceil(storedSize / blockSize)}, and none at or past
 * {@code ceil(keptSize / blockSize)} is read (a truncation not stored yet). Together they make
 * holes and regrown tails read as zeros without any extra bookkeeping.
 *
 * <p>Callers hold the node's lock: the read lock for {@link #read}, the write lock for the rest.
 */
final class FileContents {
    private static final Logger log = LoggerFactory.getLogger(FileContents.class);

    private final String namespace;
    private final SealedStore store;
    private final BlockCache cache;
    private final int blockSize;
    private final AtomicLong dirtyBytes = new AtomicLong();
    private final Space space;
    private final Set<Node> dirtyNodes = ConcurrentHashMap.newKeySet();
    private volatile KernelChannel kernel = NO_KERNEL;

    private static final KernelChannel NO_KERNEL = new KernelChannel() {
        @Override
        public void invalidateAttributes(long ino) {}

        @Override
        public void writeBackPages(long ino) {}
    };

    FileContents(String namespace, SealedStore store, BlockCache cache, int blockSize, Space space) {
        this.namespace = namespace;
        this.store = store;
        this.cache = cache;
        this.blockSize = blockSize;
        this.space = space;
    }

    /** From INIT on, flushes tell the kernel when the block count it caches went stale. */
    void connect(KernelChannel kernel) {
        this.kernel = kernel;
    }

    long dirtyBytes() {
        return dirtyBytes.get();
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
        long storedEnd = blocksFor(n.keptSize);
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

    /**
     * Buffers {@code data} at {@code offset}; updates size and times. Not durable. ENOSPC, with
     * nothing changed, if the blocks it adds do not fit in the quota.
     */
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
        long first = offset / blockSize;
        boolean[] adds = new boolean[(int) ((offset + length - 1) / blockSize - first + 1)];
        int added = 0;
        for (int i = 0; i < adds.length; i++) {
            adds[i] = !n.dirty.containsKey(first + i) && !storedAt(n, first + i);
            added += adds[i] ? 1 : 0;
        }
        if (!space.tryReserve(added)) {
            throw new FuseException(Errno.ENOSPC);
        }
        long storedEnd = blocksFor(n.keptSize);
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
                if (adds[(int) (idx - first)]) {
                    n.reserved.add(idx);
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

    /**
     * Whether storage has block {@code idx} of the file, so that storing it again replaces a row
     * rather than adding one (also when a truncation not stored yet cut it away: the commit then
     * deletes the old row and inserts the new one).
     */
    private boolean storedAt(Node n, long idx) {
        return idx < blocksFor(n.storedSize) && store.nextStoredBlock(n.ino, idx).orElse(-1) == idx;
    }

    /** Free blocks under the quota (Long.MAX_VALUE without one). */
    long freeBlocks() {
        return space.freeBlocks();
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

    /**
     * Stored block rows plus written blocks that will add rows, in 512-byte units (st_blocks).
     * After a truncation not stored yet, the rows it will delete no longer count (estimated: at
     * most every block below the new end).
     */
    long statBlocks(Node n) {
        long keptEnd = blocksFor(n.keptSize);
        long stored = n.keptSize < n.storedSize ? Math.min(n.nblocks, keptEnd) : n.nblocks;
        long pending = n.dirty.isEmpty() ? 0 : n.dirty.tailMap(keptEnd).size();
        return (stored + pending) * (blockSize / 512);
    }

    /**
     * Gives the file a new size in memory (truncate, O_TRUNC, fallocate). Stored with the node's
     * next commit, like written data. A shrink drops the written blocks past the end, keeps the
     * cut last block as a written block (so that its old tail can never show again after a
     * grow), and makes every stored block past the new end unreadable until the commit deletes it.
     */
    void resize(Node n, long newSize, long now) {
        if (newSize < 0) {
            throw new FuseException(Errno.EINVAL);
        }
        if (newSize > FsConfig.MAX_FILE_SIZE) {
            throw new FuseException(Errno.EFBIG);
        }
        if (newSize < n.size) {
            long keepEnd = blocksFor(newSize);
            var gone = n.dirty.tailMap(keepEnd, true);
            dirtyBytes.addAndGet(-(long) gone.size() * blockSize);
            gone.clear();
            var unreserved = n.reserved.tailSet(keepEnd, true);
            space.release(unreserved.size());
            unreserved.clear();
            int cut = (int) (newSize % blockSize);
            long tailIdx = newSize / blockSize;
            if (cut != 0) {
                byte[] b = n.dirty.get(tailIdx);
                if (b == null) {
                    byte[] old = existing(n, tailIdx, blocksFor(n.keptSize));
                    if (old != null) {
                        b = new byte[blockSize];
                        System.arraycopy(old, 0, b, 0, Math.min(old.length, cut));
                        n.dirty.put(tailIdx, b);
                        dirtyBytes.addAndGet(blockSize);
                    }
                } else {
                    Arrays.fill(b, cut, blockSize, (byte) 0);
                }
            }
            cache.invalidate(n.ino, tailIdx);
            n.keptSize = Math.min(n.keptSize, newSize);
        }
        n.size = newSize;
        n.mtimeNs = now;
        n.ctimeNs = now;
        markDirty(n);
    }

    /**
     * Adds the node's row (from {@code attrs}, whose size must be the node's: sizes change through
     * {@link #resize}), every written block, and the deletion of stored blocks a truncation cut
     * away, to {@code tx}. Returns what to apply once the commit returned. The node must not
     * change in between (the caller keeps the write lock).
     */
    Staged stage(SealedTransaction tx, Node n, Attrs attrs) {
        if (attrs.size != n.size) {
            throw new IllegalArgumentException("inode " + n.ino + ": staged size " + attrs.size + " is not the node's "
                    + n.size + "; sizes change through resize()");
        }
        long storedEnd = blocksFor(n.storedSize);
        long keptEnd = blocksFor(n.keptSize);
        long firstNew = storedEnd;
        if (keptEnd < storedEnd) {
            tx.truncateBlocks(n.ino, keptEnd);
            firstNew = keptEnd;
        }
        List<PlainBlock> plain = new ArrayList<>(n.dirty.size());
        for (Map.Entry<Long, byte[]> e : n.dirty.entrySet()) {
            long base = e.getKey() * blockSize;
            plain.add(new PlainBlock(e.getKey(), e.getValue(), (int) Math.min(blockSize, n.size - base)));
        }
        tx.putInode(attrs.record());
        tx.putBlocks(n.ino, firstNew, plain);
        if (n.isDirty()) {
            tx.onFailure(e -> storeFailed(n, Errno.EIO, e.getMessage(), true));
        }
        return new Staged(n, attrs, plain);
    }

    /**
     * Stores the node's row from {@code attrs} with all of its written blocks, in one
     * transaction, then applies it. The caller holds the write lock.
     */
    void commit(Node n, Attrs attrs) {
        SealedTransaction tx = store.transaction();
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
    AfterCommit stageRow(SealedTransaction tx, Node n, Attrs attrs) {
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

        private Staged(Node node, Attrs attrs, List<PlainBlock> blocks) {
            this.node = node;
            this.attrs = attrs;
            this.blocks = blocks;
        }

        void apply(CommitResult result) {
            Node n = node;
            attrs.applyTo(n);
            for (PlainBlock b : blocks) {
                byte[] stored = b.length() == b.data().length ? b.data() : Arrays.copyOf(b.data(), b.length());
                cache.put(n.ino, b.idx(), stored);
            }
            dirtyBytes.addAndGet(-(long) n.dirty.size() * blockSize);
            n.dirty.clear();
            n.storedSize = n.size;
            n.keptSize = n.size;
            long delta = result.nblocks(n.ino, n.nblocks) - n.nblocks;
            n.nblocks += delta;
            space.stored(delta, n.reserved.size());
            n.reserved.clear();
            if (delta != 0) {
                // st_blocks moved without a request from the kernel, whose cached copy is now stale.
                kernel.invalidateAttributes(n.ino);
            }
            markClean(n);
        }
    }

    /** Forgets a node's unstored data, cached blocks and stored-block count: its storage is gone. */
    void discard(Node n) {
        space.stored(-n.nblocks, 0);
        n.nblocks = 0;
        dropUnstored(n);
        n.storedSize = n.size;
        n.keptSize = n.size;
        cache.invalidate(n.ino, 0);
    }

    /**
     * The file's written data could not be stored ({@code errno} says why, {@code why} in words): it
     * is given up as a whole (written blocks, and a size or truncation not stored), so that the file
     * is again what storage holds and no later store can keep a part of it. Writes from the kernel's
     * page cache are refused until the kernel has dropped its pages of the file (see
     * {@link #dropLostPages}). When the kernel cannot know of the failure ({@code tellHandles}: a
     * commit failed after the kernel's writes had all succeeded) it is recorded for fsync and close
     * to report; a refused write from the page cache the kernel reports itself. Logs which file and
     * how much was lost. The caller holds the node's write lock.
     */
    void storeFailed(Node n, int errno, String why, boolean tellHandles) {
        long sizeBefore = n.size;
        long lost = (long) n.dirty.size() * blockSize;
        dropUnstored(n);
        n.size = n.storedSize;
        n.keptSize = n.storedSize;
        if (tellHandles) {
            n.storeErrno = errno;
            n.storeErrors++;
        }
        n.refuseCachedWrites = true;
        if (n.size < sizeBefore) {
            n.kernelSizeAhead = true;
        }
        log.error("namespace {}: inode {}: written data not stored and lost: {} bytes in whole blocks, size {}"
                        + " back to the stored {} ({}); fsync and close report it", namespace, n.ino, lost, sizeBefore,
                n.size, why);
        PAGES_TO_DROP.get().add(n);
    }

    /**
     * Files whose lost data the kernel may still have in its page cache, noted under the node's
     * lock by the thread that lost it; dropped by {@link #dropLostPages} once the lock is let go.
     */
    private static final ThreadLocal<List<Node>> PAGES_TO_DROP = ThreadLocal.withInitial(ArrayList::new);

    /**
     * Makes the kernel drop its cached pages and attributes of the files whose written data this
     * thread just lost, so that they read as what storage holds; from then on, writes from the page
     * cache are new data again and are let through. Call with no node lock held: the kernel writes
     * back dirty pages of the file first (refused), and those writes need the lock. Inside a WRITE
     * ({@code later}), whose own pages the kernel keeps locked until it is answered, the kernel is
     * asked from another thread.
     */
    void dropLostPages(boolean later) {
        List<Node> lost = PAGES_TO_DROP.get();
        if (lost.isEmpty()) {
            return;
        }
        List<Node> copy = List.copyOf(lost);
        lost.clear();
        KernelChannel k = kernel;
        Runnable drop = () -> {
            for (Node n : copy) {
                k.writeBackPages(n.ino);
                n.refuseCachedWrites = false;
            }
        };
        if (later) {
            Thread.ofVirtual().name("drop-lost-pages").start(drop);
        } else {
            drop.run();
        }
    }

    private void dropUnstored(Node n) {
        dirtyBytes.addAndGet(-(long) n.dirty.size() * blockSize);
        n.dirty.clear();
        space.release(n.reserved.size());
        n.reserved.clear();
        markClean(n);
    }
}
