package dev.sqlitesuperfs.fs;

import dev.sqlitesuperfs.fuse.Errno;
import dev.sqlitesuperfs.fuse.FuseException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/** Open files and directories by handle number (the {@code fh} the kernel sends back). */
final class Handles {
    static final int O_ACCMODE = 03;
    static final int O_RDONLY = 0;
    static final int O_WRONLY = 01;
    static final int O_RDWR = 02;
    static final int O_CREAT = 0100;
    static final int O_EXCL = 0200;
    static final int O_TRUNC = 01000;
    static final int O_APPEND = 02000;

    /** One open(2) or opendir(2) of a node, shared by every descriptor dup'ed from it. */
    static final class Handle {
        private final Node node;
        private final int flags;
        /**
         * How many of the node's failures to store written data this handle has reported (its
         * count when opened, then up to the node's as fsync and close report them): each failure
         * is reported once to every handle that was open when it happened, as Linux reports
         * writeback errors once per open file.
         */
        long seenErrors;

        Handle(Node node, int flags) {
            this.node = node;
            this.flags = flags;
            this.seenErrors = node.storeErrors;
        }

        Node node() {
            return node;
        }

        int flags() {
            return flags;
        }
    }

    private final ConcurrentHashMap<Long, Handle> open = new ConcurrentHashMap<>();
    private final AtomicLong next = new AtomicLong(1);

    long add(Node node, int flags) {
        long fh = next.getAndIncrement();
        open.put(fh, new Handle(node, flags));
        return fh;
    }

    /** The handle {@code fh} of inode {@code ino}; EBADF if there is none. */
    Handle get(long fh, long ino) {
        Handle h = open.get(fh);
        if (h == null || h.node().ino != ino) {
            throw new FuseException(Errno.EBADF);
        }
        return h;
    }

    Handle remove(long fh, long ino) {
        Handle h = get(fh, ino);
        open.remove(fh);
        return h;
    }
}
