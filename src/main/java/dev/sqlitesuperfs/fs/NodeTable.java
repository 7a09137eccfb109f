package dev.sqlitesuperfs.fs;

import dev.sqlitesuperfs.fuse.Errno;
import dev.sqlitesuperfs.fuse.FuseException;
import dev.sqlitesuperfs.sealed.SealedStore;
import dev.sqlitesuperfs.store.DirEntryRecord;
import dev.sqlitesuperfs.store.InodeRecord;
import dev.sqlitesuperfs.store.NamespaceStore;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.UnaryOperator;

/**
 * The inodes in memory, at most one {@link Node} per inode number.
 *
 * <p>A node stays while anything refers to it: the kernel (lookup count), an open handle, an
 * operation in progress ("busy"), unstored changes (written data, or deferred changes not yet
 * committed), or an unlinked inode still to be reclaimed.
 * When the last reference goes, the node is dropped and a later use loads it again from storage.
 * All reference counts change inside {@link ConcurrentHashMap#compute}, so a drop and a new
 * reference to the same inode never race.
 *
 * <p>Loading happens outside the map's lock (it is a database read). To never install a node
 * from a row read before some other node for that inode was changed and dropped, a load is
 * retried when any drop happened while it ran.
 *
 * <p>Also loads directory entries, on first use, into the directory's node.
 */
final class NodeTable {
    static final long ROOT = 1;

    private final ConcurrentHashMap<Long, Node> nodes = new ConcurrentHashMap<>();
    private final AtomicLong drops = new AtomicLong();
    private final SealedStore store;
    /** What a node is loaded as, from its stored record (see {@link #presentWith}). */
    private volatile UnaryOperator<InodeRecord> presented = UnaryOperator.identity();

    NodeTable(SealedStore store) {
        this.store = store;
    }

    /**
     * A follower shows some files otherwise than stored (an uncommitted SQLite WAL as empty, see
     * {@link WalFiles}): every record a node is loaded or reloaded from passes through {@code f}.
     */
    void presentWith(UnaryOperator<InodeRecord> f) {
        this.presented = f;
    }

    /** Installs the root, which is never dropped. */
    Node installRoot(InodeRecord root) {
        Node n = new Node(root);
        n.lookups = 1;
        nodes.put(ROOT, n);
        return n;
    }

    /**
     * The node of {@code ino}, loaded if needed, marked busy until {@link #release}. ENOENT if the
     * inode does not exist. {@code parentHint} is the directory the inode was found in (0 if
     * unknown): a directory node needs its parent for "..".
     */
    Node acquire(long ino, long parentHint) {
        for (;;) {
            Node present = nodes.computeIfPresent(ino, (k, n) -> {
                n.busy++;
                return n;
            });
            if (present != null) {
                return present;
            }
            long dropsBefore = drops.get();
            InodeRecord record = presented.apply(store.inode(ino).orElseThrow(() -> new FuseException(Errno.ENOENT)));
            Node loaded = new Node(record);
            if (loaded.isDir()) {
                loaded.parent = parentHint != 0 ? parentHint : store.parentOf(ino).orElse(ino);
            }
            Node winner = nodes.compute(ino, (k, n) -> {
                if (n != null) {
                    n.busy++;
                    return n;
                }
                if (drops.get() != dropsBefore) {
                    return null;
                }
                loaded.busy = 1;
                return loaded;
            });
            if (winner != null) {
                return winner;
            }
        }
    }

    /**
     * A read-only mount's step after the namespace's writer: the nodes in memory among
     * {@code changed} take their stored state again (attributes, sizes, parent), forget what they
     * had loaded on first use (entries, symlink target, xattrs), and those no longer stored are
     * marked removed. Nodes stay (the kernel and open handles refer to them). Call while no other
     * operation runs.
     */
    void reload(Set<Long> changed) {
        for (Long ino : changed) {
            Node n = nodes.get(ino);
            if (n == null) {
                continue;
            }
            Optional<InodeRecord> stored = store.inode(ino).map(presented);
            n.entries = null;
            n.symlinkTarget = null;
            n.xattrs = null;
            if (stored.isEmpty()) {
                n.removed = true;
                n.attrs.nlink = 0;
                continue;
            }
            Attrs fresh = Attrs.from(stored.get());
            fresh.applyTo(n);
            n.attrs.size = fresh.size;
            n.attrs.nblocks = fresh.nblocks;
            n.storedSize = fresh.size;
            n.keptSize = fresh.size;
            if (n.isDir() && ino != ROOT) {
                n.parent = store.parentOf(ino).orElse(n.parent);
            }
        }
    }

    /** Like {@link #acquire} for many inodes at once, loading the missing ones in one query. */
    List<Node> acquireAll(long[] inos, long parent) {
        List<Node> result = new ArrayList<>(inos.length);
        List<Long> missing = new ArrayList<>();
        for (long ino : inos) {
            if (!nodes.containsKey(ino)) {
                missing.add(ino);
            }
        }
        if (missing.size() > 1) {
            long dropsBefore = drops.get();
            long[] ids = missing.stream().mapToLong(Long::longValue).toArray();
            for (InodeRecord stored : store.inodes(ids)) {
                InodeRecord r = presented.apply(stored);
                Node loaded = new Node(r);
                if (loaded.isDir()) {
                    loaded.parent = parent;
                }
                nodes.compute(r.ino(), (k, n) -> n != null || drops.get() != dropsBefore ? n : loaded);
            }
        }
        // Whatever was installed above is unreferenced until acquired; acquire() also covers the
        // ones that a concurrent drop removed again, and those that no longer exist are skipped.
        for (long ino : inos) {
            try {
                result.add(acquire(ino, parent));
            } catch (FuseException e) {
                if (e.errno() != Errno.ENOENT) {
                    releaseAll(result);
                    throw e;
                }
            }
        }
        return result;
    }

    /** Adds a node for a freshly created inode, busy; the reply that names it counts the lookup. */
    void addNew(Node n) {
        n.busy = 1;
        if (nodes.putIfAbsent(n.ino, n) != null) {
            throw new IllegalStateException("inode number handed out twice: " + n.ino);
        }
    }

    /** Ends one use started by {@link #acquire} or {@link #addNew}. */
    void release(Node node) {
        change(node, n -> n.busy--);
    }

    void releaseAll(List<Node> list) {
        for (Node n : list) {
            release(n);
        }
    }

    /** The kernel now holds one more reference (an entry reply reached it). */
    void lookedUp(Node node) {
        change(node, n -> n.lookups++);
    }

    void opened(Node node) {
        change(node, n -> n.opens++);
    }

    /** @return true when this was the node's last open handle */
    boolean closed(Node node) {
        boolean[] last = new boolean[1];
        change(node, n -> {
            n.opens--;
            last[0] = n.opens <= 0;
        });
        return last[0];
    }

    /**
     * The kernel gave back {@code count} lookups. Returns the node if it is now unreferenced but
     * must stay until its storage is reclaimed (an unlinked inode), else null.
     */
    Node forget(long ino, long count) {
        Node[] reclaim = new Node[1];
        nodes.computeIfPresent(ino, (k, n) -> {
            if (k == ROOT) {
                return n;
            }
            n.lookups = Math.max(0, n.lookups - count);
            if (n.unreferenced() && n.attrs.nlink == 0 && !n.removed) {
                reclaim[0] = n;
            }
            return keep(n) ? n : dropped(k);
        });
        return reclaim[0];
    }

    /** How many inodes are in memory (diagnostics and tests). */
    int size() {
        return nodes.size();
    }

    /** Whether inode {@code ino} is in memory (diagnostics and tests). */
    boolean holds(long ino) {
        return nodes.containsKey(ino);
    }

    /** Re-checks whether an idle node may go (after its changes were stored or it was reclaimed). */
    void settle(Node node) {
        change(node, n -> {});
    }

    private void change(Node node, java.util.function.Consumer<Node> update) {
        nodes.compute(node.ino, (k, n) -> {
            if (n == null) {
                // Not in the table (e.g. a node that was never installed); count on the object only.
                update.accept(node);
                return null;
            }
            update.accept(n);
            return keep(n) ? n : dropped(k);
        });
    }

    private static boolean keep(Node n) {
        return n.ino == ROOT || !n.unreferenced() || n.isDirty() || n.unstoredChanges > 0
                || (n.attrs.nlink == 0 && !n.removed);
    }

    /**
     * Keeps {@code touched} (nodes in the table) in memory until {@code queued} is stored: their
     * memory is ahead of PostgreSQL until then, and loading them again would go back in time.
     */
    void keepUntilStored(NamespaceStore.Deferred queued, Node... touched) {
        for (Node n : touched) {
            change(n, x -> x.unstoredChanges++);
        }
        queued.stored().whenComplete((result, failure) -> {
            for (Node n : touched) {
                if (n.creation == queued) {
                    n.creation = null;
                }
                change(n, x -> x.unstoredChanges--);
            }
        });
    }

    private Node dropped(long ino) {
        drops.incrementAndGet();
        store.forget(ino);
        return null;
    }

    /** Runs {@code body} on node {@code ino} under its read or write lock, holding the node meanwhile. */
    <T> T withNode(long ino, boolean write, java.util.function.Function<Node, T> body) {
        Node n = acquire(ino, 0);
        try {
            var lock = write ? n.lock.writeLock() : n.lock.readLock();
            lock.lock();
            try {
                return body.apply(n);
            } finally {
                lock.unlock();
            }
        } finally {
            release(n);
        }
    }

    <T> T withEntries(Node dir, java.util.function.Function<Directory, T> f) {
        ensureEntries(dir);
        dir.lock.readLock().lock();
        try {
            return f.apply(dir.entries);
        } finally {
            dir.lock.readLock().unlock();
        }
    }

    /** Loads a directory's entries if they are not in memory; ENOTDIR for other types. */
    void ensureEntries(Node dir) {
        if (!dir.isDir()) {
            throw new FuseException(Errno.ENOTDIR);
        }
        dir.lock.readLock().lock();
        try {
            if (dir.entries != null) {
                return;
            }
        } finally {
            dir.lock.readLock().unlock();
        }
        dir.lock.writeLock().lock();
        try {
            entries(dir);
        } finally {
            dir.lock.writeLock().unlock();
        }
    }

    /** The entries of a directory whose write lock is held, loading them on first use. */
    Directory entries(Node dir) {
        if (!dir.isDir()) {
            throw new FuseException(Errno.ENOTDIR);
        }
        if (dir.entries == null) {
            Directory d = new Directory();
            if (!dir.removed) {
                SealedStore.Listing listing = store.entries(dir.ino);
                for (DirEntryRecord e : listing.entries()) {
                    d.put(Name.of(e.name()), e.ino(), e.mode());
                }
                for (byte[] name : listing.refused()) {
                    d.refuse(Name.of(name));
                }
            }
            dir.entries = d;
        }
        return dir.entries;
    }
}
