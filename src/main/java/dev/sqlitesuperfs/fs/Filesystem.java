package dev.sqlitesuperfs.fs;

import dev.sqlitesuperfs.fuse.AttrReply;
import dev.sqlitesuperfs.fuse.Caller;
import dev.sqlitesuperfs.fuse.CreateResult;
import dev.sqlitesuperfs.fuse.DirPlusSink;
import dev.sqlitesuperfs.fuse.DirSink;
import dev.sqlitesuperfs.fuse.Entry;
import dev.sqlitesuperfs.fuse.Errno;
import dev.sqlitesuperfs.fuse.FileLock;
import dev.sqlitesuperfs.fuse.FuseException;
import dev.sqlitesuperfs.fuse.FuseFilesystem;
import dev.sqlitesuperfs.fuse.KernelChannel;
import dev.sqlitesuperfs.fuse.KernelConnection;
import dev.sqlitesuperfs.fuse.OpenResult;
import dev.sqlitesuperfs.fuse.SetAttr;
import dev.sqlitesuperfs.fuse.StatFs;
import dev.sqlitesuperfs.sealed.SealedStore;
import dev.sqlitesuperfs.sealed.TamperedException;
import dev.sqlitesuperfs.store.InodeRecord;
import dev.sqlitesuperfs.store.StoreException;
import dev.sqlitesuperfs.store.Usage;
import dev.sqlitesuperfs.sys.FileType;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.Lock;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The POSIX filesystem of one namespace, answering the kernel's requests: wires the parts
 * together and hands each request to the part that owns its kind of operation, inside
 * {@link #guard}, which turns storage failures into errnos. The parts: {@link Tree} (names:
 * create, link, remove, rename), {@link AttributeOps} (attributes, statfs), {@link FileOps} (open
 * files), {@link DirectoryOps} (open directories), {@link ExtendedAttributes}, with
 * {@link NodeTable} (inodes in memory), {@link FileContents} (reads) and {@link WriteBuffer}
 * (written data until it is stored).
 *
 * <h2>Locking</h2>
 * Operations that change more than one inode are {@link Tree}'s, one at a time. Everything else
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
 * leaves names and attributes as they were; the call fails with EIO and a log line naming the
 * operation and inode. A file's written data that a failed commit was to store is given up as a
 * whole and the failure reported by the file's next fsync and close ({@link WriteBuffer#storeFailed}).
 * A request that only reads and fails because PostgreSQL cannot be reached fails with ETIMEDOUT
 * instead ({@link #READS}): SQLite reports an EIO from read() as a corrupt database.
 */
public final class Filesystem implements FuseFilesystem {
    private static final Logger log = LoggerFactory.getLogger(Filesystem.class);

    static final int SYMLINK_MAX = 4095;

    /**
     * Requests that store nothing. When PostgreSQL cannot be reached they fail with ETIMEDOUT, as
     * NFS's softerr mounts do, not EIO: SQLite turns an EIO from read() into SQLITE_CORRUPT
     * (os_unix.c, SQLITE_IOERR_CORRUPTFS), which would tell an application its database is
     * damaged when the storage is only away; with ETIMEDOUT it reports SQLITE_IOERR and the same
     * connection reads on once PostgreSQL is back. EIO stays for what is refused (a tamper) or
     * lost (written data that could not be stored).
     */
    private static final Set<String> READS = Set.of("lookup", "getattr", "readlink", "access", "read", "lseek",
            "opendir", "readdir", "readdirplus", "getxattr", "listxattr");

    private final FsConfig config;
    private final NodeTable nodes;
    private final Replies replies;
    private final Space space;
    private final WriteBuffer buffer;
    private final Tree tree;
    private final AttributeOps attributes;
    private final FileOps files;
    private final DirectoryOps directories;
    private final ExtendedAttributes xattrs;
    private final AtomicBoolean fencedLogged = new AtomicBoolean();
    private final FsResources resources;
    private final boolean ownsResources;
    private final BlockCache.Tenant cache;
    private final FsMetrics metrics;
    /** Read-only mounts: following the namespace's writer, and the POSIX locks that tell when. Null when writable. */
    private final Following following;

    private Filesystem(FsConfig config, SealedStore store, FsResources resources, boolean ownsResources) {
        this.config = config;
        this.resources = resources;
        this.ownsResources = ownsResources;
        this.nodes = new NodeTable(store);
        Handles handles = new Handles();
        this.cache = resources.cache.tenant();
        this.metrics = new FsMetrics(cache);
        FileContents contents = new FileContents(store, cache, config.blockSize());
        this.replies = new Replies(nodes, contents, config);
        this.space = new Space(config.quotaBytes() / config.blockSize());
        JournalOrdering ordering = new JournalOrdering(config.orderedJournals());
        this.buffer = new WriteBuffer(config, store, nodes, contents, space, resources, ordering);
        this.tree = new Tree(config, store, nodes, buffer, ordering);
        this.xattrs = new ExtendedAttributes(config, store, nodes, buffer);
        this.attributes = new AttributeOps(config, store, nodes, buffer, xattrs, replies, space, tree);
        this.files = new FileOps(config, store, nodes, handles, contents, buffer, xattrs, tree, ordering);
        this.directories = new DirectoryOps(store, nodes, handles, replies, ordering);
        this.following = config.readOnly() ? new Following(config, store, nodes, cache, contents) : null;
    }

    /** What this namespace's filesystem has counted since it was opened. */
    public FsMetrics metrics() {
        return metrics;
    }

    /**
     * Loads the root and the namespace's totals and reclaims inodes that were unlinked while open
     * when an earlier mount stopped without closing them.
     */
    public static Filesystem open(FsConfig config, SealedStore store) {
        return open(config, store, FsResources.forOneMount(config), true);
    }

    /** As {@link #open(FsConfig, SealedStore)}, sharing a host's cache, write budget and write-back. */
    public static Filesystem open(FsConfig config, SealedStore store, FsResources resources) {
        return open(config, store, resources, false);
    }

    private static Filesystem open(FsConfig config, SealedStore store, FsResources resources, boolean owns) {
        Filesystem fs = new Filesystem(config, store, resources, owns);
        try {
            fs.load(store);
        } catch (RuntimeException | Error e) {
            fs.release();
            throw e;
        }
        return fs;
    }

    private void load(SealedStore store) {
        InodeRecord root = store.inode(NodeTable.ROOT)
                .orElseThrow(() -> new StoreException("namespace " + config.namespace() + " has no root directory"));
        Node rootNode = nodes.installRoot(root);
        if (!rootNode.isDir()) {
            throw new StoreException("namespace " + config.namespace() + ": inode 1 is not a directory");
        }
        if (!config.readOnly()) {
            tree.reclaimOrphans();
        }
        Usage usage = store.usage();
        space.initStored(usage.blocks());
        tree.initInodeCount(usage.inodes());
        if (!config.readOnly()) {
            buffer.start();
        }
    }

    /** Gives this namespace's part of the shared resources back (or closes its own). */
    private void release() {
        cache.close();
        if (ownsResources) {
            resources.close();
        }
    }

    @Override
    public void init(KernelConnection connection, KernelChannel kernel) {
        if (following != null) {
            following.connect(kernel);
        }
        buffer.connect(kernel);
        log.debug("kernel connection: protocol 7.{}, writeback cache {}", connection.minor(),
                connection.has(KernelConnection.WRITEBACK_CACHE));
    }

    /**
     * For a read-only mount beside the namespace's writer: runs {@code step}, which moves the
     * storage below to the writer's newest commit and returns the inodes that commit changed
     * ({@code SealedNamespace.followWriter}), while no request runs and no reader is inside a
     * transaction ({@link PosixLocks}); loads those inodes again (names, attributes, targets,
     * xattrs; cached blocks dropped), then has the kernel drop what it caches of them. Returns how
     * many inodes changed (0 also when {@code stop} said to give up while readers were inside).
     */
    public int followWriter(Supplier<Set<Long>> step, BooleanSupplier stop) {
        if (following == null) {
            throw new IllegalStateException("namespace " + config.namespace() + " is mounted writable");
        }
        return following.step(step, stop);
    }

    /** Inodes held in memory: those the kernel knows, open ones, and ones with unstored changes. */
    public int inodesInMemory() {
        return nodes.size();
    }

    /** Whether inode {@code ino} is held in memory (tests: a row read afresh once the kernel forgot it). */
    public boolean holds(long ino) {
        return nodes.holds(ino);
    }

    /** Plaintext bytes of this namespace in the block cache (shared or its own). */
    public long cachedBytes() {
        return cache.bytes();
    }

    /** Bytes written to this namespace and not stored yet. */
    public long unstoredBytes() {
        return buffer.dirtyBytes();
    }

    /** Stores every written block, timestamp and deferred change still in memory. */
    public void flushAll() {
        guard("flush-all", NodeTable.ROOT, () -> {
            buffer.storeAll();
            return null;
        });
    }

    @Override
    public void destroy() {
        try {
            guard("destroy", NodeTable.ROOT, () -> {
                buffer.stop();
                return null;
            });
        } finally {
            release();
        }
    }

    // ------------------------------------------------------------------ names

    @Override
    public Entry lookup(Caller caller, long parent, byte[] name) {
        return guard("lookup", parent, () -> {
            Name nm = Name.checked(name);
            if (following != null) {
                following.told(parent, name);
            }
            Node p = nodes.acquire(parent, 0);
            try {
                Directory.Slot slot = nodes.withEntries(p, d -> d.get(nm));
                if (slot == null) {
                    return replies.negative();
                }
                Node n = nodes.acquire(slot.ino(), p.ino);
                n.journalName = JournalOrdering.isJournalName(nm.bytes());
                return replies.reply(n);
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
    public Entry mknod(Caller caller, long parent, byte[] name, int mode, int rdev, int umask) {
        int type = mode & FileType.MASK;
        if (type == 0) {
            type = FileType.REGULAR;
        }
        if (type != FileType.REGULAR && type != FileType.FIFO && type != FileType.SOCKET
                && type != FileType.CHARACTER_DEVICE && type != FileType.BLOCK_DEVICE) {
            throw new FuseException(Errno.EINVAL);
        }
        int fullMode = type | (mode & 07777);
        int devNumber = type == FileType.CHARACTER_DEVICE || type == FileType.BLOCK_DEVICE ? rdev : 0;
        return guard("mknod", parent,
                () -> replies.reply(tree.makeNode(caller, parent, name, fullMode, devNumber, null)));
    }

    @Override
    public Entry mkdir(Caller caller, long parent, byte[] name, int mode, int umask) {
        return guard("mkdir", parent,
                () -> replies.reply(tree.makeNode(caller, parent, name, FileType.DIRECTORY | (mode & 07777), 0, null)));
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
                () -> replies.reply(tree.makeNode(caller, parent, name, FileType.SYMLINK | 0777, 0, target)));
    }

    @Override
    public CreateResult create(Caller caller, long parent, byte[] name, int mode, int umask, int flags) {
        return guard("create", parent, () -> {
            Node n = tree.makeNode(caller, parent, name, FileType.REGULAR | (mode & 07777), 0, null);
            try {
                long fh = files.openHandle(n, flags);
                Entry entry = replies.entryOf(n);
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
                return replies.entryOf(n);
            } finally {
                nodes.release(n);
            }
        });
    }

    @Override
    public void unlink(Caller caller, long parent, byte[] name) {
        run("unlink", parent, () -> tree.remove(parent, name, false));
    }

    @Override
    public void rmdir(Caller caller, long parent, byte[] name) {
        run("rmdir", parent, () -> tree.remove(parent, name, true));
    }

    @Override
    public void rename(Caller caller, long parent, byte[] name, long newParent, byte[] newName, int flags) {
        run("rename", parent, () -> tree.rename(parent, name, newParent, newName, flags));
    }

    // ------------------------------------------------------------------ attributes

    @Override
    public AttrReply getattr(Caller caller, long ino, long fh) {
        return guard("getattr", ino, () -> attributes.getattr(ino));
    }

    @Override
    public AttrReply setattr(Caller caller, long ino, SetAttr change) {
        return guard("setattr", ino, () -> attributes.setattr(caller, ino, change));
    }

    @Override
    public byte[] readlink(Caller caller, long ino) {
        return guard("readlink", ino, () -> attributes.readlink(ino));
    }

    @Override
    public void access(Caller caller, long ino, int mask) {
        run("access", ino, () -> attributes.access(caller, ino, mask));
    }

    @Override
    public StatFs statfs(Caller caller, long ino) {
        return attributes.statfs();
    }

    // ------------------------------------------------------------------ open files

    @Override
    public OpenResult open(Caller caller, long ino, int flags, boolean killSuidGid) {
        return guard("open", ino, () -> files.open(caller, ino, flags, killSuidGid));
    }

    @Override
    public int read(Caller caller, long ino, long fh, long offset, int size, MemorySegment dest) {
        int read = guard("read", ino, () -> files.read(ino, fh, offset, size, dest));
        metrics.read(read);
        return read;
    }

    @Override
    public int write(Caller caller, long ino, long fh, long offset, MemorySegment data, int writeFlags) {
        int written = guard("write", ino, () -> files.write(caller, ino, fh, offset, data, writeFlags));
        metrics.written(written);
        return written;
    }

    /**
     * close(2) stores nothing: as on a local filesystem, only fsync makes written data durable
     * (and the write-back delay bounds how long it stays in memory).
     */
    @Override
    public void flush(Caller caller, long ino, long fh, long lockOwner) {
        if (following != null) {
            following.locks.releaseAll(ino, lockOwner);
        }
        run("flush", ino, () -> files.flush(ino, fh));
    }

    // ------------------------------------------------------------------ locks (read-only mounts)

    /** A read-only mount takes the POSIX locks itself: they tell when a step to a newer commit may come. */
    @Override
    public boolean posixLocks() {
        return following != null;
    }

    @Override
    public FileLock getlk(Caller caller, long ino, long fh, long owner, FileLock lock) {
        if (following == null) {
            throw new FuseException(Errno.ENOSYS);
        }
        return following.locks.test(ino, owner, lock);
    }

    /**
     * Outside {@link #guard}'s hold on the view: a lock may wait for a step to end, and the step
     * for every request to leave.
     */
    @Override
    public void setlk(Caller caller, long ino, long fh, long owner, FileLock lock, boolean wait) {
        if (following == null) {
            throw new FuseException(Errno.ENOSYS);
        }
        boolean counts = lock.type() == FileLock.UNLOCK
                || !guard("setlk", ino, () -> following.isWalDatabase(ino));
        following.setLock(ino, owner, lock, counts);
    }

    /** Stores the file's data and metadata, and every change made before this call. */
    @Override
    public void fsync(Caller caller, long ino, long fh, boolean dataOnly) {
        long start = System.nanoTime();
        try {
            run("fsync", ino, () -> files.fsync(ino, fh));
        } finally {
            metrics.fsync(System.nanoTime() - start);
        }
    }

    @Override
    public void release(Caller caller, long ino, long fh, int flags) {
        run("release", ino, () -> files.release(ino, fh));
    }

    @Override
    public void fallocate(Caller caller, long ino, long fh, long offset, long length, int mode) {
        run("fallocate", ino, () -> files.fallocate(ino, fh, offset, length, mode));
    }

    @Override
    public long lseek(Caller caller, long ino, long fh, long offset, int whence) {
        return guard("lseek", ino, () -> files.lseek(ino, fh, offset, whence));
    }

    // ------------------------------------------------------------------ directories

    @Override
    public OpenResult opendir(Caller caller, long ino, int flags) {
        return guard("opendir", ino, () -> directories.opendir(ino, flags));
    }

    @Override
    public void releasedir(Caller caller, long ino, long fh) {
        run("releasedir", ino, () -> directories.releasedir(ino, fh));
    }

    @Override
    public void readdir(Caller caller, long ino, long fh, long offset, DirSink sink) {
        run("readdir", ino, () -> directories.readdir(ino, fh, offset, sink));
    }

    @Override
    public void readdirplus(Caller caller, long ino, long fh, long offset, DirPlusSink sink) {
        DirPlusSink recorded = following == null ? sink : (name, entry, next) -> {
            boolean added = sink.add(name, entry, next);
            if (added && !isDotOrDotDot(name)) {
                following.told(ino, name);
            }
            return added;
        };
        run("readdirplus", ino, () -> directories.readdirplus(ino, fh, offset, recorded));
    }

    /** Stores every change made before this call: new names, removals, attribute changes. */
    @Override
    public void fsyncdir(Caller caller, long ino, long fh, boolean dataOnly) {
        run("fsyncdir", ino, () -> directories.fsyncdir(ino, fh));
    }

    // ------------------------------------------------------------------ extended attributes

    @Override
    public void setxattr(Caller caller, long ino, byte[] name, byte[] value, int flags) {
        run("setxattr", ino, () -> xattrs.set(ino, name, value, flags));
    }

    @Override
    public byte[] getxattr(Caller caller, long ino, byte[] name) {
        return guard("getxattr", ino, () -> xattrs.get(ino, name));
    }

    @Override
    public List<byte[]> listxattr(Caller caller, long ino) {
        return guard("listxattr", ino, () -> xattrs.list(ino));
    }

    @Override
    public void removexattr(Caller caller, long ino, byte[] name) {
        run("removexattr", ino, () -> xattrs.remove(ino, name));
    }

    // ------------------------------------------------------------------ failures

    private static boolean isDotOrDotDot(byte[] name) {
        return name.length <= 2 && name.length > 0 && name[0] == '.' && (name.length == 1 || name[1] == '.');
    }

    private void run(String op, long ino, Runnable body) {
        guard(op, ino, () -> {
            body.run();
            return null;
        });
    }

    /**
     * Runs one request; turns storage failures into EIO with one log line naming the operation
     * and inode. {@link FuseException}s pass through unchanged. Afterwards, with every lock let
     * go, the kernel drops what it caches of files whose written data the request lost.
     */
    private <T> T guard(String op, long ino, Supplier<T> body) {
        Lock shared = following == null ? null : following.requestLock();
        if (shared != null) {
            shared.lock();
        }
        try {
            return mapFailures(op, ino, body);
        } finally {
            if (shared != null) {
                shared.unlock();
            }
            buffer.dropLostPages(op.equals("write"));
        }
    }

    private <T> T mapFailures(String op, long ino, Supplier<T> body) {
        try {
            return body.get();
        } catch (FuseException e) {
            metrics.error(e.errno());
            throw e;
        } catch (TamperedException e) {
            metrics.tampered();
            metrics.error(Errno.EIO);
            throw new FuseException(Errno.EIO, e.getMessage());
        } catch (StoreException.Fenced e) {
            if (fencedLogged.compareAndSet(false, true)) {
                log.error("namespace {}: {}; every further change fails with EIO", config.namespace(), e.getMessage());
            }
            metrics.error(Errno.EIO);
            throw new FuseException(Errno.EIO, e.getMessage());
        } catch (StoreException e) {
            log.warn("namespace {}: {} on inode {} failed: {}", config.namespace(), op, ino, e.getMessage());
            int errno = e instanceof StoreException.Unavailable && READS.contains(op) ? Errno.ETIMEDOUT : Errno.EIO;
            metrics.error(errno);
            throw new FuseException(errno, e.getMessage());
        }
    }
}
