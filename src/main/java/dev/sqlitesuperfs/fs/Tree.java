package dev.sqlitesuperfs.fs;

import dev.sqlitesuperfs.fuse.Caller;
import dev.sqlitesuperfs.fuse.Errno;
import dev.sqlitesuperfs.fuse.FuseException;
import dev.sqlitesuperfs.sealed.SealedStore;
import dev.sqlitesuperfs.sealed.SealedTransaction;
import dev.sqlitesuperfs.store.CommitResult;
import dev.sqlitesuperfs.store.InodeRecord;
import dev.sqlitesuperfs.store.NamespaceStore;
import dev.sqlitesuperfs.sys.FileType;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Changes to the directory tree: creating inodes, links and names, removing them, renaming, and
 * reclaiming the storage of unlinked inodes.
 *
 * <p>These run one at a time under {@link #treeLock} and take the write locks of the nodes they
 * change; everything else in the filesystem touches one node at a time and takes only that node's
 * lock, never a second one. So there is no lock order to get wrong, and a rename sees a tree that
 * nobody else is restructuring (the check that a directory is not moved into its own subtree
 * needs exactly that). The price: namespace changes do not overlap each other; each costs one
 * PostgreSQL commit, well under a millisecond.
 *
 * <p>Each change builds its new state in {@link Attrs} copies, commits, and only then applies it,
 * so a failed commit changes nothing in memory.
 */
final class Tree {
    private static final Logger log = LoggerFactory.getLogger(Tree.class);

    static final int RENAME_NOREPLACE = 1;
    static final int RENAME_EXCHANGE = 2;
    static final int LINK_MAX = 65000;

    private final FsConfig config;
    private final SealedStore store;
    private final NodeTable nodes;
    private final WriteBuffer buffer;
    private final InodeNumbers inodeNumbers;
    private final Lock treeLock = new ReentrantLock();
    private final AtomicLong inodeCount = new AtomicLong();

    private final JournalOrdering ordering;

    Tree(FsConfig config, SealedStore store, NodeTable nodes, WriteBuffer buffer, JournalOrdering ordering) {
        this.config = config;
        this.store = store;
        this.nodes = nodes;
        this.buffer = buffer;
        this.inodeNumbers = new InodeNumbers(store);
        this.ordering = ordering;
    }

    long inodeCount() {
        return inodeCount.get();
    }

    void initInodeCount(long count) {
        inodeCount.set(count);
    }


    /**
     * Creates an inode of {@code mode} named {@code name} in {@code parent}; returns it busy (the
     * caller counts the lookup its reply gives the kernel, and releases it).
     */
    Node makeNode(Caller caller, long parent, byte[] name, int mode, int rdev, byte[] target) {
        config.requireWritable();
        Name nm = Name.checked(name);
        treeLock.lock();
        try {
            Node p = nodes.acquire(parent, 0);
            try {
                p.lock.writeLock().lock();
                try {
                    Directory d = nodes.entries(p);
                    if (p.removed) {
                        throw new FuseException(Errno.ENOENT);
                    }
                    if (d.get(nm) != null) {
                        throw new FuseException(Errno.EEXIST);
                    }
                    boolean dir = (mode & FileType.MASK) == FileType.DIRECTORY;
                    if (dir && p.attrs.nlink >= Integer.MAX_VALUE - 1) {
                        throw new FuseException(Errno.EMLINK);
                    }
                    long now = Clock.nowNs();
                    boolean inheritGroup = (p.attrs.mode & Node.S_ISGID) != 0;
                    int fullMode = dir && inheritGroup ? mode | Node.S_ISGID : mode;
                    long ino = inodeNumbers.next();
                    InodeRecord child = new InodeRecord(ino, fullMode, caller.uid(),
                            inheritGroup ? p.attrs.gid : caller.gid(), dir ? 2 : 1,
                            target == null ? 0 : target.length, 0, rdev, now, now, now);
                    Attrs pa = Attrs.of(p).touchContent(now);
                    if (dir) {
                        pa.nlink++;
                    }
                    SealedTransaction tx = store.transaction().putInode(child);
                    if (target != null) {
                        tx.putSymlink(ino, target);
                    }
                    tx.putEntry(p.ino, nm.bytes(), ino, 0).putInode(pa.record());
                    NamespaceStore.Deferred queued = tx.defer();
                    boolean journal = JournalOrdering.isJournalName(nm.bytes());
                    ordering.deferred(queued, journal && (mode & FileType.MASK) == FileType.REGULAR);
                    pa.applyTo(p);
                    d.put(nm, ino, fullMode);
                    inodeCount.incrementAndGet();
                    Node n = new Node(child);
                    n.parent = p.ino;
                    if (dir) {
                        n.entries = new Directory();
                    }
                    n.symlinkTarget = target;
                    n.journalName = journal;
                    n.queuedHeaderHot = false;
                    n.xattrs = new HashMap<>();
                    n.creation = queued;
                    nodes.addNew(n);
                    nodes.keepUntilStored(queued, p, n);
                    return n;
                } finally {
                    p.lock.writeLock().unlock();
                }
            } finally {
                nodes.release(p);
            }
        } finally {
            treeLock.unlock();
        }
    }

    /** Adds name {@code newName} in {@code newParent} for inode {@code ino}; returns it busy, lookup counted. */
    Node link(long ino, long newParent, byte[] newName) {
            config.requireWritable();
            Name nm = Name.checked(newName);
            treeLock.lock();
            try {
                Node n = nodes.acquire(ino, 0);
                Node p = null;
                try {
                    p = nodes.acquire(newParent, 0);
                    if (n.isDir()) {
                        throw new FuseException(Errno.EPERM);
                    }
                    lockAll(p, n);
                    try {
                        Directory d = nodes.entries(p);
                        if (p.removed || n.attrs.nlink == 0) {
                            throw new FuseException(Errno.ENOENT);
                        }
                        if (d.get(nm) != null) {
                            throw new FuseException(Errno.EEXIST);
                        }
                        if (n.attrs.nlink >= LINK_MAX) {
                            throw new FuseException(Errno.EMLINK);
                        }
                        long now = Clock.nowNs();
                        Attrs a = Attrs.of(n);
                        a.nlink++;
                        a.ctimeNs = now;
                        Attrs pa = Attrs.of(p).touchContent(now);
                        SealedTransaction tx = store.transaction().putEntry(p.ino, nm.bytes(), n.ino, 0);
                        tx.putInode(pa.record());
                        if (n.isDirty()) {
                            // Its row goes with its written blocks, which only a commit may take.
                            WriteBuffer.AfterCommit applyNode = buffer.stageRow(tx, n, a);
                            applyNode.apply(tx.commit());
                        } else {
                            tx.putInode(a.record());
                            NamespaceStore.Deferred queued = tx.defer();
                            ordering.deferred(queued, false);
                            nodes.keepUntilStored(queued, p, n);
                            a.applyTo(n);
                        }
                        pa.applyTo(p);
                        d.put(nm, n.ino, n.attrs.mode);
                    } finally {
                        unlockAll(p, n);
                    }
                    Node linked = nodes.acquire(n.ino, 0);
                    nodes.lookedUp(linked);
                    return linked;
                } finally {
                    if (p != null) {
                        nodes.release(p);
                    }
                    nodes.release(n);
                }
            } finally {
                treeLock.unlock();
            }
    }

    /** unlink(2) ({@code dir} false) or rmdir(2) ({@code dir} true) of {@code name} in {@code parent}. */
    void remove(long parent, byte[] name, boolean dir) {
        config.requireWritable();
        Name nm = Name.checked(name);
        if (dir && nm.isDot()) {
            throw new FuseException(Errno.EINVAL);
        }
        if (dir && nm.isDotDot()) {
            throw new FuseException(Errno.ENOTEMPTY);
        }
        treeLock.lock();
        try {
            Node p = nodes.acquire(parent, 0);
            Node c = null;
            try {
                Directory.Slot slot = nodes.withEntries(p, d -> d.get(nm));
                if (slot == null) {
                    throw new FuseException(Errno.ENOENT);
                }
                c = nodes.acquire(slot.ino(), p.ino);
                if (dir && !c.isDir()) {
                    throw new FuseException(Errno.ENOTDIR);
                }
                if (!dir && c.isDir()) {
                    throw new FuseException(Errno.EISDIR);
                }
                lockAll(p, c);
                try {
                    Directory d = nodes.entries(p);
                    long now = Clock.nowNs();
                    Attrs pa = Attrs.of(p).touchContent(now);
                    SealedTransaction tx = store.transaction().deleteEntry(p.ino, nm.bytes(), c.ino);
                    WriteBuffer.AfterCommit applyChild;
                    boolean journalMayWait = !dir && c.attrs.nlink == 1 && ordering.removalMayWait(c);
                    if (dir) {
                        applyChild = dropDirectory(tx, c);
                        pa.nlink--;
                    } else if (journalMayWait) {
                        applyChild = dropJournalLink(tx, c, now);
                    } else {
                        applyChild = dropLink(tx, c, now);
                    }
                    tx.putInode(pa.record());
                    // Removing what was created may wait with its creation, as long as that is
                    // still queued: a crash then loses both. Once the creation may be stored, a
                    // crash must not bring the name back, so the removal commits before it returns.
                    // So does one that keeps a written file's row (it is still open): the row
                    // takes the file's written blocks along, which only a commit may carry. A
                    // journal that never reached storage hot may wait too (JournalOrdering): a crash
                    // brings back a journal SQLite ignores.
                    boolean deletesInode = dir || (c.attrs.nlink == 1 && c.opens == 0);
                    NamespaceStore.Deferred creation = c.creation;
                    NamespaceStore.Deferred queued = creation != null && (deletesInode || !c.isDirty())
                            ? tx.deferAfter(creation) : null;
                    if (queued == null && journalMayWait) {
                        queued = tx.defer();
                    }
                    CommitResult r;
                    if (queued != null) {
                        ordering.deferred(queued, ordering.appliesTo(c));
                        r = CommitResult.EMPTY;
                        nodes.keepUntilStored(queued, p);
                    } else {
                        r = tx.commit();
                    }
                    d.remove(nm);
                    pa.applyTo(p);
                    applyChild.apply(r);
                } finally {
                    unlockAll(p, c);
                }
            } finally {
                if (c != null) {
                    nodes.release(c);
                }
                nodes.release(p);
            }
        } finally {
            treeLock.unlock();
        }
    }

    /**
     * Stages one link fewer for non-directory {@code c} (write lock held): its row with the new
     * count, or, for its last link with no open handle, the removal of the inode with everything
     * it owns. Returns what to apply after the commit.
     */
    private WriteBuffer.AfterCommit dropLink(SealedTransaction tx, Node c, long now) {
        Attrs a = Attrs.of(c);
        a.nlink--;
        a.ctimeNs = now;
        if (a.nlink == 0 && c.opens == 0) {
            tx.deleteInode(c.ino);
            return r -> {
                a.applyTo(c);
                markRemoved(c);
            };
        }
        return buffer.stageRow(tx, c, a);
    }

    /**
     * Stages the removal of the last link of a journal whose removal may wait ({@link
     * JournalOrdering}; write lock held): as {@link #dropLink} when nothing has it open; else its
     * row as stored with no link left, without its written data, which stays in memory for whoever
     * still has it open (SQLite's close of the journal may still be on its way: FUSE sends the
     * release after close returns) and is never needed in storage. The inode goes at its last close.
     */
    private WriteBuffer.AfterCommit dropJournalLink(SealedTransaction tx, Node c, long now) {
        if (c.opens == 0) {
            return dropLink(tx, c, now);
        }
        Attrs stored = Attrs.of(c);
        stored.nlink = 0;
        stored.ctimeNs = now;
        stored.size = c.storedSize;
        tx.putInode(stored.record());
        return r -> {
            c.attrs.nlink = 0;
            c.attrs.ctimeNs = now;
        };
    }

    /**
     * Stages the removal of directory {@code d} (write lock held), ENOTEMPTY unless it is empty;
     * the caller counts one link fewer on its parent. Returns what to apply after the commit.
     */
    private WriteBuffer.AfterCommit dropDirectory(SealedTransaction tx, Node d) {
        if (!nodes.entries(d).isEmpty()) {
            throw new FuseException(Errno.ENOTEMPTY);
        }
        tx.deleteInode(d.ino);
        return r -> {
            d.attrs.nlink = 0;
            d.removed = true;
            inodeCount.decrementAndGet();
        };
    }

    private void markRemoved(Node c) {
        c.removed = true;
        buffer.discard(c);
        inodeCount.decrementAndGet();
    }

    /** rename(2) and renameat2(2) with RENAME_NOREPLACE or RENAME_EXCHANGE. */
    void rename(long parent, byte[] name, long newParent, byte[] newName, int flags) {
        if ((flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) != 0
                || flags == (RENAME_NOREPLACE | RENAME_EXCHANGE)) {
            throw new FuseException(Errno.EINVAL);
        }
        config.requireWritable();
        Name from = Name.checked(name);
        Name to = Name.checked(newName);
        boolean exchange = (flags & RENAME_EXCHANGE) != 0;
        treeLock.lock();
        List<Node> held = new ArrayList<>(4);
        try {
            Node op = nodes.acquire(parent, 0);
            held.add(op);
            Node np = newParent == parent ? op : nodes.acquire(newParent, 0);
            if (np != op) {
                held.add(np);
            }
            Directory.Slot src = nodes.withEntries(op, d -> d.get(from));
            Directory.Slot dst = nodes.withEntries(np, d -> d.get(to));
            if (src == null) {
                throw new FuseException(Errno.ENOENT);
            }
            if (exchange && dst == null) {
                throw new FuseException(Errno.ENOENT);
            }
            if ((flags & RENAME_NOREPLACE) != 0 && dst != null) {
                throw new FuseException(Errno.EEXIST);
            }
            if (dst != null && dst.ino() == src.ino()) {
                return; // two names of one inode: POSIX says do nothing
            }
            Node s = nodes.acquire(src.ino(), op.ino);
            held.add(s);
            Node t = dst == null ? null : nodes.acquire(dst.ino(), np.ino);
            if (t != null) {
                held.add(t);
            }
            if (s.isDir() && op != np) {
                requireNotAncestor(s, np);
            }
            if (exchange && t.isDir() && op != np) {
                requireNotAncestor(t, op);
            }
            Node[] locked = held.toArray(new Node[0]);
            lockAll(locked);
            try {
                if (exchange) {
                    exchangeLocked(op, from, np, to, s, t);
                } else {
                    moveLocked(op, from, np, to, s, t);
                }
            } finally {
                unlockAll(locked);
            }
        } finally {
            nodes.releaseAll(held);
            treeLock.unlock();
        }
    }

    private void moveLocked(Node op, Name from, Node np, Name to, Node s, Node t) {
        Directory od = nodes.entries(op);
        Directory nd = nodes.entries(np);
        if (t != null) {
            if (t.isDir() && !s.isDir()) {
                throw new FuseException(Errno.EISDIR);
            }
            if (!t.isDir() && s.isDir()) {
                throw new FuseException(Errno.ENOTDIR);
            }
            if (t.isDir() && !nodes.entries(t).isEmpty()) {
                throw new FuseException(Errno.ENOTEMPTY);
            }
        }
        long now = Clock.nowNs();
        Attrs opa = Attrs.of(op).touchContent(now);
        Attrs npa = np == op ? opa : Attrs.of(np).touchContent(now);
        if (s.isDir() && np != op) {
            opa.nlink--;
            npa.nlink++;
        }
        SealedTransaction tx = store.transaction()
                .deleteEntry(op.ino, from.bytes(), s.ino)
                .putEntry(np.ino, to.bytes(), s.ino, t == null ? 0 : t.ino);
        WriteBuffer.AfterCommit applyTarget = WriteBuffer.AfterCommit.NOTHING;
        if (t != null) {
            if (t.isDir()) {
                applyTarget = dropDirectory(tx, t);
                npa.nlink--;
            } else {
                applyTarget = dropLink(tx, t, now);
            }
        }
        Attrs sa = Attrs.of(s);
        sa.ctimeNs = now;
        WriteBuffer.AfterCommit applySource = buffer.stageRow(tx, s, sa);
        tx.putInode(opa.record());
        if (npa != opa) {
            tx.putInode(npa.record());
        }
        CommitResult r = tx.commit();
        od.remove(from);
        nd.put(to, s.ino, s.attrs.mode);
        opa.applyTo(op);
        if (npa != opa) {
            npa.applyTo(np);
        }
        if (s.isDir()) {
            s.parent = np.ino;
        }
        s.journalName = JournalOrdering.isJournalName(to.bytes());
        applySource.apply(r);
        applyTarget.apply(r);
    }

    private void exchangeLocked(Node op, Name from, Node np, Name to, Node s, Node t) {
        Directory od = nodes.entries(op);
        Directory nd = nodes.entries(np);
        long now = Clock.nowNs();
        Attrs opa = Attrs.of(op).touchContent(now);
        Attrs npa = np == op ? opa : Attrs.of(np).touchContent(now);
        if (np != op) {
            if (s.isDir()) {
                opa.nlink--;
                npa.nlink++;
            }
            if (t.isDir()) {
                npa.nlink--;
                opa.nlink++;
            }
        }
        SealedTransaction tx = store.transaction()
                .putEntry(op.ino, from.bytes(), t.ino, s.ino)
                .putEntry(np.ino, to.bytes(), s.ino, t.ino);
        Attrs sa = Attrs.of(s);
        sa.ctimeNs = now;
        Attrs ta = Attrs.of(t);
        ta.ctimeNs = now;
        WriteBuffer.AfterCommit applySource = buffer.stageRow(tx, s, sa);
        WriteBuffer.AfterCommit applyTarget = buffer.stageRow(tx, t, ta);
        tx.putInode(opa.record());
        if (npa != opa) {
            tx.putInode(npa.record());
        }
        CommitResult r = tx.commit();
        od.put(from, t.ino, t.attrs.mode);
        nd.put(to, s.ino, s.attrs.mode);
        opa.applyTo(op);
        if (npa != opa) {
            npa.applyTo(np);
        }
        if (s.isDir()) {
            s.parent = np.ino;
        }
        if (t.isDir()) {
            t.parent = op.ino;
        }
        s.journalName = JournalOrdering.isJournalName(to.bytes());
        t.journalName = JournalOrdering.isJournalName(from.bytes());
        applySource.apply(r);
        applyTarget.apply(r);
    }

    /** EINVAL if {@code dir} is {@code target} or one of its ancestors (a move into its own subtree). */
    private void requireNotAncestor(Node dir, Node target) {
        long cur = target.ino;
        for (int depth = 0; ; depth++) {
            if (cur == dir.ino) {
                throw new FuseException(Errno.EINVAL);
            }
            if (cur == NodeTable.ROOT) {
                return;
            }
            if (depth > 1_000_000) {
                throw new IllegalStateException("directory parent chain loops above inode " + target.ino);
            }
            Node n = nodes.acquire(cur, 0);
            try {
                cur = n.parent;
            } finally {
                nodes.release(n);
            }
        }
    }

    /**
     * Deletes an unlinked inode's storage once nothing uses it any more. Deferred: nothing can
     * name the inode again, and if a crash comes first the next mount reclaims it.
     */
    void reclaim(Node n) {
        n.lock.writeLock().lock();
        try {
            if (n.attrs.nlink == 0 && !n.removed && n.opens <= 0 && !config.readOnly()) {
                store.transaction().deleteInode(n.ino).defer();
                markRemoved(n);
            }
        } finally {
            n.lock.writeLock().unlock();
        }
        nodes.settle(n);
    }

    void reclaimOrphans() {
        long[] orphans = store.orphans();
        if (orphans.length == 0) {
            return;
        }
        SealedTransaction tx = store.transaction();
        for (long ino : orphans) {
            tx.deleteInode(ino);
        }
        tx.commit();
        log.info("namespace {}: reclaimed {} unlinked inode(s) left open by an earlier mount",
                config.namespace(), orphans.length);
    }

    private static void lockAll(Node... list) {
        for (int i = 0; i < list.length; i++) {
            if (!seenBefore(list, i)) {
                list[i].lock.writeLock().lock();
            }
        }
    }

    private static void unlockAll(Node... list) {
        for (int i = list.length - 1; i >= 0; i--) {
            if (list[i] != null && !seenBefore(list, i)) {
                list[i].lock.writeLock().unlock();
            }
        }
    }

    private static boolean seenBefore(Node[] list, int i) {
        for (int j = 0; j < i; j++) {
            if (list[j] == list[i]) {
                return true;
            }
        }
        return false;
    }
}
