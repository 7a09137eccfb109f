package dev.sqlitesuperfs.fs;

import dev.sqlitesuperfs.store.InodeRecord;

/**
 * An inode's attributes, the one form they take in the filesystem: a node holds them
 * ({@link Node#attrs}), an operation changes a working copy ({@link #of}) and copies it back
 * ({@link #applyTo}) only once its commit returned, so that a failed commit changes nothing in
 * memory; {@link #record} is the store's row and {@link Replies#attr} the kernel's form.
 * {@code nblocks} is the store's: it reports changes in the commit result. {@code size} changes
 * only through the data path ({@link WriteBuffer}).
 */
final class Attrs {
    final long ino;
    int mode;
    int uid;
    int gid;
    int nlink;
    long size;
    long nblocks;
    int rdev;
    long atimeNs;
    long mtimeNs;
    long ctimeNs;

    private Attrs(long ino) {
        this.ino = ino;
    }

    /** The attributes of a stored row. */
    static Attrs from(InodeRecord r) {
        Attrs a = new Attrs(r.ino());
        a.mode = r.mode();
        a.uid = r.uid();
        a.gid = r.gid();
        a.nlink = r.nlink();
        a.size = r.size();
        a.nblocks = r.nblocks();
        a.rdev = r.rdev();
        a.atimeNs = r.atimeNs();
        a.mtimeNs = r.mtimeNs();
        a.ctimeNs = r.ctimeNs();
        return a;
    }

    /** A working copy of the node's attributes; call with the node's lock held. */
    static Attrs of(Node n) {
        Attrs from = n.attrs;
        Attrs a = new Attrs(from.ino);
        a.mode = from.mode;
        a.uid = from.uid;
        a.gid = from.gid;
        a.nlink = from.nlink;
        a.size = from.size;
        a.nblocks = from.nblocks;
        a.rdev = from.rdev;
        a.atimeNs = from.atimeNs;
        a.mtimeNs = from.mtimeNs;
        a.ctimeNs = from.ctimeNs;
        return a;
    }

    Attrs touchContent(long now) {
        mtimeNs = now;
        ctimeNs = now;
        return this;
    }

    InodeRecord record() {
        return new InodeRecord(ino, mode, uid, gid, nlink, size, nblocks, rdev, atimeNs, mtimeNs, ctimeNs);
    }

    /** Copies everything but nblocks and size into the node (size is the data path's business). */
    void applyTo(Node n) {
        Attrs to = n.attrs;
        to.mode = mode;
        to.uid = uid;
        to.gid = gid;
        to.nlink = nlink;
        to.rdev = rdev;
        to.atimeNs = atimeNs;
        to.mtimeNs = mtimeNs;
        to.ctimeNs = ctimeNs;
    }
}
