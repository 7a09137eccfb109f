package dev.sqlitesuperfs.fs;

import dev.sqlitesuperfs.sealed.SealedStore;
import dev.sqlitesuperfs.sealed.SealedTransaction;
import dev.sqlitesuperfs.sealed.TamperedException;
import dev.sqlitesuperfs.fuse.AttrReply;
import dev.sqlitesuperfs.fuse.Caller;
import dev.sqlitesuperfs.fuse.CreateResult;
import dev.sqlitesuperfs.fuse.DirPlusSink;
import dev.sqlitesuperfs.fuse.DirSink;
import dev.sqlitesuperfs.fuse.Entry;
import dev.sqlitesuperfs.fuse.Errno;
import dev.sqlitesuperfs.fuse.FileAttr;
import dev.sqlitesuperfs.fuse.FuseException;
import dev.sqlitesuperfs.fuse.FuseFilesystem;
import dev.sqlitesuperfs.fuse.KernelChannel;
import dev.sqlitesuperfs.fuse.KernelConnection;
import dev.sqlitesuperfs.fuse.OpenResult;
import dev.sqlitesuperfs.fuse.SetAttr;
import dev.sqlitesuperfs.fuse.StatFs;
import dev.sqlitesuperfs.store.CommitResult;
import dev.sqlitesuperfs.store.InodeRecord;
import dev.sqlitesuperfs.store.StoreException;
import dev.sqlitesuperfs.store.Usage;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The POSIX filesystem of one namespace, answering the kernel's requests.
 *
 * <h2>Locking</h2>
 * Operations that change more than one inode are {@link Tree}'s, one at a time. Everything here
 * touches one node and takes only that node's lock (the read lock to read); a thread holding a
 * node lock without the tree lock never takes a second one. Reads, writes, lookups and listings
 * of different files, and reads of one file, run in parallel.
 *
 * <h2>Durability</h2>
 * fsync stores the file and every change made before it; fsync of a directory stores every change
 * made before it. Removals and renames of stored names, chmod, chown, utimens of a file not open
 * for writing, and xattr changes commit before they return. Creations, and removals of what was
 * created since, are deferred: queued in order with everything else and stored with the next
 * commit ({@link Tree}). Writes, truncations and close stay in memory until one of those points,
 * until memory pressure ({@link FsConfig#dirtyLimitBytes}) or until the write-back delay passes.
 * Any transaction that stores a file's row also stores all of its written blocks, so a file's size
 * and blocks never disagree in PostgreSQL. A setattr that only moves timestamps of a file open for
 * writing is stored with its data, so that one SQLite commit stays one transaction.
 *
 * <h2>Failures</h2>
 * Memory is changed only after a commit returned (deferred changes: once queued). A failed commit
 * leaves both sides as they were; the call fails with EIO and a log line naming the operation and
 * inode.
 */
public final class Filesystem implements FuseFilesystem {
    private static final Logger log = LoggerFactory.getLogger(Filesystem.class);

    static final int XATTR_CREATE = 1;
    static final int XATTR_REPLACE = 2;
    static final int XATTR_NAME_MAX = 255;
    static final int XATTR_SIZE_MAX = 65536;
    static final int SYMLINK_MAX = 4095;
    static final int SEEK_DATA = 3;
    static final int SEEK_HOLE = 4;
    static final int FALLOC_FL_KEEP_SIZE = 1;

    private final FsConfig config;
    private final SealedStore store;
    private final NodeTable nodes;
    private final Handles handles = new Handles();
    private final FileContents contents;
    private final Space space;
    private final Tree tree;
    private final long ttlNs;
    private final AtomicBoolean fencedLogged = new AtomicBoolean();
    private final WriteBack writeBack;
    private volatile KernelChannel kernel;

    private Filesystem(FsConfig config, SealedStore store) {
        this.config = config;
        this.store = store;
        this.nodes = new NodeTable(store);
        this.space = new Space(config.quotaBytes() / config.blockSize());
        this.contents = new FileContents(config.namespace(), store, new BlockCache(config.cacheBytes()),
                config.blockSize(), space);
        this.tree = new Tree(config, store, nodes, contents);
        this.ttlNs = config.cacheTtl().toNanos();
        this.writeBack = new WriteBack(this, config.writebackDelay());
    }

    /**
     * Loads the root and the namespace's totals and reclaims inodes that were unlinked while open
     * when an earlier mount stopped without closing them.
     */
    public static Filesystem open(FsConfig config, SealedStore store) {
        Filesystem fs = new Filesystem(config, store);
        InodeRecord root = store.inode(NodeTable.ROOT)
                .orElseThrow(() -> new StoreException("namespace " + config.namespace() + " has no root directory"));
        Node rootNode = fs.nodes.installRoot(root);
        if (!rootNode.isDir()) {
            throw new StoreException("namespace " + config.namespace() + ": inode 1 is not a directory");
        }
        if (!config.readOnly()) {
            fs.tree.reclaimOrphans();
        }
        Usage usage = store.usage();
        fs.space.initStored(usage.blocks());
        fs.tree.initInodeCount(usage.inodes());
        if (!config.readOnly()) {
            fs.writeBack.start();
        }
        return fs;
    }

    @Override
    public void init(KernelConnection connection, KernelChannel kernel) {
        this.kernel = kernel;
        contents.connect(kernel);
        log.debug("kernel connection: protocol 7.{}, writeback cache {}", connection.minor(),
                connection.has(KernelConnection.WRITEBACK_CACHE));
    }

    /** Inodes held in memory: those the kernel knows, open ones, and ones with unstored changes. */
    public int inodesInMemory() {
        return nodes.size();
    }

    /** Stores every written block, timestamp and deferred change still in memory. */
    public void flushAll() {
        for (Node n : List.copyOf(contents.dirtyNodes())) {
            flushNode(n.ino, "flush-all");
        }
        flushDeferred("flush-all");
    }

    /** Commits the deferred changes (creations, removals of what was not stored yet). */
    void flushDeferred(String why) {
        guard(why, NodeTable.ROOT, () -> {
            store.flushDeferred();
            return null;
        });
    }

    /** When the oldest deferred change was made ({@link System#nanoTime()}), or 0. */
    long oldestDeferred() {
        return store.oldestDeferred();
    }

    @Override
    public void destroy() {
        writeBack.stop();
        flushAll();
    }

    // ------------------------------------------------------------------ lookups and attributes

    @Override
    public Entry lookup(Caller caller, long parent, byte[] name) {
        return guard("lookup", parent, () -> {
            Name nm = Name.checked(name);
            Node p = nodes.acquire(parent, 0);
            try {
                Directory.Slot slot = nodes.withEntries(p, d -> d.get(nm));
                if (slot == null) {
                    return Entry.negative(ttlNs);
                }
                return reply(nodes.acquire(slot.ino(), p.ino));
            } finally {
                nodes.release(p);
            }
        });
    }

    @Override
    public void forget(long ino, long nlookup) {
        Node reclaim = nodes.forget(ino, nlookup);
        if (reclaim != null) {
            guard("forget", ino, () -> {
                tree.reclaim(reclaim);
                return null;
            });
        }
    }

    @Override
    public AttrReply getattr(Caller caller, long ino, long fh) {
        return guard("getattr", ino, () -> onNode(ino, false, n -> new AttrReply(attr(n), ttlNs)));
    }

    @Override
    public AttrReply setattr(Caller caller, long ino, SetAttr change) {
        return guard("setattr", ino, () -> onNode(ino, true, n -> {
            setattrLocked(caller, n, change);
            return new AttrReply(attr(n), ttlNs);
        }));
    }

    private void setattrLocked(Caller caller, Node n, SetAttr c) {
        if (log.isTraceEnabled()) {
            log.trace("setattr inode {}: valid {} size {} fh {}", n.ino, Integer.toBinaryString(c.valid()), c.size(),
                    c.fh());
        }
        long now = Clock.nowNs();
        Attrs a = Attrs.of(n);
        if (c.has(SetAttr.MODE)) {
            a.mode = (n.mode & Node.S_IFMT) | (c.mode() & 07777);
        }
        if (c.has(SetAttr.UID)) {
            a.uid = c.uid();
        }
        if (c.has(SetAttr.GID)) {
            a.gid = c.gid();
        }
        if (c.has(SetAttr.SIZE)) {
            if (n.isDir()) {
                throw new FuseException(Errno.EISDIR);
            }
            if (!n.isRegular()) {
                throw new FuseException(Errno.EINVAL);
            }
            if (c.size() < 0) {
                throw new FuseException(Errno.EINVAL);
            }
            if (c.size() > FsConfig.MAX_FILE_SIZE) {
                throw new FuseException(Errno.EFBIG);
            }
            a.size = c.size();
            a.mtimeNs = now;
        }
        if (c.has(SetAttr.ATIME_NOW)) {
            a.atimeNs = now;
        } else if (c.has(SetAttr.ATIME)) {
            a.atimeNs = c.atimeNs();
        }
        if (c.has(SetAttr.MTIME_NOW)) {
            a.mtimeNs = now;
        } else if (c.has(SetAttr.MTIME)) {
            a.mtimeNs = c.mtimeNs();
        }
        a.ctimeNs = c.has(SetAttr.CTIME) ? c.ctimeNs() : now;
        if (c.valid() == 0) {
            return;
        }
        requireWritable();
        boolean chown = c.has(SetAttr.UID) || c.has(SetAttr.GID);
        if (chown && !c.has(SetAttr.MODE)) {
            a.mode = PrivilegeDrop.afterChown(a.mode, n.gid, caller);
        }
        if (c.has(SetAttr.SIZE) && c.has(SetAttr.KILL_SUIDGID)) {
            a.mode = PrivilegeDrop.afterModification(a.mode, n.gid, caller);
        }
        if (n.removed) {
            // Unlinked and reclaimed, yet still known to the kernel: nothing left to store.
            a.applyTo(n);
            return;
        }
        boolean dropCapability = (chown || c.has(SetAttr.SIZE)) && hasCapability(n);
        boolean onlyTimesChange = !c.has(SetAttr.SIZE) && !dropCapability && a.mode == n.mode && a.uid == n.uid
                && a.gid == n.gid;
        if (onlyTimesChange && n.isRegular() && (c.has(SetAttr.FH) || n.writers > 0)) {
            // Only timestamps move (the kernel handing back times from its writeback cache, or a
            // chown to the same owner, as SQLite does to each new journal when run as root), on a
            // file open for writing: stored with the file's written data, so that one SQLite
            // commit does not pay an extra transaction for them.
            a.applyTo(n);
            contents.timesChanged(n);
            return;
        }
        if (c.has(SetAttr.SIZE)) {
            // A new size is data, stored at the next fsync like written blocks: SQLite's TRUNCATE
            // journal mode truncates the journal and then syncs it, one transaction for both.
            contents.resize(n, a.size, now);
            n.kernelSizeAhead = false;
            if (!dropCapability && a.mode == n.mode && a.uid == n.uid && a.gid == n.gid) {
                a.applyTo(n);
                contents.timesChanged(n);
                return;
            }
        }
        SealedTransaction tx = store.transaction();
        if (dropCapability) {
            tx.deleteXattr(n.ino, PrivilegeDrop.CAPABILITY.bytes());
        }
        FileContents.AfterCommit apply = contents.stageRow(tx, n, a);
        apply.apply(tx.commit());
        if (dropCapability) {
            n.xattrs.remove(PrivilegeDrop.CAPABILITY);
        }
    }

    /** Whether the node carries security.capability (which writes, truncations and chown remove). */
    private boolean hasCapability(Node n) {
        return !n.removed && xattrs(n).containsKey(PrivilegeDrop.CAPABILITY);
    }

    @Override
    public byte[] readlink(Caller caller, long ino) {
        return guard("readlink", ino, () -> onNode(ino, true, n -> {
            if (!n.isSymlink()) {
                throw new FuseException(Errno.EINVAL);
            }
            if (n.symlinkTarget == null) {
                n.symlinkTarget = store.symlinkTarget(ino);
            }
            return n.symlinkTarget;
        }));
    }

    // ------------------------------------------------------------------ namespace changes

    @Override
    public Entry mknod(Caller caller, long parent, byte[] name, int mode, int rdev, int umask) {
        int type = mode & Node.S_IFMT;
        if (type == 0) {
            type = Node.S_IFREG;
        }
        if (type != Node.S_IFREG && type != Node.S_IFIFO && type != Node.S_IFSOCK
                && type != Node.S_IFCHR && type != Node.S_IFBLK) {
            throw new FuseException(Errno.EINVAL);
        }
        int fullMode = type | (mode & 07777);
        int devNumber = type == Node.S_IFCHR || type == Node.S_IFBLK ? rdev : 0;
        return guard("mknod", parent, () -> reply(tree.makeNode(caller, parent, name, fullMode, devNumber, null)));
    }

    @Override
    public Entry mkdir(Caller caller, long parent, byte[] name, int mode, int umask) {
        return guard("mkdir", parent,
                () -> reply(tree.makeNode(caller, parent, name, Node.S_IFDIR | (mode & 07777), 0, null)));
    }

    @Override
    public Entry symlink(Caller caller, long parent, byte[] name, byte[] target) {
        if (target.length > SYMLINK_MAX) {
            throw new FuseException(Errno.ENAMETOOLONG);
        }
        if (target.length == 0) {
            throw new FuseException(Errno.ENOENT);
        }
        return guard("symlink", parent,
                () -> reply(tree.makeNode(caller, parent, name, Node.S_IFLNK | 0777, 0, target)));
    }

    @Override
    public CreateResult create(Caller caller, long parent, byte[] name, int mode, int umask, int flags) {
        return guard("create", parent, () -> {
            Node n = tree.makeNode(caller, parent, name, Node.S_IFREG | (mode & 07777), 0, null);
            try {
                long fh = openHandle(n, flags);
                Entry entry = entryOf(n);
                nodes.lookedUp(n);
                return new CreateResult(entry, new OpenResult(fh, OpenResult.KEEP_CACHE));
            } finally {
                nodes.release(n);
            }
        });
    }

    @Override
    public Entry link(Caller caller, long ino, long newParent, byte[] newName) {
        return guard("link", ino, () -> {
            Node n = tree.link(ino, newParent, newName);
            try {
                return entryOf(n);
            } finally {
                nodes.release(n);
            }
        });
    }

    @Override
    public void unlink(Caller caller, long parent, byte[] name) {
        guard("unlink", parent, () -> {
            tree.remove(parent, name, false);
            return null;
        });
    }

    @Override
    public void rmdir(Caller caller, long parent, byte[] name) {
        guard("rmdir", parent, () -> {
            tree.remove(parent, name, true);
            return null;
        });
    }

    @Override
    public void rename(Caller caller, long parent, byte[] name, long newParent, byte[] newName, int flags) {
        guard("rename", parent, () -> {
            tree.rename(parent, name, newParent, newName, flags);
            return null;
        });
    }

    // ------------------------------------------------------------------ open files

    @Override
    public OpenResult open(Caller caller, long ino, int flags, boolean killSuidGid) {
        return guard("open", ino, () -> {
            Node n = nodes.acquire(ino, 0);
            try {
                if (n.isDir()) {
                    throw new FuseException(Errno.EISDIR);
                }
                boolean writable = (flags & Handles.O_ACCMODE) != Handles.O_RDONLY;
                boolean truncate = (flags & Handles.O_TRUNC) != 0 && n.isRegular();
                if (writable || truncate) {
                    requireWritable();
                }
                if (truncate) {
                    // Linux truncates on O_TRUNC whatever the access mode (O_RDONLY included), and
                    // with atomic_o_trunc the kernel counts on this open to have done it. Like
                    // any truncation it is stored with the file's next fsync, unless privileges
                    // go with it: those changes are stored before the open returns.
                    n.lock.writeLock().lock();
                    try {
                        boolean dropCapability = hasCapability(n);
                        boolean kill = killSuidGid && (n.mode & (Node.S_ISUID | Node.S_ISGID)) != 0;
                        if (n.size != 0 || dropCapability || kill) {
                            contents.resize(n, 0, Clock.nowNs());
                        }
                        n.kernelSizeAhead = false;
                        if (dropCapability || kill) {
                            Attrs a = Attrs.of(n);
                            if (kill) {
                                a.mode = PrivilegeDrop.afterModification(a.mode, n.gid, caller);
                            }
                            SealedTransaction tx = store.transaction();
                            if (dropCapability) {
                                tx.deleteXattr(n.ino, PrivilegeDrop.CAPABILITY.bytes());
                            }
                            contents.stage(tx, n, a).apply(tx.commit());
                            if (dropCapability) {
                                n.xattrs.remove(PrivilegeDrop.CAPABILITY);
                            }
                        }
                    } finally {
                        n.lock.writeLock().unlock();
                    }
                }
                long fh = openHandle(n, flags);
                return new OpenResult(fh, OpenResult.KEEP_CACHE);
            } finally {
                nodes.release(n);
            }
        });
    }

    private long openHandle(Node n, int flags) {
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

    @Override
    public int read(Caller caller, long ino, long fh, long offset, int size, MemorySegment dest) {
        return guard("read", ino, () -> {
            Node n = handles.get(fh, ino).node();
            n.lock.readLock().lock();
            try {
                if (n.kernelSizeAhead && offset >= n.size && size > 0) {
                    // Past what storage holds, where the kernel still counts lost data.
                    throw new FuseException(Errno.EIO, "inode " + n.ino + ": written data past " + n.size
                            + " bytes was lost");
                }
                return contents.read(n, offset, size, dest);
            } finally {
                n.lock.readLock().unlock();
            }
        });
    }

    @Override
    public int write(Caller caller, long ino, long fh, long offset, MemorySegment data, int writeFlags) {
        return guard("write", ino, () -> {
            requireWritable();
            Node n = handles.get(fh, ino).node();
            long newBytes = data.byteSize();
            boolean cached = (writeFlags & WRITE_CACHE) != 0;
            n.lock.writeLock().lock();
            try {
                if (cached && n.refuseCachedWrites) {
                    throw new FuseException(n.storeErrno);
                }
                try {
                    contents.write(n, offset, data, Clock.nowNs());
                } catch (FuseException e) {
                    if (cached && e.errno() == Errno.ENOSPC) {
                        // The writer was told long ago that this write succeeded: what else the
                        // kernel wrote back of the file must not be stored without it.
                        contents.storeFailed(n, Errno.ENOSPC, "the namespace's quota of " + config.quotaBytes()
                                + " bytes is full", false);
                    }
                    throw e;
                }
                if ((writeFlags & WRITE_KILL_SUIDGID) != 0) {
                    n.mode = PrivilegeDrop.afterModification(n.mode, n.gid, caller);
                }
                if (hasCapability(n)) {
                    changeXattr(n, PrivilegeDrop.CAPABILITY, null);
                }
            } finally {
                n.lock.writeLock().unlock();
            }
            if (contents.dirtyBytes() > config.dirtyLimitBytes()) {
                storeNode(n);
            }
            return (int) newBytes;
        });
    }

    /**
     * close(2) stores nothing: as on a local filesystem, only fsync makes written data durable
     * (and the write-back delay bounds how long it stays in memory).
     */
    @Override
    public void flush(Caller caller, long ino, long fh, long lockOwner) {
        guard("flush", ino, () -> {
            reportStoreFailure(handles.get(fh, ino));
            return null;
        });
    }

    /**
     * Fails with the errno of the last failure to store the file's written data, if this handle
     * has not reported it yet (each failure once per open handle, as Linux reports writeback
     * errors). Takes no node lock: a
     * close (FLUSH) must not wait for a commit in progress on the file, which may take until
     * --db-timeout (a child process closing a descriptor it inherited does exactly that).
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

    /** Stores the file's data and metadata, and every change made before this call. */
    @Override
    public void fsync(Caller caller, long ino, long fh, boolean dataOnly) {
        guard("fsync", ino, () -> {
            Handles.Handle h = handles.get(fh, ino);
            try {
                if (!storeNode(h.node())) {
                    store.flushDeferred();
                }
            } catch (RuntimeException e) {
                // This call reports the failure (if it lost written data, see storeFailed).
                reportStoreFailure(h);
                throw e;
            }
            reportStoreFailure(h);
            return null;
        });
    }

    /** Stores every change made before this call: new names, removals, attribute changes. */
    @Override
    public void fsyncdir(Caller caller, long ino, long fh, boolean dataOnly) {
        guard("fsyncdir", ino, () -> {
            handles.get(fh, ino);
            store.flushDeferred();
            return null;
        });
    }

    @Override
    public void release(Caller caller, long ino, long fh, int flags) {
        guard("release", ino, () -> {
            Handles.Handle h = handles.remove(fh, ino);
            closeHandle(h.node(), h.flags());
            return null;
        });
    }

    private void closeHandle(Node n, int flags) {
        boolean last;
        n.lock.writeLock().lock();
        try {
            if ((flags & Handles.O_ACCMODE) != Handles.O_RDONLY) {
                n.writers--;
            }
            last = nodes.closed(n);
        } finally {
            n.lock.writeLock().unlock();
        }
        if (last) {
            tree.reclaim(n);
        }
    }

    /**
     * Stores the node's written blocks and times, if any (with every change deferred before);
     * takes the node's write lock. Returns whether it committed.
     */
    private boolean storeNode(Node n) {
        boolean committed = false;
        n.lock.writeLock().lock();
        try {
            // Only regular files ever hold unstored changes (blocks, size, times).
            if (n.isDirty() && !n.removed) {
                contents.commit(n, Attrs.of(n));
                committed = true;
            }
        } finally {
            n.lock.writeLock().unlock();
        }
        nodes.settle(n);
        return committed;
    }

    /** Stores one node's unstored changes, by inode number (write-back and shutdown). */
    void flushNode(long ino, String why) {
        guard(why, ino, () -> {
            Node n = nodes.acquire(ino, 0);
            try {
                storeNode(n);
            } finally {
                nodes.release(n);
            }
            return null;
        });
    }

    /** Nodes with unstored changes (for the write-back thread, which picks the old ones). */
    List<Node> dirtyNodes() {
        return List.copyOf(contents.dirtyNodes());
    }

    @Override
    public void fallocate(Caller caller, long ino, long fh, long offset, long length, int mode) {
        guard("fallocate", ino, () -> {
            if ((mode & ~FALLOC_FL_KEEP_SIZE) != 0) {
                throw new FuseException(Errno.EOPNOTSUPP);
            }
            if (offset < 0 || length <= 0) {
                throw new FuseException(Errno.EINVAL);
            }
            requireWritable();
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
                long growth = Math.max(0, end - Math.max(n.size, offset));
                if (Math.ceilDiv(growth, config.blockSize()) > space.freeBlocks()) {
                    throw new FuseException(Errno.ENOSPC);
                }
                if ((mode & FALLOC_FL_KEEP_SIZE) == 0 && end > n.size) {
                    contents.resize(n, end, Clock.nowNs());
                    contents.commit(n, Attrs.of(n));
                }
            } finally {
                n.lock.writeLock().unlock();
            }
            return null;
        });
    }

    @Override
    public long lseek(Caller caller, long ino, long fh, long offset, int whence) {
        return guard("lseek", ino, () -> {
            if (whence != SEEK_DATA && whence != SEEK_HOLE) {
                throw new FuseException(Errno.EINVAL);
            }
            Node n = handles.get(fh, ino).node();
            if (n.writers > 0 && kernel != null) {
                // With the writeback cache, written pages (and the size they extend the file to)
                // may still be only in the kernel, which does not write them back before asking:
                // without them the answer could put a hole where there is data.
                kernel.writeBackPages(ino);
            }
            storeNode(n);
            n.lock.readLock().lock();
            try {
                if (offset < 0 || offset >= n.size) {
                    throw new FuseException(Errno.ENXIO);
                }
                long bs = config.blockSize();
                long idx = offset / bs;
                if (whence == SEEK_DATA) {
                    OptionalLong next = store.nextStoredBlock(ino, idx);
                    if (next.isEmpty() || next.getAsLong() * bs >= n.size) {
                        throw new FuseException(Errno.ENXIO);
                    }
                    return Math.max(offset, next.getAsLong() * bs);
                }
                long hole = store.nextMissingBlock(ino, idx);
                return Math.min(n.size, Math.max(offset, hole * bs));
            } finally {
                n.lock.readLock().unlock();
            }
        });
    }

    // ------------------------------------------------------------------ directories

    @Override
    public OpenResult opendir(Caller caller, long ino, int flags) {
        return guard("opendir", ino, () -> {
            Node n = nodes.acquire(ino, 0);
            try {
                if (!n.isDir()) {
                    throw new FuseException(Errno.ENOTDIR);
                }
                return new OpenResult(openHandle(n, flags), 0);
            } finally {
                nodes.release(n);
            }
        });
    }

    @Override
    public void releasedir(Caller caller, long ino, long fh) {
        guard("releasedir", ino, () -> {
            Handles.Handle h = handles.remove(fh, ino);
            h.node().lock.writeLock().lock();
            try {
                nodes.closed(h.node());
            } finally {
                h.node().lock.writeLock().unlock();
            }
            nodes.settle(h.node());
            return null;
        });
    }

    @Override
    public void readdir(Caller caller, long ino, long fh, long offset, DirSink sink) {
        guard("readdir", ino, () -> {
            Node n = handles.get(fh, ino).node();
            nodes.ensureEntries(n);
            n.lock.readLock().lock();
            try {
                if (offset < Directory.DOT_COOKIE && !sink.add(new byte[] {'.'}, n.ino, Node.S_IFDIR, Directory.DOT_COOKIE)) {
                    return null;
                }
                if (offset < Directory.DOTDOT_COOKIE
                        && !sink.add(new byte[] {'.', '.'}, n.parent, Node.S_IFDIR, Directory.DOTDOT_COOKIE)) {
                    return null;
                }
                for (Directory.Slot slot : n.entries.after(Math.max(offset, Directory.DOTDOT_COOKIE))) {
                    if (!sink.add(slot.name().bytes(), slot.ino(), slot.mode(), slot.cookie())) {
                        break;
                    }
                }
            } finally {
                n.lock.readLock().unlock();
            }
            return null;
        });
    }

    @Override
    public void readdirplus(Caller caller, long ino, long fh, long offset, DirPlusSink sink) {
        guard("readdirplus", ino, () -> {
            Node n = handles.get(fh, ino).node();
            nodes.ensureEntries(n);
            if (offset < Directory.DOT_COOKIE && !sink.add(new byte[] {'.'}, entryOf(n), Directory.DOT_COOKIE)) {
                return null;
            }
            if (offset < Directory.DOTDOT_COOKIE) {
                Node parent = nodes.acquire(n.parent, 0);
                try {
                    if (!sink.add(new byte[] {'.', '.'}, entryOf(parent), Directory.DOTDOT_COOKIE)) {
                        return null;
                    }
                } finally {
                    nodes.release(parent);
                }
            }
            long cursor = Math.max(offset, Directory.DOTDOT_COOKIE);
            for (;;) {
                List<Directory.Slot> batch = new ArrayList<>(64);
                n.lock.readLock().lock();
                try {
                    for (Directory.Slot slot : n.entries.after(cursor)) {
                        batch.add(slot);
                        if (batch.size() == 64) {
                            break;
                        }
                    }
                } finally {
                    n.lock.readLock().unlock();
                }
                if (batch.isEmpty()) {
                    return null;
                }
                long[] inos = batch.stream().mapToLong(Directory.Slot::ino).toArray();
                List<Node> children = nodes.acquireAll(inos, n.ino);
                try {
                    Map<Long, Node> byIno = new HashMap<>();
                    for (Node c : children) {
                        byIno.put(c.ino, c);
                    }
                    for (Directory.Slot slot : batch) {
                        Node c = byIno.get(slot.ino());
                        cursor = slot.cookie();
                        if (c == null) {
                            continue;
                        }
                        if (!sink.add(slot.name().bytes(), entryOf(c), slot.cookie())) {
                            return null;
                        }
                        nodes.lookedUp(c);
                    }
                } finally {
                    nodes.releaseAll(children);
                }
            }
        });
    }

    // ------------------------------------------------------------------ extended attributes

    @Override
    public void setxattr(Caller caller, long ino, byte[] name, byte[] value, int flags) {
        guard("setxattr", ino, () -> {
            requireWritable();
            Name nm = checkXattrName(name);
            if (value.length > XATTR_SIZE_MAX) {
                throw new FuseException(Errno.E2BIG);
            }
            return onNode(ino, true, n -> {
                boolean exists = xattrs(n).containsKey(nm);
                if ((flags & XATTR_CREATE) != 0 && exists) {
                    throw new FuseException(Errno.EEXIST);
                }
                if ((flags & XATTR_REPLACE) != 0 && !exists) {
                    throw new FuseException(Errno.ENODATA);
                }
                changeXattr(n, nm, value.clone());
                return null;
            });
        });
    }

    @Override
    public byte[] getxattr(Caller caller, long ino, byte[] name) {
        return guard("getxattr", ino, () -> {
            Name nm = checkXattrName(name);
            byte[] v = readXattrs(ino, x -> x.get(nm));
            if (v == null) {
                throw new FuseException(Errno.ENODATA);
            }
            return v;
        });
    }

    @Override
    public List<byte[]> listxattr(Caller caller, long ino) {
        return guard("listxattr", ino,
                () -> readXattrs(ino, x -> x.keySet().stream().map(Name::bytes).toList()));
    }

    /**
     * Reads a node's xattrs under its read lock (the kernel asks for security.capability before
     * every write, so this must not serialize readers), loading them once under the write lock.
     */
    private <T> T readXattrs(long ino, Function<Map<Name, byte[]>, T> f) {
        Node n = nodes.acquire(ino, 0);
        try {
            n.lock.readLock().lock();
            try {
                if (n.xattrs != null) {
                    return f.apply(n.xattrs);
                }
            } finally {
                n.lock.readLock().unlock();
            }
            n.lock.writeLock().lock();
            try {
                return f.apply(xattrs(n));
            } finally {
                n.lock.writeLock().unlock();
            }
        } finally {
            nodes.release(n);
        }
    }

    @Override
    public void removexattr(Caller caller, long ino, byte[] name) {
        guard("removexattr", ino, () -> {
            requireWritable();
            Name nm = checkXattrName(name);
            return onNode(ino, true, n -> {
                if (!xattrs(n).containsKey(nm)) {
                    throw new FuseException(Errno.ENODATA);
                }
                changeXattr(n, nm, null);
                return null;
            });
        });
    }

    /** Sets ({@code value} non-null) or removes an xattr, with the inode's ctime, durably. */
    private void changeXattr(Node n, Name nm, byte[] value) {
        Attrs a = Attrs.of(n);
        a.ctimeNs = Clock.nowNs();
        SealedTransaction tx = store.transaction();
        if (value == null) {
            tx.deleteXattr(n.ino, nm.bytes());
        } else {
            tx.putXattr(n.ino, nm.bytes(), value);
        }
        FileContents.AfterCommit apply = contents.stageRow(tx, n, a);
        CommitResult r = tx.commit();
        apply.apply(r);
        if (value == null) {
            n.xattrs.remove(nm);
        } else {
            n.xattrs.put(nm, value);
        }
    }

    private Map<Name, byte[]> xattrs(Node n) {
        if (n.xattrs == null) {
            Map<Name, byte[]> loaded = new HashMap<>();
            if (!n.removed) {
                for (Map.Entry<byte[], byte[]> e : store.xattrs(n.ino).entrySet()) {
                    loaded.put(Name.of(e.getKey()), e.getValue());
                }
            }
            n.xattrs = loaded;
        }
        return n.xattrs;
    }

    private static Name checkXattrName(byte[] name) {
        if (name.length == 0) {
            throw new FuseException(Errno.EINVAL);
        }
        if (name.length > XATTR_NAME_MAX) {
            throw new FuseException(Errno.ERANGE);
        }
        if (!(startsWith(name, "user.") || startsWith(name, "trusted.") || startsWith(name, "security."))) {
            throw new FuseException(Errno.EOPNOTSUPP);
        }
        return Name.of(name.clone());
    }

    private static boolean startsWith(byte[] name, String prefix) {
        if (name.length <= prefix.length()) {
            return false;
        }
        for (int i = 0; i < prefix.length(); i++) {
            if (name[i] != prefix.charAt(i)) {
                return false;
            }
        }
        return true;
    }

    // ------------------------------------------------------------------ whole filesystem

    @Override
    public StatFs statfs(Caller caller, long ino) {
        long bs = config.blockSize();
        long used = Math.max(0, space.usedBlocks());
        OptionalLong hostFree = config.hostFreeBytes().get();
        long capacityBlocks;
        long freeBlocks;
        if (config.quotaBytes() > 0) {
            capacityBlocks = config.quotaBytes() / bs;
            freeBlocks = Math.max(0, capacityBlocks - used);
            if (hostFree.isPresent()) {
                freeBlocks = Math.min(freeBlocks, hostFree.getAsLong() / bs);
            }
        } else if (hostFree.isPresent()) {
            freeBlocks = hostFree.getAsLong() / bs;
            capacityBlocks = used + freeBlocks;
        } else {
            capacityBlocks = Math.max(used, FsConfig.MAX_FILE_SIZE / bs);
            freeBlocks = capacityBlocks - used;
        }
        long files = tree.inodeCount();
        return new StatFs(capacityBlocks, freeBlocks, freeBlocks, files + freeBlocks, freeBlocks, (int) bs,
                Name.MAX_LENGTH, (int) bs);
    }

    @Override
    public void access(Caller caller, long ino, int mask) {
        guard("access", ino, () -> onNode(ino, false, n -> {
            if ((mask & 2) != 0 && config.readOnly()) {
                throw new FuseException(Errno.EROFS);
            }
            if (!Permissions.allows(n.mode, n.uid, n.gid, caller, mask)) {
                throw new FuseException(Errno.EACCES);
            }
            return null;
        }));
    }

    // ------------------------------------------------------------------ helpers

    private Entry reply(Node n) {
        try {
            Entry e = entryOf(n);
            nodes.lookedUp(n);
            return e;
        } finally {
            nodes.release(n);
        }
    }

    private Entry entryOf(Node n) {
        n.lock.readLock().lock();
        try {
            return new Entry(n.ino, 0, attr(n), ttlNs, ttlNs);
        } finally {
            n.lock.readLock().unlock();
        }
    }

    private FileAttr attr(Node n) {
        return new FileAttr(n.ino, n.size, n.isRegular() ? contents.statBlocks(n) : 0,
                n.atimeNs, n.mtimeNs, n.ctimeNs, n.mode, n.nlink, n.uid, n.gid, n.rdev, config.blockSize());
    }

    /** Runs {@code body} on node {@code ino} under its read or write lock, holding the node meanwhile. */
    private <T> T onNode(long ino, boolean write, Function<Node, T> body) {
        Node n = nodes.acquire(ino, 0);
        try {
            var lock = write ? n.lock.writeLock() : n.lock.readLock();
            lock.lock();
            try {
                return body.apply(n);
            } finally {
                lock.unlock();
            }
        } finally {
            nodes.release(n);
        }
    }

    private void requireWritable() {
        if (config.readOnly()) {
            throw new FuseException(Errno.EROFS);
        }
    }

    /**
     * Runs one request; turns storage failures into EIO with one log line naming the operation
     * and inode. {@link FuseException}s pass through unchanged. Afterwards, with every lock let
     * go, the kernel drops what it caches of files whose written data the request lost.
     */
    private <T> T guard(String op, long ino, Supplier<T> body) {
        try {
            return mapFailures(op, ino, body);
        } finally {
            contents.dropLostPages(op.equals("write"));
        }
    }

    private <T> T mapFailures(String op, long ino, Supplier<T> body) {
        try {
            return body.get();
        } catch (FuseException e) {
            throw e;
        } catch (TamperedException e) {
            throw new FuseException(Errno.EIO, e.getMessage());
        } catch (StoreException.Fenced e) {
            if (fencedLogged.compareAndSet(false, true)) {
                log.error("namespace {}: {}; every further change fails with EIO", config.namespace(), e.getMessage());
            }
            throw new FuseException(Errno.EIO, e.getMessage());
        } catch (StoreException e) {
            log.warn("namespace {}: {} on inode {} failed: {}", config.namespace(), op, ino, e.getMessage());
            throw new FuseException(Errno.EIO, e.getMessage());
        }
    }
}
