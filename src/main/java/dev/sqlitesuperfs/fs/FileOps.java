package dev.sqlitesuperfs.fs;

import dev.sqlitesuperfs.fuse.Caller;
import dev.sqlitesuperfs.fuse.Errno;
import dev.sqlitesuperfs.fuse.FuseException;
import dev.sqlitesuperfs.fuse.FuseFilesystem;
import dev.sqlitesuperfs.fuse.OpenResult;
import dev.sqlitesuperfs.sealed.SealedStore;
import java.lang.foreign.MemorySegment;
import java.util.OptionalLong;

/**
 * Open files: open, read, write, flush (close), fsync, release, fallocate, lseek.
 *
 * <p>Written data stays in the {@link WriteBuffer} until a durability point: fsync stores the file
 * and every change made before it; close stores nothing (as on a local filesystem; the write-back
 * delay bounds how long data stays in memory). A failure to store a file's data is reported by its
 * next fsync and close, once per open file.
 */
final class FileOps {
    static final int SEEK_DATA = 3;
    static final int SEEK_HOLE = 4;
    static final int FALLOC_FL_KEEP_SIZE = 1;

    private final FsConfig config;
    private final SealedStore store;
    private final NodeTable nodes;
    private final Handles handles;
    private final FileContents contents;
    private final WriteBuffer buffer;
    private final ExtendedAttributes xattrs;
    private final Tree tree;
    private final JournalOrdering ordering;

    FileOps(FsConfig config, SealedStore store, NodeTable nodes, Handles handles, FileContents contents,
            WriteBuffer buffer, ExtendedAttributes xattrs, Tree tree, JournalOrdering ordering) {
        this.config = config;
        this.store = store;
        this.nodes = nodes;
        this.handles = handles;
        this.contents = contents;
        this.buffer = buffer;
        this.xattrs = xattrs;
        this.tree = tree;
        this.ordering = ordering;
    }

    OpenResult open(Caller caller, long ino, int flags, boolean killSuidGid) {
        Node n = nodes.acquire(ino, 0);
        try {
            if (n.isDir()) {
                throw new FuseException(Errno.EISDIR);
            }
            boolean writable = (flags & Handles.O_ACCMODE) != Handles.O_RDONLY;
            boolean truncate = (flags & Handles.O_TRUNC) != 0 && n.isRegular();
            if (writable || truncate) {
                config.requireWritable();
            }
            if (truncate) {
                truncateOnOpen(caller, n, killSuidGid);
            }
            return new OpenResult(openHandle(n, flags), OpenResult.KEEP_CACHE);
        } finally {
            nodes.release(n);
        }
    }

    /**
     * Linux truncates on O_TRUNC whatever the access mode (O_RDONLY included), and with
     * atomic_o_trunc the kernel counts on the open to have done it. Like any truncation it is
     * stored with the file's next fsync, unless privileges go with it: those changes are stored
     * before the open returns.
     */
    private void truncateOnOpen(Caller caller, Node n, boolean killSuidGid) {
        n.lock.writeLock().lock();
        try {
            boolean dropCapability = xattrs.hasCapability(n);
            boolean kill = killSuidGid && (n.attrs.mode & (Node.S_ISUID | Node.S_ISGID)) != 0;
            if (n.attrs.size != 0 || dropCapability || kill) {
                buffer.resize(n, 0, Clock.nowNs());
            }
            n.kernelSizeAhead = false;
            if (dropCapability || kill) {
                Attrs a = Attrs.of(n);
                if (kill) {
                    a.mode = PrivilegeDrop.afterModification(a.mode, n.attrs.gid, caller);
                }
                xattrs.storeRow(n, a, dropCapability);
            }
        } finally {
            n.lock.writeLock().unlock();
        }
    }

    /** A new handle of node {@code n}, counted as open (and as a writer if it may write). */
    long openHandle(Node n, int flags) {
        n.lock.writeLock().lock();
        try {
            nodes.opened(n);
            if ((flags & Handles.O_ACCMODE) != Handles.O_RDONLY) {
                n.writers++;
            }
            return handles.add(n, flags);
        } finally {
            n.lock.writeLock().unlock();
        }
    }

    int read(long ino, long fh, long offset, int size, MemorySegment dest) {
        Node n = handles.get(fh, ino).node();
        n.lock.readLock().lock();
        try {
            if (n.kernelSizeAhead && offset >= n.attrs.size && size > 0) {
                // Past what storage holds, where the kernel still counts lost data.
                throw new FuseException(Errno.EIO, "inode " + n.ino + ": written data past " + n.attrs.size
                        + " bytes was lost");
            }
            return contents.read(n, offset, size, dest);
        } finally {
            n.lock.readLock().unlock();
        }
    }

    int write(Caller caller, long ino, long fh, long offset, MemorySegment data, int writeFlags) {
        config.requireWritable();
        Node n = handles.get(fh, ino).node();
        boolean cached = (writeFlags & FuseFilesystem.WRITE_CACHE) != 0;
        n.lock.writeLock().lock();
        try {
            if (cached && n.refuseCachedWritesWith != 0) {
                throw new FuseException(n.refuseCachedWritesWith, "inode " + n.ino + ": written data was lost");
            }
            try {
                buffer.write(n, offset, data, Clock.nowNs());
            } catch (FuseException e) {
                if (cached && e.errno() == Errno.ENOSPC) {
                    // The writer was told long ago that this write succeeded: what else the
                    // kernel wrote back of the file must not be stored without it.
                    buffer.storeFailed(n, Errno.ENOSPC, "the namespace's quota of " + config.quotaBytes()
                            + " bytes is full", false);
                }
                throw e;
            }
            if ((writeFlags & FuseFilesystem.WRITE_KILL_SUIDGID) != 0) {
                n.attrs.mode = PrivilegeDrop.afterModification(n.attrs.mode, n.attrs.gid, caller);
            }
            if (xattrs.hasCapability(n)) {
                xattrs.change(n, PrivilegeDrop.CAPABILITY, null);
            }
        } finally {
            n.lock.writeLock().unlock();
        }
        buffer.storeIfOverLimit(n);
        return (int) data.byteSize();
    }

    /** close(2) stores nothing; it reports a failure to store the file's data, once per open file. */
    void flush(long ino, long fh) {
        reportStoreFailure(handles.get(fh, ino));
    }

    /**
     * Stores the file's data and metadata, and every change made before this call; in the
     * ordered-journals mode, see {@link JournalOrdering} for journals and database files.
     */
    void fsync(long ino, long fh) {
        Handles.Handle h = handles.get(fh, ino);
        try {
            Node n = h.node();
            boolean ordered = ordering.appliesTo(n) && buffer.holdForOrder(n);
            if (!ordered && !buffer.storeAtFsync(n, ordering.enabled() && !n.journalName)) {
                store.flushDeferred();
            }
        } catch (RuntimeException e) {
            // This call reports the failure (if it lost written data, see WriteBuffer.storeFailed).
            reportStoreFailure(h);
            throw e;
        }
        reportStoreFailure(h);
    }

    /**
     * Fails with the errno of the last failure to store the file's written data, if this handle
     * has not reported it yet (each failure once per open handle, as Linux reports writeback
     * errors). Takes no node lock: a close (FLUSH) must not wait for a commit in progress on the
     * file, which may take until --db-timeout (a child process closing a descriptor it inherited
     * does exactly that).
     */
    private void reportStoreFailure(Handles.Handle h) {
        Node n = h.node();
        long failures = n.storeErrors;
        int errno = n.storeErrno;
        synchronized (h) {
            if (h.seenErrors == failures) {
                return;
            }
            h.seenErrors = failures;
        }
        throw new FuseException(errno, "inode " + n.ino + ": written data was lost");
    }

    void release(long ino, long fh) {
        Handles.Handle h = handles.remove(fh, ino);
        Node n = h.node();
        boolean last;
        n.lock.writeLock().lock();
        try {
            if ((h.flags() & Handles.O_ACCMODE) != Handles.O_RDONLY) {
                n.writers--;
            }
            last = nodes.closed(n);
            if (last) {
                // Every handle open at a loss of written data has now been told of it.
                n.kernelSizeAhead = false;
            }
        } finally {
            n.lock.writeLock().unlock();
        }
        if (last) {
            tree.reclaim(n);
        }
    }

    void fallocate(long ino, long fh, long offset, long length, int mode) {
        if ((mode & ~FALLOC_FL_KEEP_SIZE) != 0) {
            throw new FuseException(Errno.EOPNOTSUPP);
        }
        if (offset < 0 || length <= 0) {
            throw new FuseException(Errno.EINVAL);
        }
        config.requireWritable();
        Node n = handles.get(fh, ino).node();
        long end = offset + length;
        if (end > FsConfig.MAX_FILE_SIZE || end < 0) {
            throw new FuseException(Errno.EFBIG);
        }
        n.lock.writeLock().lock();
        try {
            if (!n.isRegular()) {
                throw new FuseException(Errno.ENODEV);
            }
            // Holes are not stored, so nothing is set aside here: the space the range would take
            // past the end of the file must be free now; writes reserve it as they come.
            long growth = Math.max(0, end - Math.max(n.attrs.size, offset));
            if (Math.ceilDiv(growth, config.blockSize()) > buffer.freeBlocks()) {
                throw new FuseException(Errno.ENOSPC);
            }
            if ((mode & FALLOC_FL_KEEP_SIZE) == 0 && end > n.attrs.size) {
                buffer.resize(n, end, Clock.nowNs());
                buffer.commit(n, Attrs.of(n));
            }
        } finally {
            n.lock.writeLock().unlock();
        }
    }

    long lseek(long ino, long fh, long offset, int whence) {
        if (whence != SEEK_DATA && whence != SEEK_HOLE) {
            throw new FuseException(Errno.EINVAL);
        }
        Node n = handles.get(fh, ino).node();
        buffer.pullKernelPages(n);
        buffer.store(n);
        n.lock.readLock().lock();
        try {
            if (offset < 0 || offset >= n.attrs.size) {
                throw new FuseException(Errno.ENXIO);
            }
            long bs = config.blockSize();
            long idx = offset / bs;
            if (whence == SEEK_DATA) {
                OptionalLong next = store.nextStoredBlock(ino, idx);
                if (next.isEmpty() || next.getAsLong() * bs >= n.attrs.size) {
                    throw new FuseException(Errno.ENXIO);
                }
                return Math.max(offset, next.getAsLong() * bs);
            }
            long hole = store.nextMissingBlock(ino, idx);
            return Math.min(n.attrs.size, Math.max(offset, hole * bs));
        } finally {
            n.lock.readLock().unlock();
        }
    }
}
