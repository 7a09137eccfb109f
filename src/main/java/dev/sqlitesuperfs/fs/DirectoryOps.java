package dev.sqlitesuperfs.fs;

import dev.sqlitesuperfs.fuse.DirPlusSink;
import dev.sqlitesuperfs.fuse.DirSink;
import dev.sqlitesuperfs.fuse.Errno;
import dev.sqlitesuperfs.fuse.FuseException;
import dev.sqlitesuperfs.fuse.OpenResult;
import dev.sqlitesuperfs.sealed.SealedStore;
import dev.sqlitesuperfs.sys.FileType;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Open directories: opendir, readdir, readdirplus, fsyncdir, releasedir. Listings page by the
 * entries' cookies ({@link Directory}), so a listing goes on correctly however the directory
 * changes meanwhile; fsync of a directory stores every change made before it.
 */
final class DirectoryOps {
    /** Entries whose nodes readdirplus loads in one query. */
    private static final int PLUS_BATCH = 64;

    private final SealedStore store;
    private final NodeTable nodes;
    private final Handles handles;
    private final Replies replies;
    private final JournalOrdering ordering;

    DirectoryOps(SealedStore store, NodeTable nodes, Handles handles, Replies replies, JournalOrdering ordering) {
        this.store = store;
        this.nodes = nodes;
        this.handles = handles;
        this.replies = replies;
        this.ordering = ordering;
    }

    OpenResult opendir(long ino, int flags) {
        Node n = nodes.acquire(ino, 0);
        try {
            if (!n.isDir()) {
                throw new FuseException(Errno.ENOTDIR);
            }
            n.lock.writeLock().lock();
            try {
                nodes.opened(n);
                return new OpenResult(handles.add(n, flags), 0);
            } finally {
                n.lock.writeLock().unlock();
            }
        } finally {
            nodes.release(n);
        }
    }

    void releasedir(long ino, long fh) {
        Handles.Handle h = handles.remove(fh, ino);
        h.node().lock.writeLock().lock();
        try {
            nodes.closed(h.node());
        } finally {
            h.node().lock.writeLock().unlock();
        }
        nodes.settle(h.node());
    }

    void fsyncdir(long ino, long fh) {
        handles.get(fh, ino);
        if (!ordering.directorySyncMayWait()) {
            store.flushDeferred();
        }
    }

    void readdir(long ino, long fh, long offset, DirSink sink) {
        Node n = handles.get(fh, ino).node();
        nodes.ensureEntries(n);
        n.lock.readLock().lock();
        try {
            if (offset < Directory.DOT_COOKIE && !sink.add(new byte[] {'.'}, n.ino, FileType.DIRECTORY, Directory.DOT_COOKIE)) {
                return;
            }
            if (offset < Directory.DOTDOT_COOKIE
                    && !sink.add(new byte[] {'.', '.'}, n.parent, FileType.DIRECTORY, Directory.DOTDOT_COOKIE)) {
                return;
            }
            for (Directory.Slot slot : n.entries.after(Math.max(offset, Directory.DOTDOT_COOKIE))) {
                if (!sink.add(slot.name().bytes(), slot.ino(), slot.mode(), slot.cookie())) {
                    break;
                }
            }
        } finally {
            n.lock.readLock().unlock();
        }
    }

    void readdirplus(long ino, long fh, long offset, DirPlusSink sink) {
        Node n = handles.get(fh, ino).node();
        nodes.ensureEntries(n);
        if (offset < Directory.DOT_COOKIE && !sink.add(new byte[] {'.'}, replies.entryOf(n), Directory.DOT_COOKIE)) {
            return;
        }
        if (offset < Directory.DOTDOT_COOKIE) {
            Node parent = nodes.acquire(n.parent, 0);
            try {
                if (!sink.add(new byte[] {'.', '.'}, replies.entryOf(parent), Directory.DOTDOT_COOKIE)) {
                    return;
                }
            } finally {
                nodes.release(parent);
            }
        }
        long cursor = Math.max(offset, Directory.DOTDOT_COOKIE);
        for (;;) {
            List<Directory.Slot> batch = new ArrayList<>(PLUS_BATCH);
            n.lock.readLock().lock();
            try {
                for (Directory.Slot slot : n.entries.after(cursor)) {
                    batch.add(slot);
                    if (batch.size() == PLUS_BATCH) {
                        break;
                    }
                }
            } finally {
                n.lock.readLock().unlock();
            }
            if (batch.isEmpty()) {
                return;
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
                    if (!sink.add(slot.name().bytes(), replies.entryOf(c), slot.cookie())) {
                        return;
                    }
                    nodes.lookedUp(c);
                }
            } finally {
                nodes.releaseAll(children);
            }
        }
    }
}
