package dev.sqlitesuperfs.fs;

import dev.sqlitesuperfs.store.InodeRecord;
import dev.sqlitesuperfs.store.NamespaceStore;
import dev.sqlitesuperfs.sys.FileType;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * One inode in memory. The mount is the namespace's only writer, so what a node says is the truth
 * (ahead of PostgreSQL only by dirty blocks that have not reached a durability point yet).
 *
 * <p>Attributes, directory entries, dirty blocks and xattrs are guarded by {@link #lock}. Changes
 * that must be durable are applied here only after their PostgreSQL commit returned, so that a
 * failed commit leaves memory and storage agreeing; deferred changes (creations, see
 * {@link Tree}) are applied at once and keep the node in memory until they are stored. The
 * reference counts are guarded by the {@link NodeTable} (changed only inside its atomic map
 * operations).
 */
final class Node {
    static final int S_ISUID = 04000;
    static final int S_ISGID = 02000;

    final long ino;
    final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();

    // ---- attributes (lock) ----
    /** The inode's attributes; size is the data path's ({@link WriteBuffer}), nblocks the store's. */
    final Attrs attrs;

    /**
     * The size PostgreSQL has. Every stored block lies below {@code ceil(storedSize / blockSize)},
     * so blocks past that index are known to be absent without asking.
     */
    long storedSize;
    /**
     * The smallest size the file had since it was last stored (at most {@link #storedSize}):
     * stored blocks from {@code ceil(keptSize / blockSize)} on belong to an older version of the
     * file that a truncation cut away, are never read, and go with the next commit. The block
     * holding byte {@code keptSize} was copied into {@link #dirty}, cut, when it was truncated.
     */
    long keptSize;

    // ---- per type (lock) ----
    /** Directories: the directory holding this one's entry (the root points at itself). */
    long parent;
    /** Directories: entries, loaded on first use. */
    Directory entries;
    /** Symlinks: the target, loaded on first use. */
    byte[] symlinkTarget;
    /** Extended attributes, loaded on first use. */
    Map<Name, byte[]> xattrs;
    /** Regular files: written blocks not yet stored, by index; each array is one whole block. */
    final TreeMap<Long, byte[]> dirty = new TreeMap<>();
    /** The indexes in {@link #dirty} whose storing adds a row: each holds a reservation of {@link Space}. */
    final TreeSet<Long> reserved = new TreeSet<>();
    // ---- failures to store written data (set under lock; read without it, by flush) ----
    /**
     * The last failure to store this file's written data (an errno), reported once to each handle
     * open at the time (see {@link Handles.Handle#seenErrors}); 0 if there never was one.
     */
    volatile int storeErrno;
    /** Counts failures to store this file's data; a handle has seen those up to its own count. */
    volatile long storeErrors;
    /**
     * Writes from the kernel's page cache are refused with this errno (0: they are not) from a
     * failure until the kernel has dropped its pages of the file: it goes on writing back pages
     * dirtied before the failure, and storing those alone would leave a file that no sequence of
     * writes made.
     */
    volatile int refuseCachedWritesWith;
    /**
     * The kernel may think the file longer than it is: written data was lost after the kernel
     * extended its size, which only a truncation brings back in line (with the writeback cache the
     * kernel keeps its own size). Reads past the size fail with EIO while a handle that was open
     * at the loss (and was told of it by fsync or close) is still open; after the file's last
     * close, reads there end at the stored size (the kernel fills the rest of its longer size with
     * zeros), so that a reader opening the file afresh (SQLite checking a journal left behind by a
     * failed commit) sees what storage holds instead of an error that nothing would clear.
     */
    boolean kernelSizeAhead;
    /** Timestamps changed (by the kernel's writeback of times) but not stored yet. */
    boolean timesDirty;
    /** System.nanoTime() when the kernel was last told its st_blocks went stale; 0: never. */
    volatile long blocksToldNanos;
    /** System.nanoTime() when the node first got unstored changes; 0 when it has none. */
    long dirtySinceNanos;
    /** The inode's rows are gone from PostgreSQL (unlinked and reclaimed, or removed directory). */
    boolean removed;
    /** Last named (created, looked up, renamed to) by a name ending in {@code -journal}. */
    volatile boolean journalName;
    /**
     * Journals: whether the file as last stored or queued by this mount is a hot journal (true
     * when not known: as loaded from storage), see {@link JournalOrdering}.
     */
    boolean queuedHeaderHot = true;

    /**
     * While this inode's creation may still be only in the store's queue of deferred changes: the
     * queued changes, so that removing it again can be deferred behind them (see
     * {@link Tree#remove}). Cleared once they are stored.
     */
    volatile NamespaceStore.Deferred creation;

    // ---- references (NodeTable) ----
    long lookups;
    int opens;
    /**
     * Deferred changes of this node not yet stored: until they are, PostgreSQL does not know what
     * the node says, so it must stay in memory.
     */
    int unstoredChanges;
    /** Open handles that may write (lock); while any exist the kernel may hold dirty pages. */
    int writers;
    int busy;

    Node(InodeRecord r) {
        this.ino = r.ino();
        this.attrs = Attrs.from(r);
        this.storedSize = r.size();
        this.keptSize = r.size();
        this.parent = ino;
    }

    int type() {
        return attrs.mode & FileType.MASK;
    }

    boolean isDir() {
        return type() == FileType.DIRECTORY;
    }

    boolean isRegular() {
        return type() == FileType.REGULAR;
    }

    boolean isSymlink() {
        return type() == FileType.SYMLINK;
    }

    boolean isDirty() {
        return !dirty.isEmpty() || timesDirty || storedSize != attrs.size || keptSize != storedSize;
    }

    /** Nobody refers to the node any more: the kernel forgot it and no handle is open. */
    boolean unreferenced() {
        return lookups <= 0 && opens <= 0 && busy <= 0;
    }

    @Override
    public String toString() {
        return "inode " + ino;
    }
}
