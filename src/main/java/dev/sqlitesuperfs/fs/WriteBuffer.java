package dev.sqlitesuperfs.fs;

import dev.sqlitesuperfs.fuse.Errno;
import dev.sqlitesuperfs.fuse.FuseException;
import dev.sqlitesuperfs.fuse.KernelChannel;
import dev.sqlitesuperfs.sealed.PlainBlock;
import dev.sqlitesuperfs.sealed.SealedStore;
import dev.sqlitesuperfs.sealed.SealedTransaction;
import dev.sqlitesuperfs.store.CommitResult;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Written data from the write that brings it to the commit that stores it: the one owner of
 * buffering and flushing (JuiceFS gives its writer the same role).
 *
 * <p>Buffers writes and size changes of regular files in whole-block buffers on their nodes,
 * reserving the space the blocks will add under the quota; stages a file's row with all of its
 * written blocks into a transaction (a file's row never reaches storage without them, so size
 * and blocks agree in every committed state) and applies it once committed; stores a file at its
 * durability points ({@link #store}), under memory pressure ({@link #storeIfOverLimit}), when the
 * write-back delay passes ({@link #writeBackOverdue}) and at unmount ({@link #storeAll}); and, when a
 * store fails, gives the file's unstored data up as a whole ({@link #storeFailed}).
 *
 * <p>Invariants: a stored block holds exactly the file's bytes that fall in it, so the last block
 * of a file is stored shorter than a block; every byte of a buffer past the file's size is zero;
 * no block is stored at or past {@code ceil(storedSize / blockSize)}, and none at or past
 * {@code ceil(keptSize / blockSize)} is read (a truncation not stored yet). Together they make
 * holes and regrown tails read as zeros without any extra bookkeeping.
 *
 * <p>Callers hold the node's write lock, except for the methods that take it themselves
 * ({@link #store}, {@link #storeIfOverLimit}, {@link #storeAll}, {@link #dropLostPages}).
 */
final class WriteBuffer {
    private static final Logger log = LoggerFactory.getLogger(WriteBuffer.class);

    private final FsConfig config;
    private final SealedStore store;
    private final NodeTable nodes;
    private final FileContents contents;
    private final Space space;
    private final int blockSize;
    private final DirtyBudget.Tenant dirtyBytes;
    private final Set<Node> dirtyNodes = ConcurrentHashMap.newKeySet();
    private final WriteBackScheduler writeBack;
    private final JournalOrdering ordering;
    private final long writebackDelayNs;
    private volatile boolean stopping;
    private volatile KernelChannel kernel = NO_KERNEL;
    private final BlockCountNotices blockCounts = new BlockCountNotices(NO_KERNEL);

    private static final KernelChannel NO_KERNEL = new KernelChannel() {
        @Override
        public void invalidateAttributes(long ino) {}

        @Override
        public void writeBackPages(long ino) {}

        @Override
        public void dropEntry(long parent, byte[] name) {}
    };

    WriteBuffer(FsConfig config, SealedStore store, NodeTable nodes, FileContents contents, Space space,
            FsResources resources, JournalOrdering ordering) {
        this.config = config;
        this.ordering = ordering;
        this.store = store;
        this.nodes = nodes;
        this.contents = contents;
        this.space = space;
        this.blockSize = config.blockSize();
        this.dirtyBytes = resources.dirty.tenant(config.dirtyLimitBytes());
        this.writeBack = resources.writeBack;
        this.writebackDelayNs = config.writebackDelay().toNanos();
    }

    /** From INIT on, stores tell the kernel when the block count it caches went stale. */
    void connect(KernelChannel kernel) {
        this.kernel = kernel;
        blockCounts.connect(kernel);
    }

    /** Starts storing what stays in memory longer than the write-back delay. */
    void start() {
        writeBack.register(this);
    }

    /** Stops the write-back and stores everything still in memory. */
    void stop() {
        stopping = true;
        writeBack.unregister(this);
        try {
            storeAll();
        } finally {
            dirtyBytes.close();
        }
    }

    long dirtyBytes() {
        return dirtyBytes.bytes();
    }

    /**
     * With the writeback cache, written pages (and the size they extend the file to) may still be
     * only in the kernel, which does not write them back before an lseek asks: without them the
     * answer could put a hole where there is data. Makes the kernel write them back now.
     */
    void pullKernelPages(Node n) {
        if (n.writers > 0) {
            kernel.writeBackPages(n.ino);
        }
    }

    /** Free blocks under the quota (Long.MAX_VALUE without one). */
    long freeBlocks() {
        return space.freeBlocks();
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
        long storedEnd = contents.readableEnd(n);
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
                    byte[] old = contents.existing(n, idx, storedEnd);
                    if (old != null) {
                        System.arraycopy(old, 0, block, 0, Math.min(old.length, blockSize));
                    }
                }
                if (adds[(int) (idx - first)]) {
                    n.reserved.add(idx);
                }
                n.dirty.put(idx, block);
                dirtyBytes.add(blockSize);
            }
            MemorySegment.copy(data, ValueLayout.JAVA_BYTE, done, block, inBlock, chunk);
            done += chunk;
            pos += chunk;
        }
        n.attrs.size = Math.max(n.attrs.size, offset + length);
        n.attrs.mtimeNs = now;
        n.attrs.ctimeNs = now;
        markDirty(n);
    }

    /**
     * Whether storage has block {@code idx} of the file, so that storing it again replaces a row
     * rather than adding one (also when a truncation not stored yet cut it away: the commit then
     * deletes the old row and inserts the new one).
     */
    private boolean storedAt(Node n, long idx) {
        return !n.removed && idx < contents.blocksFor(n.storedSize)
                && store.nextStoredBlock(n.ino, idx).orElse(-1) == idx;
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
        if (newSize < n.attrs.size) {
            long keepEnd = contents.blocksFor(newSize);
            var gone = n.dirty.tailMap(keepEnd, true);
            dirtyBytes.add(-(long) gone.size() * blockSize);
            gone.clear();
            var unreserved = n.reserved.tailSet(keepEnd, true);
            space.release(unreserved.size());
            unreserved.clear();
            int cut = (int) (newSize % blockSize);
            long tailIdx = newSize / blockSize;
            if (cut != 0) {
                byte[] b = n.dirty.get(tailIdx);
                if (b == null) {
                    byte[] old = contents.existing(n, tailIdx, contents.readableEnd(n));
                    if (old != null) {
                        b = new byte[blockSize];
                        System.arraycopy(old, 0, b, 0, Math.min(old.length, cut));
                        n.dirty.put(tailIdx, b);
                        dirtyBytes.add(blockSize);
                    }
                } else {
                    Arrays.fill(b, cut, blockSize, (byte) 0);
                }
            }
            contents.forgetFrom(n.ino, tailIdx);
            n.keptSize = Math.min(n.keptSize, newSize);
        }
        n.attrs.size = newSize;
        n.attrs.mtimeNs = now;
        n.attrs.ctimeNs = now;
        markDirty(n);
    }

    /**
     * Adds the node's row (from {@code attrs}, whose size must be the node's: sizes change through
     * {@link #resize}), every written block, and the deletion of stored blocks a truncation cut
     * away, to {@code tx}. Returns what to apply once the commit returned. The node must not
     * change in between (the caller keeps the write lock).
     */
    Staged stage(SealedTransaction tx, Node n, Attrs attrs) {
        return stage(tx, n, attrs, false);
    }

    /**
     * {@link #stage}; in the ordered-journals mode a file that is not a journal takes the
     * journals' written data along into the transaction: every journal's, or, at the fsync of a
     * database file ({@code atDatabaseFsync}, see {@link JournalOrdering}), those of the journals
     * that are hot in storage, which must stay whole there.
     */
    private Staged stage(SealedTransaction tx, Node n, Attrs attrs, boolean atDatabaseFsync) {
        List<Staged> riders = ordering.enabled() && !n.journalName && n.isDirty()
                ? stageJournals(tx, n, atDatabaseFsync) : List.of();
        Staged staged = stageBlocks(tx, n, attrs, riders);
        if (n.isDirty()) {
            tx.onFailure(e -> storeFailed(n, Errno.EIO, e.getMessage(), true));
        }
        return staged;
    }

    /**
     * Stages the written data of every journal (other than {@code n}) into {@code tx}, each under
     * its write lock, kept until the commit is applied or fails. Journals are locked in inode order
     * after the caller's node; a thread holding a journal's lock never waits for another node's.
     */
    private List<Staged> stageJournals(SealedTransaction tx, Node n, boolean onlyHotInStorage) {
        List<Node> journals = new ArrayList<>();
        for (Node j : dirtyNodes) {
            if (j != n && j.journalName && j.isRegular() && !j.lock.isWriteLockedByCurrentThread()) {
                journals.add(j);
            }
        }
        if (journals.isEmpty()) {
            return List.of();
        }
        journals.sort(java.util.Comparator.comparingLong(j -> j.ino));
        List<Staged> riders = new ArrayList<>(journals.size());
        for (Node j : journals) {
            j.lock.writeLock().lock();
            if (j.removed || !j.isDirty() || (onlyHotInStorage && !j.queuedHeaderHot)) {
                j.lock.writeLock().unlock();
                continue;
            }
            riders.add(stageBlocks(tx, j, Attrs.of(j), List.of()));
        }
        if (!riders.isEmpty()) {
            tx.onFailure(e -> {
                for (Staged r : riders) {
                    r.node.lock.writeLock().unlock();
                }
            });
        }
        return riders;
    }

    private Staged stageBlocks(SealedTransaction tx, Node n, Attrs attrs, List<Staged> riders) {
        if (attrs.size != n.attrs.size) {
            throw new IllegalArgumentException("inode " + n.ino + ": staged size " + attrs.size + " is not the node's "
                    + n.attrs.size + "; sizes change through resize()");
        }
        long storedEnd = contents.blocksFor(n.storedSize);
        long keptEnd = contents.blocksFor(n.keptSize);
        long firstNew = storedEnd;
        if (keptEnd < storedEnd) {
            tx.truncateBlocks(n.ino, keptEnd);
            firstNew = keptEnd;
        }
        List<PlainBlock> plain = new ArrayList<>(n.dirty.size());
        for (Map.Entry<Long, byte[]> e : n.dirty.entrySet()) {
            long base = e.getKey() * blockSize;
            plain.add(new PlainBlock(e.getKey(), e.getValue(), (int) Math.min(blockSize, n.attrs.size - base)));
        }
        tx.putInode(attrs.record());
        tx.putBlocks(n.ino, firstNew, plain);
        return new Staged(n, attrs, plain, riders);
    }

    /**
     * Stores the node's row from {@code attrs} with all of its written blocks, in one
     * transaction, then applies it. The caller holds the write lock.
     */
    void commit(Node n, Attrs attrs) {
        commit(n, attrs, false);
    }

    private void commit(Node n, Attrs attrs, boolean atDatabaseFsync) {
        SealedTransaction tx = store.transaction();
        Staged staged = stage(tx, n, attrs, atDatabaseFsync);
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
        /** Journals staged along (see {@link #stageJournals}), whose write locks this one releases. */
        private final List<Staged> riders;

        private Staged(Node node, Attrs attrs, List<PlainBlock> blocks, List<Staged> riders) {
            this.node = node;
            this.attrs = attrs;
            this.blocks = blocks;
            this.riders = riders;
        }

        void apply(CommitResult result) {
            try {
                settle(result.nblocks(node.ino, node.attrs.nblocks));
                for (Staged r : riders) {
                    r.settle(result.nblocks(r.node.ino, r.node.attrs.nblocks));
                }
            } finally {
                for (Staged r : riders) {
                    r.node.lock.writeLock().unlock();
                }
            }
            for (Staged r : riders) {
                nodes.settle(r.node);
            }
        }

        private void settle(long nblocksAfter) {
            Node n = node;
            attrs.applyTo(n);
            for (PlainBlock b : blocks) {
                byte[] stored = b.length() == b.data().length ? b.data() : Arrays.copyOf(b.data(), b.length());
                contents.remember(n.ino, b.idx(), stored);
            }
            if (n.journalName) {
                PlainBlock first = blocks.isEmpty() ? null : blocks.getFirst();
                if (first != null && first.idx() == 0) {
                    n.queuedHeaderHot = JournalOrdering.hotHeader(first.data(), n.attrs.size, first.length());
                } else if (n.attrs.size < JournalOrdering.MAGIC.length) {
                    n.queuedHeaderHot = false;
                }
            }
            dirtyBytes.add(-(long) n.dirty.size() * blockSize);
            n.dirty.clear();
            n.storedSize = n.attrs.size;
            n.keptSize = n.attrs.size;
            long delta = nblocksAfter - n.attrs.nblocks;
            n.attrs.nblocks += delta;
            space.stored(delta, n.reserved.size());
            n.reserved.clear();
            if (delta != 0) {
                // st_blocks moved without a request from the kernel, whose cached copy is now stale.
                blockCounts.changed(n, System.nanoTime());
            }
            markClean(n);
        }
    }

    /** Forgets a node's unstored data, cached blocks and stored-block count: its storage is gone. */
    void discard(Node n) {
        space.stored(-n.attrs.nblocks, 0);
        n.attrs.nblocks = 0;
        dropUnstored(n);
        n.storedSize = n.attrs.size;
        n.keptSize = n.attrs.size;
        contents.forgetFrom(n.ino, 0);
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
        long sizeBefore = n.attrs.size;
        long lost = (long) n.dirty.size() * blockSize;
        dropUnstored(n);
        n.attrs.size = n.storedSize;
        n.keptSize = n.storedSize;
        if (tellHandles) {
            n.storeErrno = errno;
            n.storeErrors++;
        }
        n.refuseCachedWritesWith = errno;
        if (n.attrs.size < sizeBefore) {
            n.kernelSizeAhead = true;
        }
        log.error("namespace {}: inode {}: written data not stored and lost: {} bytes in whole blocks, size {}"
                        + " back to the stored {} ({}); fsync and close report it", config.namespace(), n.ino, lost, sizeBefore,
                n.attrs.size, why);
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
                n.refuseCachedWritesWith = 0;
            }
        };
        if (later) {
            Thread.ofVirtual().name("drop-lost-pages").start(drop);
        } else {
            drop.run();
        }
    }

    private void dropUnstored(Node n) {
        dirtyBytes.add(-(long) n.dirty.size() * blockSize);
        n.dirty.clear();
        space.release(n.reserved.size());
        n.reserved.clear();
        markClean(n);
    }

    // ------------------------------------------------------------------ storing

    /**
     * Stores the node's written blocks and times, if any (with every change deferred before);
     * takes the node's write lock. Returns whether it committed.
     */
    boolean store(Node n) {
        return store(n, false);
    }

    private boolean store(Node n, boolean atDatabaseFsync) {
        boolean committed = false;
        n.lock.writeLock().lock();
        try {
            // Only regular files ever hold unstored changes (blocks, size, times).
            if (n.isDirty() && !n.removed) {
                commit(n, Attrs.of(n), atDatabaseFsync);
                committed = true;
            }
        } finally {
            n.lock.writeLock().unlock();
        }
        nodes.settle(n);
        return committed;
    }

    /**
     * An fsync of a journal in the ordered-journals mode ({@link JournalOrdering}): returns true,
     * having stored nothing, unless this fsync turns a journal that is hot as stored into one
     * that is not (SQLite's commit point, which must be durable): then false. The journal's written
     * data stays in memory and goes with the next store of another file's data (see
     * {@link #stage}), with its own next durability point, or after the write-back delay. Takes the
     * node's write lock.
     */
    boolean holdForOrder(Node n) {
        n.lock.writeLock().lock();
        try {
            if (n.removed || !n.isRegular()) {
                return false;
            }
            return !(n.queuedHeaderHot && !isHot(n));
        } finally {
            n.lock.writeLock().unlock();
        }
    }

    /** Whether journal {@code n} is hot now (write lock held). */
    private boolean isHot(Node n) {
        byte[] first = n.dirty.get(0L);
        long readable = contents.readableEnd(n);
        if (first == null && readable > 0) {
            first = contents.existing(n, 0, readable);
        }
        return JournalOrdering.hotHeader(first, n.attrs.size, first == null ? 0 : first.length);
    }

    /**
     * The fsync of a file: {@link #store}, but for a file that is not a journal in the
     * ordered-journals mode ({@code databaseFile}: SQLite's database file at the end of its
     * commit's first phase, see {@link JournalOrdering}) without the data of journals that are not
     * hot in storage; with that of journals that are (they must stay whole), and with every
     * journal's when one names a super-journal (a commit of several databases needs all of them).
     * Returns whether it committed.
     */
    boolean storeAtFsync(Node n, boolean databaseFile) {
        return store(n, databaseFile && !superJournalNamed());
    }

    /**
     * Whether a journal with written data ends with SQLite's journal magic: the record that names
     * a super-journal (sqlite3 pager.c, writeSuperJournal), written in the first phase of a commit
     * of several databases.
     */
    private boolean superJournalNamed() {
        for (Node j : dirtyNodes) {
            if (!j.journalName || !j.isRegular()) {
                continue;
            }
            j.lock.writeLock().lock();
            try {
                long size = j.attrs.size;
                if (!j.removed && j.isDirty() && size >= 2L * JournalOrdering.MAGIC.length
                        && JournalOrdering.endsWithMagic(tail(j, size - JournalOrdering.MAGIC.length))) {
                    return true;
                }
            } finally {
                j.lock.writeLock().unlock();
            }
        }
        return false;
    }

    /** The file's bytes from {@code offset} to its end (at most one block's worth; lock held). */
    private byte[] tail(Node n, long offset) {
        int length = (int) (n.attrs.size - offset);
        byte[] out = new byte[length];
        contents.read(n, offset, length, MemorySegment.ofArray(out));
        return out;
    }

    /** After a write: stores the file if written data not stored yet passed the memory limit. */
    void storeIfOverLimit(Node n) {
        if (dirtyBytes.overLimit()) {
            store(n);
        }
    }

    /** Stores one node's unstored changes, by inode number (write-back and unmount). */
    void storeByNumber(long ino) {
        Node n = nodes.acquire(ino, 0);
        try {
            store(n);
        } finally {
            nodes.release(n);
        }
    }

    /** Nodes with unstored changes. */
    List<Node> dirtyNodes() {
        return List.copyOf(dirtyNodes);
    }

    /**
     * Stores every written block, timestamp and deferred change still in memory (unmount). A file
     * that fails is logged and given up (see {@link #storeFailed}); the others are still stored.
     */
    void storeAll() {
        for (Node n : dirtyNodes()) {
            try {
                storeByNumber(n.ino);
            } catch (RuntimeException e) {
                log.warn("namespace {}: storing inode {} at unmount failed: {}", config.namespace(), n.ino,
                        e.getMessage());
            } finally {
                dropLostPages(false);
            }
        }
        store.flushDeferred();
    }

    /** Whether something has waited longer than the write-back delay at {@code now}. */
    boolean writeBackDue(long now) {
        if (blockCounts.due(now)) {
            return true;
        }
        long cutoff = now - writebackDelayNs;
        long oldestDeferred = store.oldestDeferred();
        if (oldestDeferred != 0 && oldestDeferred - cutoff <= 0) {
            return true;
        }
        for (Node n : dirtyNodes) {
            long since = n.dirtySinceNanos;
            if (since != 0 && since - cutoff <= 0) {
                return true;
            }
        }
        return false;
    }

    /**
     * Tells the kernel of block counts that went stale (see {@link BlockCountNotices}), then stores
     * what has waited longer than the write-back delay at {@code now}: the deferred changes,
     * then each such file. What fails stays queued (deferred changes) or is given up and reported to
     * the file's users ({@link #storeFailed}); a node that failed to load is tried again next time.
     */
    void writeBackOverdue(long now) {
        blockCounts.sendDue(now);
        long cutoff = now - writebackDelayNs;
        long oldestDeferred = store.oldestDeferred();
        if (oldestDeferred != 0 && oldestDeferred - cutoff <= 0) {
            try {
                store.flushDeferred();
            } catch (RuntimeException e) {
                log.debug("namespace {}: write-back of deferred changes failed; they stay queued: {}",
                        config.namespace(), e.getMessage());
            }
        }
        for (Node n : dirtyNodes()) {
            if (stopping) {
                return;
            }
            if (n.dirtySinceNanos != 0 && n.dirtySinceNanos - cutoff <= 0) {
                try {
                    storeByNumber(n.ino);
                } catch (RuntimeException e) {
                    log.debug("namespace {}: write-back of inode {} failed: {}", config.namespace(), n.ino,
                            e.getMessage());
                } finally {
                    dropLostPages(false);
                }
            }
        }
    }
}
