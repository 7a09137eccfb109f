package dev.sqlitesuperfs.model;

import dev.sqlitesuperfs.testing.Posix;
import dev.sqlitesuperfs.testing.Posix.ErrnoException;
import dev.sqlitesuperfs.testing.Posix.Stat;
import java.io.ByteArrayOutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.CRC32;

/**
 * One side of a model run, the mount or the reference directory: applies operations under its root
 * and keeps its own descriptors per slot. Every answer is a short string (a result or an errno name)
 * that must be equal on both sides.
 */
final class FsSide {
    static final int PAGE = 4096;
    private static final int SEEK_CUR = 1;
    private static final int S_IFMT = 0170000;
    private static final int S_IFREG = 0100000;

    private final Path root;
    private final int[] fds = new int[OpGenerator.SLOTS];

    FsSide(Path root) {
        this.root = root;
        Arrays.fill(fds, -1);
    }

    Path root() {
        return root;
    }

    Path path(String relative) {
        return relative.isEmpty() ? root : root.resolve(relative);
    }

    int fd(int slot) {
        return fds[slot];
    }

    void closeAll() {
        for (int slot = 0; slot < fds.length; slot++) {
            if (fds[slot] >= 0) {
                int fd = fds[slot];
                fds[slot] = -1;
                Posix.errnoOf(() -> Posix.close(fd));
            }
        }
    }

    /** Applies {@code op} (never a remount, which the run handles); {@code data} is what writes write. */
    String apply(Op op, byte[] data) {
        try {
            return switch (op) {
                case Op.Open o -> {
                    close(o.slot());
                    fds[o.slot()] = Posix.open(path(o.path()), o.flags(), o.mode());
                    yield "ok";
                }
                case Op.Close c -> {
                    if (fds[c.slot()] < 0) {
                        yield "not open";
                    }
                    int fd = fds[c.slot()];
                    fds[c.slot()] = -1;
                    Posix.close(fd);
                    yield "ok";
                }
                case Op.Write w -> withFd(w.slot(), fd -> "wrote " + (w.offset() < 0 ? Posix.write(fd, data)
                        : Posix.pwrite(fd, data, w.offset())));
                case Op.Read r -> withFd(r.slot(), fd -> describe(Posix.pread(fd, r.length(), r.offset())));
                case Op.Ftruncate t -> withFd(t.slot(), fd -> {
                    Posix.ftruncate(fd, t.size());
                    return "ok";
                });
                case Op.Truncate t -> {
                    Posix.truncate(path(t.path()), t.size());
                    yield "ok";
                }
                case Op.Fallocate f -> withFd(f.slot(), fd -> {
                    Posix.fallocate(fd, f.mode(), f.offset(), f.length());
                    return "ok";
                });
                case Op.Fsync f -> withFd(f.slot(), fd -> {
                    Posix.fsync(fd);
                    return "ok";
                });
                case Op.Seek s -> withFd(s.slot(), fd -> seek(fd, s));
                case Op.MapWrite m -> withFd(m.slot(), fd -> mapWrite(fd, m.offset(), data, m.sync()));
                case Op.MapRead m -> withFd(m.slot(), fd -> mapRead(fd, m.offset(), m.length()));
                case Op.Rename r -> {
                    Posix.rename(path(r.from()), path(r.to()), r.flags());
                    yield "ok";
                }
                case Op.Link l -> {
                    Posix.link(path(l.existing()), path(l.name()));
                    yield "ok";
                }
                case Op.Unlink u -> {
                    Posix.unlink(path(u.path()));
                    yield "ok";
                }
                case Op.Mkdir m -> {
                    Posix.mkdir(path(m.path()), m.mode());
                    yield "ok";
                }
                case Op.Rmdir r -> {
                    Posix.rmdir(path(r.path()));
                    yield "ok";
                }
                case Op.Symlink s -> {
                    Posix.symlink(s.target(), path(s.path()));
                    yield "ok";
                }
                case Op.Readlink r -> "\"" + Posix.readlink(path(r.path())) + "\"";
                case Op.Chmod c -> {
                    Posix.chmod(path(c.path()), c.mode());
                    yield "ok";
                }
                case Op.Chown c -> {
                    Posix.lchown(path(c.path()), c.uid(), c.gid());
                    yield "ok";
                }
                case Op.Utimens u -> {
                    long atimeSec = u.omitAtime() ? 0 : Math.floorDiv(u.atimeNs(), 1_000_000_000L);
                    long atimeNsec = u.omitAtime() ? Posix.UTIME_OMIT : Math.floorMod(u.atimeNs(), 1_000_000_000L);
                    Posix.utimens(path(u.path()), atimeSec, atimeNsec, Math.floorDiv(u.mtimeNs(), 1_000_000_000L),
                            Math.floorMod(u.mtimeNs(), 1_000_000_000L), true);
                    yield "ok";
                }
                case Op.SetXattr x -> {
                    Posix.setxattr(path(x.path()), x.name(), data, x.flags());
                    yield "ok";
                }
                case Op.GetXattr x -> describe(Posix.getxattr(path(x.path()), x.name()));
                case Op.RemoveXattr x -> {
                    Posix.removexattr(path(x.path()), x.name());
                    yield "ok";
                }
                case Op.Remount r -> throw new IllegalArgumentException("a remount is the run's to do");
                case Op.DropCaches d -> throw new IllegalArgumentException("dropping caches is the run's to do");
            };
        } catch (ErrnoException e) {
            return Errnos.name(e.errno);
        }
    }

    private void close(int slot) {
        if (fds[slot] >= 0) {
            int fd = fds[slot];
            fds[slot] = -1;
            Posix.close(fd);
        }
    }

    private interface FdCall {
        String call(int fd);
    }

    private String withFd(int slot, FdCall call) {
        return fds[slot] < 0 ? "not open" : call.call(fds[slot]);
    }

    static String describe(byte[] bytes) {
        CRC32 crc = new CRC32();
        crc.update(bytes);
        return bytes.length + " bytes, crc " + Long.toHexString(crc.getValue());
    }

    /**
     * SEEK_DATA and SEEK_HOLE may legitimately answer differently on two filesystems (what counts as
     * a hole is the filesystem's choice), so the answer is checked against what it promises about
     * the file's bytes, and only that verdict is compared.
     */
    private String seek(int fd, Op.Seek s) {
        if (!isRegular(Posix.fstat(fd).mode())) {
            // Positions in a directory are the filesystem's own cookies (ext4 hands out hashes).
            return "not a regular file";
        }
        long result;
        long position = Posix.lseek(fd, 0, SEEK_CUR);
        try {
            result = Posix.lseek(fd, s.offset(), s.whence());
        } catch (ErrnoException e) {
            if (e.errno != 6) {
                return Errnos.name(e.errno);
            }
            result = -1;
        } finally {
            // The answers may differ legitimately, and so would the positions they leave behind.
            Posix.lseek(fd, position, Posix.SEEK_SET);
        }
        long size = Posix.fstat(fd).size();
        if (s.offset() >= size) {
            return result < 0 ? "ENXIO at or past EOF" : "answered " + result + " at or past EOF " + size;
        }
        byte[] content = contentsOf(fd);
        if (s.whence() == Posix.SEEK_DATA) {
            long end = result < 0 ? size : result;
            if (end < s.offset() || end >= size && result >= 0) {
                return "SEEK_DATA " + result + " outside [" + s.offset() + ", " + size + ")";
            }
            for (long i = s.offset(); i < end; i++) {
                if (content[(int) i] != 0) {
                    return "SEEK_DATA " + result + " skips data at " + i;
                }
            }
            return "consistent";
        }
        if (result < s.offset() || result > size) {
            return "SEEK_HOLE " + result + " outside [" + s.offset() + ", " + size + "]";
        }
        if (result < size && content[(int) result] != 0) {
            return "SEEK_HOLE " + result + " lands on data";
        }
        return "consistent";
    }

    /** Writes through a shared mapping; only within the file, since pages past EOF fault. */
    private String mapWrite(int fd, long offset, byte[] data, boolean sync) {
        Stat stat = Posix.fstat(fd);
        if (!isRegular(stat.mode())) {
            return mapNonRegular(fd, Posix.PROT_READ | Posix.PROT_WRITE);
        }
        long size = stat.size();
        int length = (int) Math.min(data.length, size - offset);
        if (length <= 0) {
            return "past EOF " + size;
        }
        long start = offset / PAGE * PAGE;
        MemorySegment map = Posix.mmap(fd, offset + length - start, Posix.PROT_READ | Posix.PROT_WRITE, start);
        try {
            MemorySegment.copy(data, 0, map, ValueLayout.JAVA_BYTE, offset - start, length);
            if (sync) {
                Posix.msync(map, Posix.MS_SYNC);
            }
        } finally {
            Posix.munmap(map);
        }
        return "mapped " + length;
    }

    private String mapRead(int fd, long offset, int wanted) {
        Stat stat = Posix.fstat(fd);
        if (!isRegular(stat.mode())) {
            return mapNonRegular(fd, Posix.PROT_READ);
        }
        long size = stat.size();
        int length = (int) Math.min(wanted, size - offset);
        if (length <= 0) {
            return "past EOF " + size;
        }
        long start = offset / PAGE * PAGE;
        MemorySegment map = Posix.mmap(fd, offset + length - start, Posix.PROT_READ, start);
        try {
            return describe(map.asSlice(offset - start, length).toArray(ValueLayout.JAVA_BYTE));
        } finally {
            Posix.munmap(map);
        }
    }

    /** Directories cannot be mapped; their sizes differ between filesystems, so the answer is asked for directly. */
    private static String mapNonRegular(int fd, int prot) {
        Posix.munmap(Posix.mmap(fd, PAGE, prot, 0));
        return "mapped a non-regular file";
    }

    /** The whole file behind {@code fd}, read through a new read-only descriptor (fd may be write-only or unlinked). */
    static byte[] contentsOf(int fd) {
        int reader = Posix.open(Path.of("/proc/self/fd/" + fd), Posix.O_RDONLY, 0);
        try {
            return readAll(reader);
        } finally {
            Posix.close(reader);
        }
    }

    static byte[] readAll(int fd) {
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        long offset = 0;
        while (true) {
            byte[] chunk = Posix.pread(fd, 1 << 20, offset);
            if (chunk.length == 0) {
                return all.toByteArray();
            }
            all.writeBytes(chunk);
            offset += chunk.length;
        }
    }

    static boolean isRegular(int mode) {
        return (mode & S_IFMT) == S_IFREG;
    }
}
