package dev.sqlitesuperfs.model;

import java.util.ArrayList;
import java.util.List;

/**
 * One filesystem operation of a model run, as a value: the same operation is applied to the mount
 * and to the reference directory. Paths are relative to either side's root; descriptors are named
 * by slot, because the numbers the two sides hand out differ. Data to write is named by a seed, so
 * that an operation prints short and replays byte for byte.
 */
sealed interface Op {

    /** Paths whose state this operation may change or whose answer it depends on (for the comparison after it). */
    default List<String> touchedPaths() {
        return List.of();
    }

    /** The descriptor slot whose file this operation may change, or -1. */
    default int touchedSlot() {
        return -1;
    }

    record Open(int slot, String path, int flags, int mode) implements Op {
        @Override
        public List<String> touchedPaths() {
            return withParent(path);
        }

        @Override
        public int touchedSlot() {
            return slot;
        }

        @Override
        public String toString() {
            return "open(" + path + ", " + Flags.open(flags) + ", 0" + Integer.toOctalString(mode) + ") -> fd" + slot;
        }
    }

    record Close(int slot) implements Op {
        @Override
        public String toString() {
            return "close(fd" + slot + ")";
        }
    }

    /** pwrite, or write at the descriptor's position when {@code offset} is negative. */
    record Write(int slot, long offset, int length, long dataSeed) implements Op {
        @Override
        public int touchedSlot() {
            return slot;
        }

        @Override
        public String toString() {
            return (offset < 0 ? "write(fd" + slot : "pwrite(fd" + slot + ", offset " + offset) + ", " + length
                    + " bytes of seed " + dataSeed + ")";
        }
    }

    record Read(int slot, long offset, int length) implements Op {
        @Override
        public String toString() {
            return "pread(fd" + slot + ", offset " + offset + ", " + length + " bytes)";
        }
    }

    record Ftruncate(int slot, long size) implements Op {
        @Override
        public int touchedSlot() {
            return slot;
        }

        @Override
        public String toString() {
            return "ftruncate(fd" + slot + ", " + size + ")";
        }
    }

    record Truncate(String path, long size) implements Op {
        @Override
        public List<String> touchedPaths() {
            return List.of(path);
        }

        @Override
        public String toString() {
            return "truncate(" + path + ", " + size + ")";
        }
    }

    record Fallocate(int slot, int mode, long offset, long length) implements Op {
        @Override
        public int touchedSlot() {
            return slot;
        }

        @Override
        public String toString() {
            return "fallocate(fd" + slot + ", " + Flags.fallocate(mode) + ", offset " + offset + ", length " + length + ")";
        }
    }

    record Fsync(int slot) implements Op {
        @Override
        public int touchedSlot() {
            return slot;
        }

        @Override
        public String toString() {
            return "fsync(fd" + slot + ")";
        }
    }

    /** lseek with SEEK_DATA or SEEK_HOLE; compared by what the answer promises, not by its value. */
    record Seek(int slot, long offset, int whence) implements Op {
        @Override
        public String toString() {
            return "lseek(fd" + slot + ", " + offset + ", " + (whence == 3 ? "SEEK_DATA" : "SEEK_HOLE") + ")";
        }
    }

    /** Writes through a shared mapping of the descriptor, then msync (unless not {@code sync}) and munmap. */
    record MapWrite(int slot, long offset, int length, long dataSeed, boolean sync) implements Op {
        @Override
        public int touchedSlot() {
            return slot;
        }

        @Override
        public String toString() {
            return "mmap-write(fd" + slot + ", offset " + offset + ", " + length + " bytes of seed " + dataSeed
                    + (sync ? ", msync" : ", no msync") + ")";
        }
    }

    record MapRead(int slot, long offset, int length) implements Op {
        @Override
        public String toString() {
            return "mmap-read(fd" + slot + ", offset " + offset + ", " + length + " bytes)";
        }
    }

    record Rename(String from, String to, int flags) implements Op {
        @Override
        public List<String> touchedPaths() {
            List<String> all = new ArrayList<>(withParent(from));
            all.addAll(withParent(to));
            return all;
        }

        @Override
        public String toString() {
            return "rename(" + from + ", " + to + ", " + Flags.rename(flags) + ")";
        }
    }

    record Link(String existing, String name) implements Op {
        @Override
        public List<String> touchedPaths() {
            List<String> all = new ArrayList<>(withParent(existing));
            all.addAll(withParent(name));
            return all;
        }

        @Override
        public String toString() {
            return "link(" + existing + ", " + name + ")";
        }
    }

    record Unlink(String path) implements Op {
        @Override
        public List<String> touchedPaths() {
            return withParent(path);
        }

        @Override
        public String toString() {
            return "unlink(" + path + ")";
        }
    }

    record Mkdir(String path, int mode) implements Op {
        @Override
        public List<String> touchedPaths() {
            return withParent(path);
        }

        @Override
        public String toString() {
            return "mkdir(" + path + ", 0" + Integer.toOctalString(mode) + ")";
        }
    }

    record Rmdir(String path) implements Op {
        @Override
        public List<String> touchedPaths() {
            return withParent(path);
        }

        @Override
        public String toString() {
            return "rmdir(" + path + ")";
        }
    }

    record Symlink(String target, String path) implements Op {
        @Override
        public List<String> touchedPaths() {
            return withParent(path);
        }

        @Override
        public String toString() {
            return "symlink(\"" + target + "\", " + path + ")";
        }
    }

    record Readlink(String path) implements Op {
        @Override
        public String toString() {
            return "readlink(" + path + ")";
        }
    }

    record Chmod(String path, int mode) implements Op {
        @Override
        public List<String> touchedPaths() {
            return List.of(path);
        }

        @Override
        public String toString() {
            return "chmod(" + path + ", 0" + Integer.toOctalString(mode) + ")";
        }
    }

    /** lchown; Linux drops set-user-ID (and group-executable set-group-ID) of non-directories, even for root. */
    record Chown(String path, int uid, int gid) implements Op {
        @Override
        public List<String> touchedPaths() {
            return List.of(path);
        }

        @Override
        public String toString() {
            return "lchown(" + path + ", " + uid + ", " + gid + ")";
        }
    }

    /** utimensat without following a final symlink; atime may be omitted. The mtime is compared right after. */
    record Utimens(String path, long atimeNs, boolean omitAtime, long mtimeNs) implements Op {
        @Override
        public List<String> touchedPaths() {
            return List.of(path);
        }

        @Override
        public String toString() {
            return "utimens(" + path + ", atime " + (omitAtime ? "OMIT" : atimeNs) + ", mtime " + mtimeNs + ")";
        }
    }

    record SetXattr(String path, String name, int length, long dataSeed, int flags) implements Op {
        @Override
        public List<String> touchedPaths() {
            return List.of(path);
        }

        @Override
        public String toString() {
            return "setxattr(" + path + ", " + name + ", " + length + " bytes of seed " + dataSeed + ", "
                    + Flags.xattr(flags) + ")";
        }
    }

    record GetXattr(String path, String name) implements Op {
        @Override
        public String toString() {
            return "getxattr(" + path + ", " + name + ")";
        }
    }

    record RemoveXattr(String path, String name) implements Op {
        @Override
        public List<String> touchedPaths() {
            return List.of(path);
        }

        @Override
        public String toString() {
            return "removexattr(" + path + ", " + name + ")";
        }
    }

    /**
     * Drops the kernel's clean page cache, dentries and inodes (the whole machine's), so that the
     * mount is asked again for names, attributes and data without a remount; the tree is compared
     * after it.
     */
    record DropCaches() implements Op {
        @Override
        public String toString() {
            return "drop kernel caches";
        }
    }

    /** Closes every descriptor on both sides, unmounts and mounts the namespace again. */
    record Remount() implements Op {
        @Override
        public String toString() {
            return "remount";
        }
    }

    private static List<String> withParent(String path) {
        int slash = path.lastIndexOf('/');
        return List.of(path, slash < 0 ? "" : path.substring(0, slash));
    }

    /** Flag values printed by name. */
    final class Flags {
        private Flags() {}

        static String open(int flags) {
            StringBuilder s = new StringBuilder(switch (flags & 3) {
                case 0 -> "O_RDONLY";
                case 1 -> "O_WRONLY";
                default -> "O_RDWR";
            });
            if ((flags & 0100) != 0) {
                s.append("|O_CREAT");
            }
            if ((flags & 0200) != 0) {
                s.append("|O_EXCL");
            }
            if ((flags & 01000) != 0) {
                s.append("|O_TRUNC");
            }
            if ((flags & 02000) != 0) {
                s.append("|O_APPEND");
            }
            return s.toString();
        }

        static String rename(int flags) {
            return switch (flags) {
                case 0 -> "0";
                case 1 -> "RENAME_NOREPLACE";
                case 2 -> "RENAME_EXCHANGE";
                default -> Integer.toString(flags);
            };
        }

        static String fallocate(int mode) {
            return switch (mode) {
                case 0 -> "0";
                case 1 -> "FALLOC_FL_KEEP_SIZE";
                case 3 -> "FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE";
                default -> Integer.toString(mode);
            };
        }

        static String xattr(int flags) {
            return switch (flags) {
                case 0 -> "0";
                case 1 -> "XATTR_CREATE";
                case 2 -> "XATTR_REPLACE";
                default -> Integer.toString(flags);
            };
        }
    }
}
