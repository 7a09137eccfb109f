package dev.sqlitesuperfs.fuse;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A small inode-based filesystem in memory, for tests of the protocol layer against a real kernel:
 * files, directories, symlinks, hard links, xattrs, rename with flags. One lock guards everything.
 * Names are kept as ISO-8859-1 strings, which map bytes to chars one to one, so any byte sequence
 * round-trips.
 *
 * <p>A lookup of a name starting with {@code fail-} throws an unexpected exception, to check that
 * the session answers EIO and keeps going.
 */
class MemoryFilesystem implements FuseFilesystem {
    static final long ROOT = 1;
    static final long TTL_NS = 1_000_000_000L;
    static final String FAILING_PREFIX = "fail-";

    private static final int S_IFMT = 0170000;
    private static final int S_IFDIR = 0040000;
    private static final int S_IFREG = 0100000;
    private static final int S_IFLNK = 0120000;
    private static final int O_TRUNC = 01000;
    private static final int RENAME_NOREPLACE = 1;
    private static final int RENAME_EXCHANGE = 2;
    private static final int XATTR_CREATE = 1;
    private static final int XATTR_REPLACE = 2;
    private static final int SEEK_DATA = 3;
    private static final int SEEK_HOLE = 4;

    final AtomicInteger initCalls = new AtomicInteger();
    final AtomicInteger destroyCalls = new AtomicInteger();
    final AtomicInteger fsyncCalls = new AtomicInteger();
    volatile KernelConnection connection;

    private final Map<Long, Node> nodes = new HashMap<>();
    private long nextIno = ROOT + 1;
    private long nextFh = 1;

    private static final class Node {
        final long ino;
        int mode;
        int nlink;
        int uid;
        int gid;
        int rdev;
        long atime;
        long mtime;
        long ctime;
        byte[] data = new byte[0];
        int size;
        byte[] target;
        long lookups;
        final Map<String, byte[]> xattrs = new LinkedHashMap<>();
        final Map<String, Long> children = new HashMap<>();
        final Map<String, Long> cookieByName = new HashMap<>();
        final TreeMap<Long, String> nameByCookie = new TreeMap<>();
        long nextCookie = 3;
        long parent;

        Node(long ino, int mode, int uid, int gid) {
            this.ino = ino;
            this.mode = mode;
            this.uid = uid;
            this.gid = gid;
            long now = now();
            atime = now;
            mtime = now;
            ctime = now;
            nlink = isDir() ? 2 : 1;
        }

        boolean isDir() {
            return (mode & S_IFMT) == S_IFDIR;
        }

        FileAttr attr() {
            return new FileAttr(ino, size, (size + 511L) / 512, atime, mtime, ctime, mode, nlink, uid, gid, rdev,
                    4096);
        }
    }

    MemoryFilesystem() {
        Node root = new Node(ROOT, S_IFDIR | 0755, 0, 0);
        root.parent = ROOT;
        nodes.put(ROOT, root);
    }

    /** The content of the file at {@code path} (names separated by '/'), read directly from memory. */
    synchronized byte[] contentOf(String path) {
        Node node = nodes.get(ROOT);
        for (String part : path.split("/")) {
            Long child = node.children.get(part);
            if (child == null) {
                return null;
            }
            node = nodes.get(child);
        }
        return Arrays.copyOf(node.data, node.size);
    }

    /** The raw names in the root directory, as bytes. */
    synchronized List<byte[]> rootNames() {
        List<byte[]> names = new ArrayList<>();
        for (String name : nodes.get(ROOT).children.keySet()) {
            names.add(name.getBytes(StandardCharsets.ISO_8859_1));
        }
        return names;
    }

    @Override
    public void init(KernelConnection kernel, KernelChannel channel) {
        connection = kernel;
        initCalls.incrementAndGet();
    }

    @Override
    public void destroy() {
        destroyCalls.incrementAndGet();
    }

    @Override
    public synchronized Entry lookup(Caller caller, long parent, byte[] name) {
        String key = key(name);
        if (key.startsWith(FAILING_PREFIX)) {
            throw new IllegalStateException("injected failure looking up " + key);
        }
        Long child = dir(parent).children.get(key);
        if (child == null) {
            return Entry.negative(0);
        }
        return counted(nodes.get(child));
    }

    @Override
    public synchronized void forget(long ino, long nlookup) {
        Node node = nodes.get(ino);
        if (node != null) {
            node.lookups -= nlookup;
            dropIfUnused(node);
        }
    }

    @Override
    public synchronized AttrReply getattr(Caller caller, long ino, long fh) {
        return new AttrReply(node(ino).attr(), TTL_NS);
    }

    @Override
    public synchronized AttrReply setattr(Caller caller, long ino, SetAttr change) {
        Node node = node(ino);
        long now = now();
        if (change.has(SetAttr.MODE)) {
            node.mode = (node.mode & S_IFMT) | (change.mode() & 07777);
        }
        if (change.has(SetAttr.UID)) {
            node.uid = change.uid();
        }
        if (change.has(SetAttr.GID)) {
            node.gid = change.gid();
        }
        if (change.has(SetAttr.SIZE)) {
            resize(node, change.size());
            node.mtime = now;
        }
        if (change.has(SetAttr.ATIME_NOW)) {
            node.atime = now;
        } else if (change.has(SetAttr.ATIME)) {
            node.atime = change.atimeNs();
        }
        if (change.has(SetAttr.MTIME_NOW)) {
            node.mtime = now;
        } else if (change.has(SetAttr.MTIME)) {
            node.mtime = change.mtimeNs();
        }
        node.ctime = change.has(SetAttr.CTIME) ? change.ctimeNs() : now;
        return new AttrReply(node.attr(), TTL_NS);
    }

    @Override
    public synchronized byte[] readlink(Caller caller, long ino) {
        Node node = node(ino);
        if (node.target == null) {
            throw new FuseException(Errno.EINVAL);
        }
        return node.target.clone();
    }

    @Override
    public synchronized Entry mknod(Caller caller, long parent, byte[] name, int mode, int rdev, int umask) {
        Node node = add(caller, parent, name, mode);
        node.rdev = rdev;
        return counted(node);
    }

    @Override
    public synchronized Entry mkdir(Caller caller, long parent, byte[] name, int mode, int umask) {
        Node node = add(caller, parent, name, S_IFDIR | (mode & 07777));
        node.parent = parent;
        dir(parent).nlink++;
        return counted(node);
    }

    @Override
    public synchronized void unlink(Caller caller, long parent, byte[] name) {
        Node dir = dir(parent);
        Node node = child(dir, key(name));
        if (node.isDir()) {
            throw new FuseException(Errno.EISDIR);
        }
        removeName(dir, key(name));
        node.nlink--;
        node.ctime = now();
        dropIfUnused(node);
    }

    @Override
    public synchronized void rmdir(Caller caller, long parent, byte[] name) {
        Node dir = dir(parent);
        Node node = child(dir, key(name));
        if (!node.isDir()) {
            throw new FuseException(Errno.ENOTDIR);
        }
        if (!node.children.isEmpty()) {
            throw new FuseException(Errno.ENOTEMPTY);
        }
        removeName(dir, key(name));
        dir.nlink--;
        node.nlink = 0;
        dropIfUnused(node);
    }

    @Override
    public synchronized Entry symlink(Caller caller, long parent, byte[] name, byte[] target) {
        Node node = add(caller, parent, name, S_IFLNK | 0777);
        node.target = target.clone();
        node.size = target.length;
        return counted(node);
    }

    @Override
    public synchronized void rename(Caller caller, long parent, byte[] name, long newParent, byte[] newName,
            int flags) {
        Node from = dir(parent);
        Node to = dir(newParent);
        String oldKey = key(name);
        String newKey = key(newName);
        Node moving = child(from, oldKey);
        Long existing = to.children.get(newKey);
        if ((flags & RENAME_EXCHANGE) != 0) {
            if (existing == null) {
                throw new FuseException(Errno.ENOENT);
            }
            from.children.put(oldKey, existing);
            to.children.put(newKey, moving.ino);
            return;
        }
        if (existing != null) {
            if ((flags & RENAME_NOREPLACE) != 0) {
                throw new FuseException(Errno.EEXIST);
            }
            Node replaced = nodes.get(existing);
            if (replaced.isDir() && !replaced.children.isEmpty()) {
                throw new FuseException(Errno.ENOTEMPTY);
            }
            removeName(to, newKey);
            replaced.nlink = replaced.isDir() ? 0 : replaced.nlink - 1;
            dropIfUnused(replaced);
        }
        removeName(from, oldKey);
        addName(to, newKey, moving.ino);
        if (moving.isDir() && from != to) {
            moving.parent = to.ino;
            from.nlink--;
            to.nlink++;
        }
        moving.ctime = now();
    }

    @Override
    public synchronized Entry link(Caller caller, long ino, long newParent, byte[] newName) {
        Node node = node(ino);
        Node dir = dir(newParent);
        if (dir.children.containsKey(key(newName))) {
            throw new FuseException(Errno.EEXIST);
        }
        addName(dir, key(newName), ino);
        node.nlink++;
        node.ctime = now();
        return counted(node);
    }

    @Override
    public synchronized OpenResult open(Caller caller, long ino, int flags, boolean killSuidGid) {
        Node node = node(ino);
        if ((flags & O_TRUNC) != 0) {
            resize(node, 0);
        }
        return new OpenResult(nextFh++, 0);
    }

    @Override
    public synchronized int read(Caller caller, long ino, long fh, long offset, int size, MemorySegment dest) {
        Node node = node(ino);
        if (offset >= node.size) {
            return 0;
        }
        int count = (int) Math.min(size, node.size - offset);
        MemorySegment.copy(node.data, (int) offset, dest, ValueLayout.JAVA_BYTE, 0, count);
        return count;
    }

    @Override
    public synchronized int write(Caller caller, long ino, long fh, long offset, MemorySegment data,
            int writeFlags) {
        Node node = node(ino);
        int length = (int) data.byteSize();
        long end = offset + length;
        if (end > node.size) {
            resize(node, end);
        }
        MemorySegment.copy(data, ValueLayout.JAVA_BYTE, 0, node.data, (int) offset, length);
        node.mtime = now();
        node.ctime = node.mtime;
        return length;
    }

    @Override
    public void release(Caller caller, long ino, long fh, int flags) {}

    @Override
    public void fsync(Caller caller, long ino, long fh, boolean dataOnly) {
        fsyncCalls.incrementAndGet();
    }

    @Override
    public synchronized void readdir(Caller caller, long ino, long fh, long offset, DirSink sink) {
        Node dir = dir(ino);
        if (offset < 1 && !sink.add(bytes("."), dir.ino, dir.mode, 1)) {
            return;
        }
        Node parent = nodes.get(dir.parent);
        if (offset < 2 && !sink.add(bytes(".."), parent.ino, parent.mode, 2)) {
            return;
        }
        for (Map.Entry<Long, String> e : dir.nameByCookie.tailMap(offset, false).entrySet()) {
            Node child = nodes.get(dir.children.get(e.getValue()));
            if (!sink.add(bytes(e.getValue()), child.ino, child.mode, e.getKey())) {
                return;
            }
        }
    }

    @Override
    public synchronized void readdirplus(Caller caller, long ino, long fh, long offset, DirPlusSink sink) {
        Node dir = dir(ino);
        if (offset < 1 && !sink.add(bytes("."), entry(dir), 1)) {
            return;
        }
        Node parent = nodes.get(dir.parent);
        if (offset < 2 && !sink.add(bytes(".."), entry(parent), 2)) {
            return;
        }
        for (Map.Entry<Long, String> e : dir.nameByCookie.tailMap(offset, false).entrySet()) {
            Node child = nodes.get(dir.children.get(e.getValue()));
            if (!sink.add(bytes(e.getValue()), entry(child), e.getKey())) {
                return;
            }
            child.lookups++;
        }
    }

    @Override
    public StatFs statfs(Caller caller, long ino) {
        return new StatFs(1_000_000, 750_000, 700_000, 10_000, 9_000, 4096, 255, 4096);
    }

    @Override
    public synchronized void setxattr(Caller caller, long ino, byte[] name, byte[] value, int flags) {
        Node node = node(ino);
        String key = key(name);
        boolean exists = node.xattrs.containsKey(key);
        if ((flags & XATTR_CREATE) != 0 && exists) {
            throw new FuseException(Errno.EEXIST);
        }
        if ((flags & XATTR_REPLACE) != 0 && !exists) {
            throw new FuseException(Errno.ENODATA);
        }
        node.xattrs.put(key, value.clone());
        node.ctime = now();
    }

    @Override
    public synchronized byte[] getxattr(Caller caller, long ino, byte[] name) {
        byte[] value = node(ino).xattrs.get(key(name));
        if (value == null) {
            throw new FuseException(Errno.ENODATA);
        }
        return value.clone();
    }

    @Override
    public synchronized List<byte[]> listxattr(Caller caller, long ino) {
        return node(ino).xattrs.keySet().stream().map(MemoryFilesystem::bytes).toList();
    }

    @Override
    public synchronized void removexattr(Caller caller, long ino, byte[] name) {
        if (node(ino).xattrs.remove(key(name)) == null) {
            throw new FuseException(Errno.ENODATA);
        }
    }

    @Override
    public synchronized CreateResult create(Caller caller, long parent, byte[] name, int mode, int umask,
            int flags) {
        Node node = add(caller, parent, name, S_IFREG | (mode & 07777));
        return new CreateResult(counted(node), new OpenResult(nextFh++, 0));
    }

    @Override
    public synchronized void fallocate(Caller caller, long ino, long fh, long offset, long length, int mode) {
        if (mode != 0 && mode != 1) {
            throw new FuseException(Errno.EOPNOTSUPP);
        }
        Node node = node(ino);
        if (mode == 0 && offset + length > node.size) {
            resize(node, offset + length);
        }
    }

    @Override
    public synchronized long lseek(Caller caller, long ino, long fh, long offset, int whence) {
        Node node = node(ino);
        if (offset >= node.size) {
            throw new FuseException(Errno.ENXIO);
        }
        return switch (whence) {
            case SEEK_DATA -> offset;
            case SEEK_HOLE -> node.size;
            default -> throw new FuseException(Errno.EINVAL);
        };
    }

    private Node add(Caller caller, long parent, byte[] name, int mode) {
        Node dir = dir(parent);
        String key = key(name);
        if (dir.children.containsKey(key)) {
            throw new FuseException(Errno.EEXIST);
        }
        Node node = new Node(nextIno++, mode, caller.uid(), caller.gid());
        nodes.put(node.ino, node);
        addName(dir, key, node.ino);
        dir.mtime = now();
        return node;
    }

    private static void addName(Node dir, String key, long ino) {
        long cookie = dir.nextCookie++;
        dir.children.put(key, ino);
        dir.cookieByName.put(key, cookie);
        dir.nameByCookie.put(cookie, key);
    }

    private static void removeName(Node dir, String key) {
        dir.children.remove(key);
        Long cookie = dir.cookieByName.remove(key);
        if (cookie != null) {
            dir.nameByCookie.remove(cookie);
        }
        dir.mtime = now();
    }

    private void dropIfUnused(Node node) {
        if (node.nlink <= 0 && node.lookups <= 0 && node.ino != ROOT) {
            nodes.remove(node.ino);
        }
    }

    private Entry counted(Node node) {
        node.lookups++;
        return entry(node);
    }

    private static Entry entry(Node node) {
        return new Entry(node.ino, 0, node.attr(), TTL_NS, TTL_NS);
    }

    private static void resize(Node node, long size) {
        if (size > Integer.MAX_VALUE - 8) {
            throw new FuseException(Errno.EFBIG);
        }
        int newSize = (int) size;
        if (newSize > node.data.length) {
            node.data = Arrays.copyOf(node.data, Math.max(newSize, node.data.length * 2));
        } else if (newSize < node.size) {
            Arrays.fill(node.data, newSize, node.size, (byte) 0);
        }
        node.size = newSize;
    }

    private Node node(long ino) {
        Node node = nodes.get(ino);
        if (node == null) {
            throw new FuseException(Errno.ENOENT);
        }
        return node;
    }

    private Node dir(long ino) {
        Node node = node(ino);
        if (!node.isDir()) {
            throw new FuseException(Errno.ENOTDIR);
        }
        return node;
    }

    private Node child(Node dir, String key) {
        Long ino = dir.children.get(key);
        if (ino == null) {
            throw new FuseException(Errno.ENOENT);
        }
        return nodes.get(ino);
    }

    private static String key(byte[] name) {
        return new String(name, StandardCharsets.ISO_8859_1);
    }

    private static byte[] bytes(String key) {
        return key.getBytes(StandardCharsets.ISO_8859_1);
    }

    private static long now() {
        java.time.Instant now = java.time.Instant.now();
        return now.getEpochSecond() * 1_000_000_000L + now.getNano();
    }
}
