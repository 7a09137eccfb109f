package dev.sqlitesuperfs.fs;

import dev.sqlitesuperfs.store.InodeRecord;

/**
 * A working copy of a node's attributes. An operation changes the copy, stores its record, and
 * copies it back into the node only once the commit returned, so that a failed commit changes
 * nothing in memory. {@code nblocks} is not copied back: the store maintains it and reports the
 * change in the commit result.
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

    /** Copies the node's attributes; call with the node's lock held. */
    static Attrs of(Node n) {
        Attrs a = new Attrs(n.ino);
        a.mode = n.mode;
        a.uid = n.uid;
        a.gid = n.gid;
        a.nlink = n.nlink;
        a.size = n.size;
        a.nblocks = n.nblocks;
        a.rdev = n.rdev;
        a.atimeNs = n.atimeNs;
        a.mtimeNs = n.mtimeNs;
        a.ctimeNs = n.ctimeNs;
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
        n.mode = mode;
        n.uid = uid;
        n.gid = gid;
        n.nlink = nlink;
        n.rdev = rdev;
        n.atimeNs = atimeNs;
        n.mtimeNs = mtimeNs;
        n.ctimeNs = ctimeNs;
    }
}
