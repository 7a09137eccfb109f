package dev.sqlitesuperfs.fs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sqlitesuperfs.fuse.Caller;
import dev.sqlitesuperfs.fuse.CreateResult;
import dev.sqlitesuperfs.fuse.Entry;
import dev.sqlitesuperfs.fuse.FileAttr;
import dev.sqlitesuperfs.fuse.FuseException;
import dev.sqlitesuperfs.fuse.SetAttr;
import dev.sqlitesuperfs.store.ChangeSet;
import dev.sqlitesuperfs.store.InodeRecord;
import dev.sqlitesuperfs.store.MemoryNamespaceStore;
import dev.sqlitesuperfs.store.SealedBlock;
import dev.sqlitesuperfs.testing.MemoryNamespace;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;

/**
 * A {@link Filesystem} on a {@link MemoryNamespace}, driven the way the kernel drives it: through
 * the {@link dev.sqlitesuperfs.fuse.FuseFilesystem} methods only, by inode number and handle. No
 * kernel, so nothing is cached on the other side: every call reaches the filesystem.
 *
 * <p>The write-back delay is a day, so that nothing is stored by the write-back thread during a
 * test unless the test makes it so; tests that look at what reached storage and when depend on
 * that, and a day is long past any test's timeout. The block cache holds 16 blocks (one per
 * segment), so reads of more than a few blocks go to storage.
 */
final class FsFixture implements AutoCloseable {
    static final Caller ROOT = new Caller(0, 0, 1);
    static final int BLOCK = 4096;
    static final int O_RDONLY = 0;
    static final int O_WRONLY = 1;
    static final int O_RDWR = 2;
    static final int O_CREAT = 0100;
    static final int O_TRUNC = 01000;
    static final int SEEK_DATA = 3;
    static final int SEEK_HOLE = 4;
    static final int RENAME_NOREPLACE = 1;
    static final int RENAME_EXCHANGE = 2;
    static final int S_IFMT = 0170000;
    static final int S_IFDIR = 0040000;
    static final int S_IFLNK = 0120000;

    final MemoryNamespace ns;
    private final long quotaBytes;
    private final Duration writebackDelay;
    /** A host's resources shared with other fixtures, or null: this filesystem's own. */
    private final FsResources shared;
    private final boolean orderedJournals;
    Filesystem fs;

    FsFixture() {
        this(0);
    }

    FsFixture(long quotaBytes) {
        this(quotaBytes, Duration.ofDays(1), null, false, MemoryNamespace.create(BLOCK));
    }

    /** A filesystem on {@code shared} resources, as one namespace of a host, with the given write-back delay. */
    FsFixture(FsResources shared, Duration writebackDelay) {
        this(0, writebackDelay, shared, false, MemoryNamespace.create(BLOCK));
    }

    /** A filesystem in the ordered-journals mode ({@code --ordered-journals}). */
    static FsFixture withOrderedJournals() {
        return new FsFixture(0, Duration.ofDays(1), null, true, MemoryNamespace.create(BLOCK));
    }

    /** A filesystem on a namespace that stores its names and symlink targets sealed ({@code --seal-names}). */
    static FsFixture withSealedNames() {
        return new FsFixture(0, Duration.ofDays(1), null, false, MemoryNamespace.withSealedNames(BLOCK));
    }

    private FsFixture(long quotaBytes, Duration writebackDelay, FsResources shared, boolean orderedJournals,
            MemoryNamespace ns) {
        this.ns = ns;
        this.quotaBytes = quotaBytes;
        this.writebackDelay = writebackDelay;
        this.shared = shared;
        this.orderedJournals = orderedJournals;
        fs = open();
    }

    private Filesystem open() {
        return shared == null ? Filesystem.open(config(), ns.sealed()) : Filesystem.open(config(), ns.sealed(), shared);
    }

    private FsConfig config() {
        return new FsConfig(MemoryNamespace.NAME, BLOCK, 16L * BLOCK, 64L << 20, writebackDelay,
                Duration.ofSeconds(1), false, quotaBytes, null, orderedJournals);
    }

    MemoryNamespaceStore store() {
        return ns.store();
    }

    /** Stops this filesystem as an unmount does (storing everything), and mounts the namespace again. */
    void remount() {
        fs.destroy();
        ns.remount();
        fs = open();
    }

    /**
     * The mount process dies: what only it held (written data, deferred changes) is lost; then the
     * namespace is mounted again. The old filesystem is stopped without storing anything: its
     * store is gone, so what its shutdown tries fails.
     */
    void crashAndRemount() {
        Filesystem dead = fs;
        ns.crashAndRemount();
        try {
            dead.destroy();
        } catch (RuntimeException expected) {
            // its store is closed: nothing of it reaches storage
        }
        fs = open();
    }

    @Override
    public void close() {
        try {
            fs.destroy();
        } finally {
            ns.close();
        }
    }

    // ------------------------------------------------------------------ calls, as the kernel makes them

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static String text(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }

    /** The errno {@code call} fails with; fails the test if it succeeds or throws anything else. */
    static int errno(ThrowingCallable call) {
        int[] errno = new int[1];
        assertThatThrownBy(call).isInstanceOfSatisfying(FuseException.class, e -> errno[0] = e.errno());
        return errno[0];
    }

    CreateResult create(long parent, String name) {
        return fs.create(ROOT, parent, bytes(name), 0644, 022, O_RDWR | O_CREAT);
    }

    /** Creates a file holding {@code content} and closes it (nothing stored yet). */
    long file(long parent, String name, byte[] content) {
        CreateResult c = create(parent, name);
        long ino = c.entry().nodeId();
        if (content.length > 0) {
            write(ino, c.open().fh(), 0, content);
        }
        release(ino, c.open().fh());
        return ino;
    }

    long file(long parent, String name, String content) {
        return file(parent, name, bytes(content));
    }

    long mkdir(long parent, String name) {
        return fs.mkdir(ROOT, parent, bytes(name), 0755, 022).nodeId();
    }

    /** The inode {@code name} names in {@code parent}, or 0. */
    long lookup(long parent, String name) {
        Entry e = fs.lookup(ROOT, parent, bytes(name));
        return e.isNegative() ? 0 : e.nodeId();
    }

    FileAttr attr(long ino) {
        return fs.getattr(ROOT, ino, -1).attr();
    }

    long open(long ino, int flags) {
        return fs.open(ROOT, ino, flags, false).fh();
    }

    void release(long ino, long fh) {
        fs.release(ROOT, ino, fh, 0);
    }

    int write(long ino, long fh, long offset, byte[] data) {
        return fs.write(ROOT, ino, fh, offset, MemorySegment.ofArray(data.clone()), 0);
    }

    byte[] read(long ino, long fh, long offset, int size) {
        byte[] into = new byte[size];
        int n = fs.read(ROOT, ino, fh, offset, size, MemorySegment.ofArray(into));
        return Arrays.copyOf(into, n);
    }

    /** The whole file, through a handle of its own. */
    byte[] content(long ino) {
        long fh = open(ino, O_RDONLY);
        try {
            return read(ino, fh, 0, (int) attr(ino).size());
        } finally {
            release(ino, fh);
        }
    }

    void fsync(long ino, long fh) {
        fs.fsync(ROOT, ino, fh, false);
    }

    /** fsync(2) of a directory: stores every change made before it. */
    void fsyncdir(long dir) {
        long fh = fs.opendir(ROOT, dir, 0).fh();
        try {
            fs.fsyncdir(ROOT, dir, fh, false);
        } finally {
            fs.releasedir(ROOT, dir, fh);
        }
    }

    void truncate(long ino, long size) {
        fs.setattr(ROOT, ino, new SetAttr(SetAttr.SIZE, 0, size, 0, 0, 0, 0, 0, 0));
    }

    void chmod(long ino, int mode) {
        fs.setattr(ROOT, ino, new SetAttr(SetAttr.MODE, 0, 0, 0, 0, 0, mode, 0, 0));
    }

    void rename(long parent, String name, long newParent, String newName, int flags) {
        fs.rename(ROOT, parent, bytes(name), newParent, bytes(newName), flags);
    }

    /** The names in {@code dir}, "." and ".." left out, in the order listed. */
    List<String> list(long dir) {
        long fh = fs.opendir(ROOT, dir, 0).fh();
        try {
            List<String> names = new ArrayList<>();
            fs.readdir(ROOT, dir, fh, 0, (name, ino, mode, next) -> {
                String n = new String(name, StandardCharsets.UTF_8);
                if (!n.equals(".") && !n.equals("..")) {
                    names.add(n);
                }
                return true;
            });
            return names;
        } finally {
            fs.releasedir(ROOT, dir, fh);
        }
    }

    /** Each change of a committed transaction in a few words ("put-entry a", "put-blocks 7"), in order. */
    static List<String> described(MemoryNamespaceStore.Transaction tx) {
        return tx.changes().stream().map(FsFixture::describe).toList();
    }

    static String describe(ChangeSet.Change change) {
        return switch (change) {
            case ChangeSet.PutInode(InodeRecord r) -> "put-inode " + r.ino();
            case ChangeSet.DeleteInode(long ino) -> "delete-inode " + ino;
            case ChangeSet.PutEntry(long parent, byte[] name, long ino, byte[] mac) -> "put-entry " + text(name);
            case ChangeSet.DeleteEntry(long parent, byte[] name) -> "delete-entry " + text(name);
            case ChangeSet.PutBlocks(long ino, long firstNew, List<SealedBlock> blocks) -> "put-blocks " + ino;
            case ChangeSet.TruncateBlocks(long ino, long from) -> "truncate-blocks " + ino;
            case ChangeSet.PutXattr(long ino, byte[] name, byte[] value) -> "put-xattr " + text(name);
            case ChangeSet.DeleteXattr(long ino, byte[] name) -> "delete-xattr " + text(name);
            case ChangeSet.PutSymlink(long ino, byte[] target) -> "put-symlink " + ino;
            case ChangeSet.PutBlockGroup(long ino, long group, byte[] digest) -> "put-block-group " + ino;
        };
    }

    /** The transactions committed since the first {@code skipped} ones, each described. */
    List<List<String>> transactionsAfter(int skipped) {
        List<MemoryNamespaceStore.Transaction> all = store().transactions();
        return all.subList(skipped, all.size()).stream().map(FsFixture::described).toList();
    }

    /**
     * The whole tree under {@code dir}: each path to what it is ("dir nlink=N", or the file's
     * content and link count), for comparing a tree before and after a remount.
     */
    Map<String, String> tree(long dir) {
        Map<String, String> all = new TreeMap<>();
        walk(dir, "", all);
        return all;
    }

    private void walk(long dir, String prefix, Map<String, String> all) {
        for (String name : list(dir)) {
            long ino = lookup(dir, name);
            FileAttr a = attr(ino);
            String path = prefix + name;
            if ((a.mode() & S_IFMT) == S_IFDIR) {
                all.put(path, "dir nlink=" + a.nlink());
                walk(ino, path + "/", all);
            } else if ((a.mode() & S_IFMT) == S_IFLNK) {
                all.put(path, "symlink size=" + a.size() + " -> " + text(fs.readlink(ROOT, ino)));
            } else {
                all.put(path, "file nlink=" + a.nlink() + " " + text(content(ino)));
            }
        }
    }

    /**
     * Stores everything, checks storage's consistency (link counts against entries, sizes against
     * blocks, reachability: {@code NamespaceStore.check}), remounts, and checks that the tree read
     * back from storage is the tree the filesystem showed.
     */
    void assertStoredAsShown() {
        Map<String, String> before = tree(1);
        fs.flushAll();
        assertThat(store().check()).as("storage consistency").isEmpty();
        remount();
        assertThat(tree(1)).as("the tree read back from storage").isEqualTo(before);
    }
}
