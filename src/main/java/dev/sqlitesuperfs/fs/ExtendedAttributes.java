package dev.sqlitesuperfs.fs;

import dev.sqlitesuperfs.fuse.Errno;
import dev.sqlitesuperfs.fuse.FuseException;
import dev.sqlitesuperfs.sealed.SealedStore;
import dev.sqlitesuperfs.sealed.SealedTransaction;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Extended attributes: getxattr, setxattr, listxattr, removexattr, and the security.capability
 * that writes, truncations and changes of owner drop. Every change is durable when it returns,
 * together with the inode's row (and so with the file's written data, see {@link WriteBuffer}).
 */
final class ExtendedAttributes {
    static final int XATTR_CREATE = 1;
    static final int XATTR_REPLACE = 2;
    static final int XATTR_NAME_MAX = 255;
    static final int XATTR_SIZE_MAX = 65536;

    private final FsConfig config;
    private final SealedStore store;
    private final NodeTable nodes;
    private final WriteBuffer buffer;

    ExtendedAttributes(FsConfig config, SealedStore store, NodeTable nodes, WriteBuffer buffer) {
        this.config = config;
        this.store = store;
        this.nodes = nodes;
        this.buffer = buffer;
    }

    void set(long ino, byte[] name, byte[] value, int flags) {
        config.requireWritable();
        Name nm = checkName(name);
        if (value.length > XATTR_SIZE_MAX) {
            throw new FuseException(Errno.E2BIG);
        }
        nodes.withNode(ino, true, n -> {
            boolean exists = of(n).containsKey(nm);
            if ((flags & XATTR_CREATE) != 0 && exists) {
                throw new FuseException(Errno.EEXIST);
            }
            if ((flags & XATTR_REPLACE) != 0 && !exists) {
                throw new FuseException(Errno.ENODATA);
            }
            change(n, nm, value.clone());
            return null;
        });
    }

    byte[] get(long ino, byte[] name) {
        Name nm = checkName(name);
        byte[] v = read(ino, x -> x.get(nm));
        if (v == null) {
            throw new FuseException(Errno.ENODATA);
        }
        return v;
    }

    List<byte[]> list(long ino) {
        return read(ino, x -> x.keySet().stream().map(Name::bytes).toList());
    }

    void remove(long ino, byte[] name) {
        config.requireWritable();
        Name nm = checkName(name);
        nodes.withNode(ino, true, n -> {
            if (!of(n).containsKey(nm)) {
                throw new FuseException(Errno.ENODATA);
            }
            change(n, nm, null);
            return null;
        });
    }

    /**
     * Reads a node's xattrs under its read lock (the kernel asks for security.capability before
     * every write, so this must not serialize readers), loading them once under the write lock.
     */
    private <T> T read(long ino, Function<Map<Name, byte[]>, T> f) {
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
                return f.apply(of(n));
            } finally {
                n.lock.writeLock().unlock();
            }
        } finally {
            nodes.release(n);
        }
    }

    /** Sets ({@code value} non-null) or removes an xattr, with the inode's ctime, durably; write lock held. */
    void change(Node n, Name nm, byte[] value) {
        Attrs a = Attrs.of(n);
        a.ctimeNs = Clock.nowNs();
        SealedTransaction tx = store.transaction();
        if (value == null) {
            tx.deleteXattr(n.ino, nm.bytes());
        } else {
            tx.putXattr(n.ino, nm.bytes(), value);
        }
        buffer.stageRow(tx, n, a).apply(tx.commit());
        if (value == null) {
            n.xattrs.remove(nm);
        } else {
            n.xattrs.put(nm, value);
        }
    }

    /** Whether the node carries security.capability (which writes, truncations and chown remove); write lock held. */
    boolean hasCapability(Node n) {
        return !n.removed && of(n).containsKey(PrivilegeDrop.CAPABILITY);
    }

    /**
     * Stores the node's row from {@code a} (with its written data), removing security.capability
     * in the same transaction if {@code dropCapability}; write lock held.
     */
    void storeRow(Node n, Attrs a, boolean dropCapability) {
        SealedTransaction tx = store.transaction();
        if (dropCapability) {
            tx.deleteXattr(n.ino, PrivilegeDrop.CAPABILITY.bytes());
        }
        buffer.stageRow(tx, n, a).apply(tx.commit());
        if (dropCapability) {
            n.xattrs.remove(PrivilegeDrop.CAPABILITY);
        }
    }

    /** The node's xattrs, loaded on first use; write lock held (or the xattrs loaded). */
    private Map<Name, byte[]> of(Node n) {
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

    private static Name checkName(byte[] name) {
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
}
