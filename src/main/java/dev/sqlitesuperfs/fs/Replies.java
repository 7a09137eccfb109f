package dev.sqlitesuperfs.fs;

import dev.sqlitesuperfs.fuse.AttrReply;
import dev.sqlitesuperfs.fuse.Entry;
import dev.sqlitesuperfs.fuse.FileAttr;

/**
 * What the kernel is told about nodes: entries and attributes, with how long it may cache them.
 * The one place where a node's attributes become the kernel's ({@link #attr}).
 */
final class Replies {
    private final NodeTable nodes;
    private final FileContents contents;
    private final int blockSize;
    private final long ttlNs;

    Replies(NodeTable nodes, FileContents contents, FsConfig config) {
        this.nodes = nodes;
        this.contents = contents;
        this.blockSize = config.blockSize();
        this.ttlNs = config.cacheTtl().toNanos();
    }

    /** The entry of busy node {@code n}, whose lookup the kernel will count; releases {@code n}. */
    Entry reply(Node n) {
        try {
            Entry e = entryOf(n);
            nodes.lookedUp(n);
            return e;
        } finally {
            nodes.release(n);
        }
    }

    /** The entry of {@code n}, read under its read lock. */
    Entry entryOf(Node n) {
        n.lock.readLock().lock();
        try {
            return new Entry(n.ino, 0, attr(n), ttlNs, ttlNs);
        } finally {
            n.lock.readLock().unlock();
        }
    }

    /** A name that does not exist, which the kernel may remember as long as a real one. */
    Entry negative() {
        return Entry.negative(ttlNs);
    }

    /** The attributes of {@code n}; call with its lock held. */
    AttrReply attrReply(Node n) {
        return new AttrReply(attr(n), ttlNs);
    }

    /** {@code n}'s attributes as the kernel wants them; call with its lock held. */
    FileAttr attr(Node n) {
        return new FileAttr(n.ino, n.attrs.size, n.isRegular() ? contents.statBlocks(n) : 0,
                n.attrs.atimeNs, n.attrs.mtimeNs, n.attrs.ctimeNs, n.attrs.mode, n.attrs.nlink, n.attrs.uid, n.attrs.gid, n.attrs.rdev, blockSize);
    }
}
