package dev.sqlitesuperfs.sealed;

import dev.sqlitesuperfs.store.InodeRange;
import dev.sqlitesuperfs.store.InodeRecord;
import dev.sqlitesuperfs.store.MemoryTables;
import dev.sqlitesuperfs.testing.MemoryNamespace;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Builds and reads a tree through {@link SealedStore}'s public API only, each change one committed
 * transaction, the way the filesystem uses it: every inode whose contents change has its row put
 * in the same transaction, and a directory is read before it is changed (an inode the sealed
 * store has not read counts as one the transaction creates).
 */
final class SealedTree {
    static final int FILE = 0100644;
    static final int DIR = 0040755;
    static final int SYMLINK = 0120777;

    private final MemoryNamespace ns;
    private long nextIno;
    private long endIno;

    SealedTree(MemoryNamespace ns) {
        this.ns = ns;
    }

    SealedStore sealed() {
        return ns.sealed();
    }

    MemoryTables rows() {
        return ns.store().tables();
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    long newIno() {
        if (nextIno == endIno) {
            InodeRange range = sealed().allocateInodes();
            nextIno = range.first();
            endIno = range.first() + range.count();
        }
        return nextIno++;
    }

    InodeRecord row(long ino) {
        return sealed().inode(ino).orElseThrow();
    }

    private static InodeRecord record(long ino, int mode, int nlink, long size) {
        long now = System.nanoTime();
        return new InodeRecord(ino, mode, 0, 0, nlink, size, 0, 0, now, now, now);
    }

    static InodeRecord withNlink(InodeRecord r, int nlink) {
        return new InodeRecord(r.ino(), r.mode(), r.uid(), r.gid(), nlink, r.size(), r.nblocks(), r.rdev(),
                r.atimeNs(), r.mtimeNs(), r.ctimeNs());
    }

    static InodeRecord withSize(InodeRecord r, long size) {
        return new InodeRecord(r.ino(), r.mode(), r.uid(), r.gid(), r.nlink(), size, r.nblocks(), r.rdev(),
                r.atimeNs(), r.mtimeNs(), r.ctimeNs());
    }

    /** The blocks of {@code data}, cut at the block size (the last one shorter). */
    List<PlainBlock> blocksOf(byte[] data) {
        int bs = ns.blockSize();
        List<PlainBlock> blocks = new ArrayList<>();
        for (int at = 0; at < data.length; at += bs) {
            byte[] chunk = Arrays.copyOfRange(data, at, Math.min(data.length, at + bs));
            blocks.add(new PlainBlock(at / bs, chunk, chunk.length));
        }
        return blocks;
    }

    long file(long parent, String name, byte[] data) {
        InodeRecord p = row(parent);
        long ino = newIno();
        sealed().transaction().putInode(record(ino, FILE, 1, data.length)).putBlocks(ino, 0, blocksOf(data))
                .putEntry(parent, bytes(name), ino, 0).putInode(p).commit();
        return ino;
    }

    long dir(long parent, String name) {
        InodeRecord p = row(parent);
        long ino = newIno();
        sealed().transaction().putInode(record(ino, DIR, 2, 0)).putEntry(parent, bytes(name), ino, 0)
                .putInode(withNlink(p, p.nlink() + 1)).commit();
        return ino;
    }

    long symlink(long parent, String name, String target) {
        InodeRecord p = row(parent);
        long ino = newIno();
        byte[] t = bytes(target);
        sealed().transaction().putInode(record(ino, SYMLINK, 1, t.length)).putSymlink(ino, t)
                .putEntry(parent, bytes(name), ino, 0).putInode(p).commit();
        return ino;
    }

    /** Another name for file {@code ino}. */
    void link(long ino, long parent, String name) {
        InodeRecord f = row(ino);
        InodeRecord p = row(parent);
        sealed().transaction().putEntry(parent, bytes(name), ino, 0).putInode(p)
                .putInode(withNlink(f, f.nlink() + 1)).commit();
    }

    /** Removes the name of a file or empty directory, and the inode with its last name. */
    void remove(long parent, String name) {
        InodeRecord p = row(parent);
        long ino = sealed().entries(parent).entries().stream().filter(e -> Arrays.equals(e.name(), bytes(name)))
                .findFirst().orElseThrow().ino();
        InodeRecord c = row(ino);
        var tx = sealed().transaction().deleteEntry(parent, bytes(name), ino);
        if (c.isDirectory()) {
            tx.deleteInode(ino).putInode(withNlink(p, p.nlink() - 1));
        } else {
            tx.putInode(p);
            if (c.nlink() == 1) {
                tx.deleteInode(ino);
            } else {
                tx.putInode(withNlink(c, c.nlink() - 1));
            }
        }
        tx.commit();
    }

    /** Renames a file within {@code parent}, over nothing. */
    void rename(long parent, String from, String to) {
        InodeRecord p = row(parent);
        long ino = sealed().entries(parent).entries().stream().filter(e -> Arrays.equals(e.name(), bytes(from)))
                .findFirst().orElseThrow().ino();
        sealed().transaction().deleteEntry(parent, bytes(from), ino).putEntry(parent, bytes(to), ino, 0)
                .putInode(p).commit();
    }

    /** Replaces the whole content of file {@code ino} with {@code data}. */
    void rewrite(long ino, byte[] data) {
        InodeRecord f = row(ino);
        sealed().transaction().truncateBlocks(ino, 0).putInode(withSize(f, data.length))
                .putBlocks(ino, 0, blocksOf(data)).commit();
    }

    void setXattr(long ino, String name, String value) {
        InodeRecord f = row(ino);
        sealed().transaction().putXattr(ino, bytes(name), bytes(value)).putInode(f).commit();
    }

    /** The whole file as stored, holes as zeros. */
    byte[] read(long ino) {
        InodeRecord f = row(ino);
        int bs = ns.blockSize();
        byte[] data = new byte[(int) f.size()];
        sealed().readBlocks(ino, 0, Math.ceilDiv(f.size(), bs),
                (idx, plain) -> System.arraycopy(plain, 0, data, (int) idx * bs, plain.length));
        return data;
    }

    /** Block {@code idx} alone. */
    byte[] readBlock(long ino, long idx) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        sealed().readBlocks(ino, idx, idx + 1, (i, plain) -> out.writeBytes(plain));
        return out.toByteArray();
    }

    /** The names of {@code dir} the sealed store serves, in order. */
    List<String> names(long dir) {
        return sealed().entries(dir).entries().stream().map(e -> new String(e.name(), StandardCharsets.UTF_8)).toList();
    }

    List<String> refused(long dir) {
        return sealed().entries(dir).refused().stream().map(n -> new String(n, StandardCharsets.UTF_8)).toList();
    }

    String xattr(long ino, String name) {
        return sealed().xattrs(ino).entrySet().stream().filter(e -> Arrays.equals(e.getKey(), bytes(name)))
                .map(e -> new String(e.getValue(), StandardCharsets.UTF_8)).findFirst().orElse(null);
    }
}
