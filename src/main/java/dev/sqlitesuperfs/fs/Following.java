package dev.sqlitesuperfs.fs;

import dev.sqlitesuperfs.fuse.Errno;
import dev.sqlitesuperfs.fuse.FileLock;
import dev.sqlitesuperfs.fuse.FuseException;
import dev.sqlitesuperfs.fuse.KernelChannel;
import dev.sqlitesuperfs.sealed.SealedStore;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A read-only mount's part in following its namespace's writer: the view lock every request holds
 * shared and a step holds alone, so that no request mixes two of the writer's commits; the POSIX
 * locks readers take ({@link PosixLocks}), which keep steps out of SQLite's read transactions;
 * what in the state served keeps new transactions out: hot journals ({@link SqliteFiles}) and
 * half-rewritten WAL files ({@link WalFiles}); what a follower shows otherwise than stored (a WAL
 * without a committed frame, as empty); and what the kernel is told to forget at each step.
 */
final class Following {
    private static final Logger log = LoggerFactory.getLogger(Following.class);

    private final FsConfig config;
    private final SealedStore store;
    private final NodeTable nodes;
    private final BlockCache.Tenant cache;
    private final FileContents contents;
    private final ReentrantReadWriteLock view = new ReentrantReadWriteLock();
    final PosixLocks locks = new PosixLocks();
    /** Guarded by {@link #view}'s write lock. */
    private final SqliteFiles sqlite = new SqliteFiles();
    /** Updated by steps, asked by requests that load nodes (it synchronizes itself). */
    private final WalFiles wals;
    private volatile KernelChannel kernel;
    /**
     * Per directory, the names the kernel was told of (an entry, or that none exists) since the
     * directory last changed: when it changes (its authenticator covers its entries, so it is
     * among a step's changed inodes) the kernel is told to forget them. Names are recorded inside
     * the request that answers them, under the view lock, so a step sees every name answered
     * from the state before it.
     */
    private final Map<Long, Set<String>> namesTold = new HashMap<>();

    Following(FsConfig config, SealedStore store, NodeTable nodes, BlockCache.Tenant cache, FileContents contents) {
        this.config = config;
        this.store = store;
        this.nodes = nodes;
        this.cache = cache;
        this.contents = contents;
        this.wals = new WalFiles(config.blockSize());
        nodes.presentWith(r -> wals.presented(store, r));
    }

    void connect(KernelChannel kernel) {
        this.kernel = kernel;
    }

    /** What every request holds while it runs. */
    Lock requestLock() {
        return view.readLock();
    }

    /** See {@link Filesystem#followWriter}. */
    int step(Supplier<Set<Long>> step, BooleanSupplier stop) {
        if (!locks.awaitQuiet(stop)) {
            return 0;
        }
        Set<Long> changed = Set.of();
        Map<Long, long[]> ranges = new HashMap<>();
        Map<Long, Set<String>> names = new HashMap<>();
        // no transaction starts over a hot journal or a half-rewritten WAL (SqliteFiles, WalFiles)
        boolean unsafe = sqlite.anyHotJournal() || wals.anyInFlux();
        try {
            view.writeLock().lock();
            try {
                changed = step.get();
                for (Long ino : changed) {
                    cache.invalidate(ino, 0);
                }
                boolean walInFlux = wals.update(store, changed);
                for (Long ino : changed) {
                    long[] r = wals.changedRanges(ino);
                    if (r != null) {
                        ranges.put(ino, r);
                    }
                }
                synchronized (namesTold) {
                    for (Long ino : changed) {
                        Set<String> told = namesTold.remove(ino);
                        if (told != null) {
                            names.put(ino, told);
                        }
                    }
                }
                nodes.reload(changed); // after the WAL files: they change what some nodes show
                boolean hot = sqlite.updateHotJournals(store, changed);
                unsafe = hot || walInFlux;
            } finally {
                view.writeLock().unlock();
            }
            // Outside the view lock (the kernel may wait for a request in flight, a read holding
            // a page), but before any transaction starts: none may read a page of the old state.
            KernelChannel k = kernel;
            if (k != null) {
                for (Long ino : changed) {
                    drop(k, ino, ranges.get(ino));
                }
                for (Map.Entry<Long, Set<String>> e : names.entrySet()) {
                    for (String name : e.getValue()) {
                        k.dropEntry(e.getKey(), name.getBytes(StandardCharsets.ISO_8859_1));
                    }
                }
            }
        } finally {
            locks.reopen(unsafe);
        }
        return changed.size();
    }

    /** Records that the kernel was told what {@code name} in directory {@code parent} is; call inside the request. */
    void told(long parent, byte[] name) {
        synchronized (namesTold) {
            namesTold.computeIfAbsent(parent, k -> new HashSet<>()).add(new String(name, StandardCharsets.ISO_8859_1));
        }
    }

    /** Drops what the kernel holds of a changed inode: its attributes, and its pages in {@code ranges} (null: all). */
    private static void drop(KernelChannel k, long ino, long[] ranges) {
        if (ranges == null) {
            k.dropCached(ino);
        } else if (ranges.length == 0) {
            k.invalidateAttributes(ino);
        } else {
            for (int i = 0; i < ranges.length; i += 2) {
                k.dropCached(ino, ranges[i], ranges[i + 1]);
            }
        }
    }

    /** Takes or lets go of a POSIX lock; {@code counts}: whether it marks a transaction (see {@link PosixLocks}). */
    void setLock(long ino, long owner, FileLock lock, boolean counts) {
        if (log.isTraceEnabled()) {
            log.trace("namespace {}: lock on inode {} by owner {}: {} {}-{}{}", config.namespace(), ino,
                    Long.toHexString(owner),
                    lock.type() == FileLock.READ ? "read" : lock.type() == FileLock.WRITE ? "write" : "unlock",
                    lock.start(), lock.end(), counts ? "" : " (WAL database: no transaction)");
        }
        try {
            locks.set(ino, owner, lock, counts);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new FuseException(Errno.EINTR);
        }
    }

    /** Whether {@code ino} is a SQLite database in WAL mode, by its header. Call inside a request. */
    boolean isWalDatabase(long ino) {
        Node n = nodes.acquire(ino, 0);
        try {
            n.lock.readLock().lock();
            try {
                if (!n.isRegular()) {
                    return false;
                }
                try (Arena arena = Arena.ofConfined()) {
                    MemorySegment header = arena.allocate(SqliteFiles.HEADER_BYTES);
                    int length = contents.read(n, 0, SqliteFiles.HEADER_BYTES, header);
                    return SqliteFiles.isWalDatabase(header.toArray(ValueLayout.JAVA_BYTE), length);
                }
            } finally {
                n.lock.readLock().unlock();
            }
        } finally {
            nodes.release(n);
        }
    }
}
