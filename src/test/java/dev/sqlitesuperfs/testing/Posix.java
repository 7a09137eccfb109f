package dev.sqlitesuperfs.testing;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.file.Path;

/**
 * System calls the tests need and Java does not offer (raw descriptors, renameat2, utimensat with
 * UTIME_OMIT, fallocate, SEEK_DATA/SEEK_HOLE, st_blocks), through FFM. Each returns the result or
 * throws {@link ErrnoException} carrying errno, so tests can assert on exact errors.
 */
public final class Posix {
    public static final int O_RDONLY = 0;
    public static final int O_WRONLY = 1;
    public static final int O_RDWR = 2;
    public static final int O_CREAT = 0100;
    public static final int O_EXCL = 0200;
    public static final int O_TRUNC = 01000;
    public static final int O_APPEND = 02000;
    public static final int O_DIRECTORY = 0200000;
    public static final int AT_FDCWD = -100;
    public static final int RENAME_NOREPLACE = 1;
    public static final int RENAME_EXCHANGE = 2;
    public static final int SEEK_SET = 0;
    public static final int SEEK_END = 2;
    public static final int SEEK_DATA = 3;
    public static final int SEEK_HOLE = 4;
    public static final long UTIME_NOW = (1L << 30) - 1;
    public static final long UTIME_OMIT = (1L << 30) - 2;
    public static final int FALLOC_FL_KEEP_SIZE = 1;
    public static final int FALLOC_FL_PUNCH_HOLE = 2;
    public static final int XATTR_CREATE = 1;
    public static final int XATTR_REPLACE = 2;
    public static final int PROT_READ = 1;
    public static final int PROT_WRITE = 2;
    public static final int MAP_SHARED = 1;
    public static final int MS_SYNC = 4;
    public static final int R_OK = 4;
    public static final int W_OK = 2;
    public static final int X_OK = 1;

    /** A failed call: {@code errno} says why. */
    public static final class ErrnoException extends RuntimeException {
        public final int errno;

        ErrnoException(String call, int errno) {
            super(call + " failed with errno " + errno);
            this.errno = errno;
        }
    }

    /** The fields of struct stat the tests look at. */
    public record Stat(long dev, long ino, long nlink, int mode, int uid, int gid, long rdev, long size,
            long blksize, long blocks, long atimeNs, long mtimeNs, long ctimeNs) {}

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = STATE.varHandle(java.lang.foreign.MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option CAPTURE = Linker.Option.captureCallState("errno");

    private static final MethodHandle OPEN = fn("open", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
    private static final MethodHandle CLOSE = fn("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle PWRITE = fn("pwrite", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle PREAD = fn("pread", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle WRITE = fn("write", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle FTRUNCATE = fn("ftruncate", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG));
    private static final MethodHandle FSYNC = fn("fsync", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle FALLOCATE = fn("fallocate", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle LSEEK = fn("lseek", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT));
    private static final MethodHandle RENAMEAT2 = fn("renameat2", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle UTIMENSAT = fn("utimensat", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
    private static final MethodHandle LSTAT = fn("lstat", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle FSTAT = fn("fstat", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle FCHMOD = fn("fchmod", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle MKNOD = fn("mknod", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG));
    private static final MethodHandle UNLINK = fn("unlink", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle RMDIR = fn("rmdir", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle LINK = fn("link", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle SETXATTR = fn("lsetxattr", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT));
    private static final MethodHandle GETXATTR = fn("lgetxattr", FunctionDescriptor.of(JAVA_LONG, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG));
    private static final MethodHandle LISTXATTR = fn("llistxattr", FunctionDescriptor.of(JAVA_LONG, ADDRESS, ADDRESS, JAVA_LONG));
    private static final MethodHandle REMOVEXATTR = fn("lremovexattr", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle STATFS = fn("statfs", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle MMAP = fn("mmap", FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
    private static final MethodHandle MUNMAP = fn("munmap", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle MSYNC = fn("msync", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    private static final MethodHandle SYMLINK = fn("symlink", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle READLINK = fn("readlink", FunctionDescriptor.of(JAVA_LONG, ADDRESS, ADDRESS, JAVA_LONG));
    private static final MethodHandle MKDIR = fn("mkdir", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle CHMOD = fn("chmod", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle LCHOWN = fn("lchown", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
    private static final MethodHandle TRUNCATE = fn("truncate", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle ACCESS = fn("access", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));

    private Posix() {}

    private static MethodHandle fn(String name, FunctionDescriptor d) {
        return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(), d, CAPTURE);
    }

    private static MemorySegment state(Arena a) {
        return a.allocate(STATE);
    }

    private static int errno(MemorySegment state) {
        return (int) ERRNO.get(state, 0L);
    }

    private static MemorySegment cstr(Arena a, Path p) {
        return a.allocateFrom(p.toString());
    }

    private static MemorySegment bytes(Arena a, byte[] b) {
        MemorySegment s = a.allocate(Math.max(1, b.length));
        MemorySegment.copy(b, 0, s, ValueLayout.JAVA_BYTE, 0, b.length);
        return s;
    }

    private static long check(String call, long result, MemorySegment state) {
        if (result < 0) {
            throw new ErrnoException(call, errno(state));
        }
        return result;
    }

    private static Throwable rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            throw r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        throw new IllegalStateException(t);
    }

    public static int open(Path path, int flags, int mode) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = state(a);
            return (int) check("open", (int) OPEN.invokeExact(st, cstr(a, path), flags, mode), st);
        } catch (Throwable t) {
            throw new IllegalStateException(rethrow(t));
        }
    }

    public static void close(int fd) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = state(a);
            check("close", (int) CLOSE.invokeExact(st, fd), st);
        } catch (Throwable t) {
            throw new IllegalStateException(rethrow(t));
        }
    }

    public static long pwrite(int fd, byte[] data, long offset) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = state(a);
            return check("pwrite", (long) PWRITE.invokeExact(st, fd, bytes(a, data), (long) data.length, offset), st);
        } catch (Throwable t) {
            throw new IllegalStateException(rethrow(t));
        }
    }

    public static long write(int fd, byte[] data) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = state(a);
            return check("write", (long) WRITE.invokeExact(st, fd, bytes(a, data), (long) data.length), st);
        } catch (Throwable t) {
            throw new IllegalStateException(rethrow(t));
        }
    }

    public static byte[] pread(int fd, int length, long offset) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = state(a);
            MemorySegment buf = a.allocate(Math.max(1, length));
            long n = check("pread", (long) PREAD.invokeExact(st, fd, buf, (long) length, offset), st);
            return buf.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE);
        } catch (Throwable t) {
            throw new IllegalStateException(rethrow(t));
        }
    }

    public static void ftruncate(int fd, long size) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = state(a);
            check("ftruncate", (int) FTRUNCATE.invokeExact(st, fd, size), st);
        } catch (Throwable t) {
            throw new IllegalStateException(rethrow(t));
        }
    }

    public static void fsync(int fd) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = state(a);
            check("fsync", (int) FSYNC.invokeExact(st, fd), st);
        } catch (Throwable t) {
            throw new IllegalStateException(rethrow(t));
        }
    }

    public static void fchmod(int fd, int mode) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = state(a);
            check("fchmod", (int) FCHMOD.invokeExact(st, fd, mode), st);
        } catch (Throwable t) {
            throw new IllegalStateException(rethrow(t));
        }
    }

    public static void fallocate(int fd, int mode, long offset, long length) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = state(a);
            check("fallocate", (int) FALLOCATE.invokeExact(st, fd, mode, offset, length), st);
        } catch (Throwable t) {
            throw new IllegalStateException(rethrow(t));
        }
    }

    public static long lseek(int fd, long offset, int whence) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = state(a);
            return check("lseek", (long) LSEEK.invokeExact(st, fd, offset, whence), st);
        } catch (Throwable t) {
            throw new IllegalStateException(rethrow(t));
        }
    }

    public static void rename(Path from, Path to, int flags) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = state(a);
            check("renameat2", (int) RENAMEAT2.invokeExact(st, AT_FDCWD, cstr(a, from), AT_FDCWD, cstr(a, to), flags), st);
        } catch (Throwable t) {
            throw new IllegalStateException(rethrow(t));
        }
    }

    /** utimensat(AT_FDCWD, path, {atime, mtime}, AT_SYMLINK_NOFOLLOW when nofollow); values may be UTIME_NOW/OMIT as nsec. */
    public static void utimens(Path path, long atimeSec, long atimeNsec, long mtimeSec, long mtimeNsec, boolean nofollow) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = state(a);
            MemorySegment times = a.allocate(32);
            times.set(JAVA_LONG, 0, atimeSec);
            times.set(JAVA_LONG, 8, atimeNsec);
            times.set(JAVA_LONG, 16, mtimeSec);
            times.set(JAVA_LONG, 24, mtimeNsec);
            check("utimensat", (int) UTIMENSAT.invokeExact(st, AT_FDCWD, cstr(a, path), times, nofollow ? 0x100 : 0), st);
        } catch (Throwable t) {
            throw new IllegalStateException(rethrow(t));
        }
    }

    public static Stat lstat(Path path) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = state(a);
            MemorySegment buf = a.allocate(256);
            check("lstat", (int) LSTAT.invokeExact(st, cstr(a, path), buf), st);
            return stat(buf);
        } catch (Throwable t) {
            throw new IllegalStateException(rethrow(t));
        }
    }

    public static Stat fstat(int fd) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = state(a);
            MemorySegment buf = a.allocate(256);
            check("fstat", (int) FSTAT.invokeExact(st, fd, buf), st);
            return stat(buf);
        } catch (Throwable t) {
            throw new IllegalStateException(rethrow(t));
        }
    }

    /** x86_64 struct stat. */
    private static Stat stat(MemorySegment b) {
        return new Stat(b.get(JAVA_LONG, 0), b.get(JAVA_LONG, 8), b.get(JAVA_LONG, 16), b.get(JAVA_INT, 24),
                b.get(JAVA_INT, 28), b.get(JAVA_INT, 32), b.get(JAVA_LONG, 40), b.get(JAVA_LONG, 48),
                b.get(JAVA_LONG, 56), b.get(JAVA_LONG, 64),
                b.get(JAVA_LONG, 72) * 1_000_000_000L + b.get(JAVA_LONG, 80),
                b.get(JAVA_LONG, 88) * 1_000_000_000L + b.get(JAVA_LONG, 96),
                b.get(JAVA_LONG, 104) * 1_000_000_000L + b.get(JAVA_LONG, 112));
    }

    public static void mknod(Path path, int mode, long dev) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = state(a);
            check("mknod", (int) MKNOD.invokeExact(st, cstr(a, path), mode, dev), st);
        } catch (Throwable t) {
            throw new IllegalStateException(rethrow(t));
        }
    }

    public static void unlink(Path path) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = state(a);
            check("unlink", (int) UNLINK.invokeExact(st, cstr(a, path)), st);
        } catch (Throwable t) {
            throw new IllegalStateException(rethrow(t));
        }
    }

    public static void rmdir(Path path) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = state(a);
            check("rmdir", (int) RMDIR.invokeExact(st, cstr(a, path)), st);
        } catch (Throwable t) {
            throw new IllegalStateException(rethrow(t));
        }
    }

    public static void link(Path existing, Path newName) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = state(a);
            check("link", (int) LINK.invokeExact(st, cstr(a, existing), cstr(a, newName)), st);
        } catch (Throwable t) {
            throw new IllegalStateException(rethrow(t));
        }
    }

    public static void setxattr(Path path, String name, byte[] value, int flags) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = state(a);
            check("setxattr", (int) SETXATTR.invokeExact(st, cstr(a, path), a.allocateFrom(name), bytes(a, value),
                    (long) value.length, flags), st);
        } catch (Throwable t) {
            throw new IllegalStateException(rethrow(t));
        }
    }

    public static byte[] getxattr(Path path, String name) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = state(a);
            MemorySegment n = a.allocateFrom(name);
            long size = check("getxattr", (long) GETXATTR.invokeExact(st, cstr(a, path), n, MemorySegment.NULL, 0L), st);
            MemorySegment buf = a.allocate(Math.max(1, size));
            long got = check("getxattr", (long) GETXATTR.invokeExact(st, cstr(a, path), n, buf, size), st);
            return buf.asSlice(0, got).toArray(ValueLayout.JAVA_BYTE);
        } catch (Throwable t) {
            throw new IllegalStateException(rethrow(t));
        }
    }

    /** getxattr with a caller-chosen buffer size (to provoke ERANGE). */
    public static long getxattrSize(Path path, String name, long size) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = state(a);
            MemorySegment buf = size == 0 ? MemorySegment.NULL : a.allocate(size);
            return check("getxattr", (long) GETXATTR.invokeExact(st, cstr(a, path), a.allocateFrom(name), buf, size), st);
        } catch (Throwable t) {
            throw new IllegalStateException(rethrow(t));
        }
    }

    public static java.util.List<String> listxattr(Path path) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = state(a);
            long size = check("listxattr", (long) LISTXATTR.invokeExact(st, cstr(a, path), MemorySegment.NULL, 0L), st);
            MemorySegment buf = a.allocate(Math.max(1, size));
            long got = check("listxattr", (long) LISTXATTR.invokeExact(st, cstr(a, path), buf, size), st);
            java.util.List<String> names = new java.util.ArrayList<>();
            int start = 0;
            for (int i = 0; i < got; i++) {
                if (buf.get(ValueLayout.JAVA_BYTE, i) == 0) {
                    names.add(new String(buf.asSlice(start, i - start).toArray(ValueLayout.JAVA_BYTE)));
                    start = i + 1;
                }
            }
            return names;
        } catch (Throwable t) {
            throw new IllegalStateException(rethrow(t));
        }
    }

    public static void removexattr(Path path, String name) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = state(a);
            check("removexattr", (int) REMOVEXATTR.invokeExact(st, cstr(a, path), a.allocateFrom(name)), st);
        } catch (Throwable t) {
            throw new IllegalStateException(rethrow(t));
        }
    }

    /** struct statfs (x86_64): {type, bsize, blocks, bfree, bavail, files, ffree, fsid, namelen, frsize}. */
    public record StatFs(long bsize, long blocks, long bfree, long bavail, long files, long ffree, long namelen,
            long frsize) {}

    public static StatFs statfs(Path path) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = state(a);
            MemorySegment b = a.allocate(120);
            check("statfs", (int) STATFS.invokeExact(st, cstr(a, path), b), st);
            return new StatFs(b.get(JAVA_LONG, 8), b.get(JAVA_LONG, 16), b.get(JAVA_LONG, 24), b.get(JAVA_LONG, 32),
                    b.get(JAVA_LONG, 40), b.get(JAVA_LONG, 48), b.get(JAVA_LONG, 64), b.get(JAVA_LONG, 72));
        } catch (Throwable t) {
            throw new IllegalStateException(rethrow(t));
        }
    }

    /** The errno a call fails with, or 0 if it succeeds. */
    public static int errnoOf(Runnable call) {
        try {
            call.run();
            return 0;
        } catch (ErrnoException e) {
            return e.errno;
        }
    }

    /** A shared mapping of {@code length} bytes of {@code fd} from {@code offset}; release with {@link #munmap}. */
    public static MemorySegment mmap(int fd, long length, int prot, long offset) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = state(a);
            MemorySegment m = (MemorySegment) MMAP.invokeExact(st, MemorySegment.NULL, length, prot, MAP_SHARED, fd, offset);
            if (m.address() == -1L) {
                throw new ErrnoException("mmap", errno(st));
            }
            return m.reinterpret(length);
        } catch (Throwable t) {
            throw new IllegalStateException(rethrow(t));
        }
    }

    public static void munmap(MemorySegment mapping) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = state(a);
            check("munmap", (int) MUNMAP.invokeExact(st, mapping, mapping.byteSize()), st);
        } catch (Throwable t) {
            throw new IllegalStateException(rethrow(t));
        }
    }

    public static void msync(MemorySegment mapping, int flags) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = state(a);
            check("msync", (int) MSYNC.invokeExact(st, mapping, mapping.byteSize(), flags), st);
        } catch (Throwable t) {
            throw new IllegalStateException(rethrow(t));
        }
    }

    public static void symlink(String target, Path link) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = state(a);
            check("symlink", (int) SYMLINK.invokeExact(st, a.allocateFrom(target), cstr(a, link)), st);
        } catch (Throwable t) {
            throw new IllegalStateException(rethrow(t));
        }
    }

    public static String readlink(Path link) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = state(a);
            MemorySegment buf = a.allocate(8192);
            long n = check("readlink", (long) READLINK.invokeExact(st, cstr(a, link), buf, 8192L), st);
            byte[] b = buf.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE);
            return new String(b, java.nio.charset.StandardCharsets.UTF_8);
        } catch (Throwable t) {
            throw new IllegalStateException(rethrow(t));
        }
    }

    public static void mkdir(Path path, int mode) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = state(a);
            check("mkdir", (int) MKDIR.invokeExact(st, cstr(a, path), mode), st);
        } catch (Throwable t) {
            throw new IllegalStateException(rethrow(t));
        }
    }

    public static void chmod(Path path, int mode) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = state(a);
            check("chmod", (int) CHMOD.invokeExact(st, cstr(a, path), mode), st);
        } catch (Throwable t) {
            throw new IllegalStateException(rethrow(t));
        }
    }

    public static void lchown(Path path, int uid, int gid) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = state(a);
            check("lchown", (int) LCHOWN.invokeExact(st, cstr(a, path), uid, gid), st);
        } catch (Throwable t) {
            throw new IllegalStateException(rethrow(t));
        }
    }

    public static void truncate(Path path, long size) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = state(a);
            check("truncate", (int) TRUNCATE.invokeExact(st, cstr(a, path), size), st);
        } catch (Throwable t) {
            throw new IllegalStateException(rethrow(t));
        }
    }

    public static void access(Path path, int mode) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = state(a);
            check("access", (int) ACCESS.invokeExact(st, cstr(a, path), mode), st);
        } catch (Throwable t) {
            throw new IllegalStateException(rethrow(t));
        }
    }
}
