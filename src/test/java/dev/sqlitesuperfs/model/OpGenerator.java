package dev.sqlitesuperfs.model;

import java.util.List;
import java.util.Random;

/**
 * Random operations over a deliberately small universe of names (four directories, nine names), so
 * that they collide: renames over existing targets, links to existing names, rmdir of non-empty
 * directories, files where directories are expected and the reverse. The same seed gives the same
 * sequence.
 */
final class OpGenerator {
    static final int SLOTS = 4;
    static final int BLOCK = 4096;

    private static final List<String> PARENTS = List.of("", "a", "b", "a/c");
    private static final List<String> FILE_NAMES = List.of("f0", "f1", "f2", "f3", "f4");
    private static final List<String> DIR_NAMES = List.of("a", "b", "c");
    private static final List<String> ALL_NAMES = List.of("f0", "f1", "f2", "f3", "f4", "a", "b", "c", "s");
    private static final List<String> SYMLINK_TARGETS = List.of("f0", "a/f1", "c", "missing", "s", "a/c/f2", "b");
    private static final List<String> XATTR_NAMES = List.of("user.a", "user.b", "user.long.name.c");
    private static final int[] MODES = {0644, 0600, 0755, 0700, 0444, 0, 01777, 04755, 02755, 0666};

    private final Random random;
    private final java.util.LinkedList<Integer> recentlyOpened = new java.util.LinkedList<>();

    OpGenerator(long seed) {
        this.random = new Random(seed);
    }

    /** {@code count} operations; the first ones create the directories the names live in. */
    List<Op> next(int count) {
        List<Op> ops = new java.util.ArrayList<>(count);
        for (String dir : PARENTS.subList(1, PARENTS.size())) {
            if (ops.size() < count) {
                ops.add(new Op.Mkdir(dir, 0755));
            }
        }
        while (ops.size() < count) {
            ops.add(next());
        }
        return ops;
    }

    private Op next() {
        if (random.nextInt(250) == 0) {
            recentlyOpened.clear();
            return new Op.Remount();
        }
        if (random.nextInt(200) == 0) {
            return new Op.DropCaches();
        }
        int pick = random.nextInt(105);
        if ((pick -= 14) < 0) {
            int slot = random.nextInt(SLOTS);
            recentlyOpened.remove((Integer) slot);
            recentlyOpened.addLast(slot);
            return new Op.Open(slot, filePath(), openFlags(), MODES[random.nextInt(MODES.length)]);
        }
        if ((pick -= 5) < 0) {
            int slot = slot();
            recentlyOpened.remove((Integer) slot);
            return new Op.Close(slot);
        }
        if ((pick -= 15) < 0) {
            return new Op.Write(slot(), random.nextInt(6) == 0 ? -1 : offset(), length(), random.nextLong());
        }
        if ((pick -= 8) < 0) {
            return new Op.Read(slot(), offset(), length());
        }
        if ((pick -= 4) < 0) {
            return new Op.Ftruncate(slot(), size());
        }
        if ((pick -= 3) < 0) {
            return new Op.Truncate(filePath(), size());
        }
        if ((pick -= 3) < 0) {
            int mode = switch (random.nextInt(3)) {
                case 0 -> 0;
                case 1 -> 1;
                default -> 3;
            };
            return new Op.Fallocate(slot(), mode, offset(), 1 + random.nextInt(3 * BLOCK * 4));
        }
        if ((pick -= 2) < 0) {
            return new Op.Fsync(slot());
        }
        if ((pick -= 2) < 0) {
            return new Op.Seek(slot(), offset(), random.nextBoolean() ? 3 : 4);
        }
        if ((pick -= 3) < 0) {
            return new Op.MapWrite(slot(), smallOffset(), 1 + random.nextInt(3 * BLOCK), random.nextLong(),
                    random.nextBoolean());
        }
        if ((pick -= 2) < 0) {
            return new Op.MapRead(slot(), smallOffset(), 1 + random.nextInt(3 * BLOCK));
        }
        if ((pick -= 9) < 0) {
            return new Op.Rename(anyPath(), anyPath(), random.nextInt(5) < 3 ? 0 : random.nextBoolean() ? 1 : 2);
        }
        if ((pick -= 4) < 0) {
            return new Op.Link(filePath(), anyPath());
        }
        if ((pick -= 5) < 0) {
            return new Op.Unlink(random.nextInt(4) == 0 ? anyPath() : filePath());
        }
        if ((pick -= 5) < 0) {
            return new Op.Mkdir(dirPath(), MODES[random.nextInt(MODES.length)] | 0700);
        }
        if ((pick -= 3) < 0) {
            return new Op.Rmdir(random.nextInt(4) == 0 ? anyPath() : dirPath());
        }
        if ((pick -= 2) < 0) {
            return new Op.Symlink(SYMLINK_TARGETS.get(random.nextInt(SYMLINK_TARGETS.size())), anyPath());
        }
        if ((pick -= 1) < 0) {
            return new Op.Readlink(anyPath());
        }
        if ((pick -= 2) < 0) {
            return new Op.Chmod(anyPath(), MODES[random.nextInt(MODES.length)]);
        }
        if ((pick -= 2) < 0) {
            int[] ids = {0, 1000, 65534};
            return new Op.Chown(anyPath(), ids[random.nextInt(ids.length)], ids[random.nextInt(ids.length)]);
        }
        if ((pick -= 2) < 0) {
            long atime = time();
            return new Op.Utimens(anyPath(), atime, random.nextInt(3) == 0, time());
        }
        if ((pick -= 4) < 0) {
            // ext4 keeps all of an inode's xattrs in one 4 KiB block and answers ENOSPC beyond it,
            // a limit of its own; three values of at most 1100 bytes stay under it.
            int length = random.nextInt(10) == 0 ? random.nextInt(1100) : random.nextInt(60);
            return new Op.SetXattr(anyPath(), xattrName(), length, random.nextLong(), random.nextInt(3));
        }
        if ((pick -= 1) < 0) {
            return new Op.GetXattr(anyPath(), xattrName());
        }
        if ((pick -= 1) < 0) {
            return new Op.RemoveXattr(anyPath(), xattrName());
        }
        return new Op.Write(slot(), offset(), length(), random.nextLong());
    }

    /**
     * Descriptor slots most likely open (the generator does not know which opens succeed); drawing
     * from them makes most descriptor operations reach the filesystem instead of an empty slot.
     */
    private int slot() {
        if (!recentlyOpened.isEmpty() && random.nextInt(5) != 0) {
            return recentlyOpened.get(random.nextInt(recentlyOpened.size()));
        }
        return random.nextInt(SLOTS);
    }

    private String join(String parent, String name) {
        return parent.isEmpty() ? name : parent + "/" + name;
    }

    private String parent() {
        return PARENTS.get(random.nextInt(PARENTS.size()));
    }

    private String filePath() {
        if (random.nextInt(8) == 0) {
            return anyPath();
        }
        return join(parent(), FILE_NAMES.get(random.nextInt(FILE_NAMES.size())));
    }

    /** Half the time one of the directories the other names live in, so that they keep coming back. */
    private String dirPath() {
        if (random.nextBoolean()) {
            return PARENTS.get(1 + random.nextInt(PARENTS.size() - 1));
        }
        return join(parent(), DIR_NAMES.get(random.nextInt(DIR_NAMES.size())));
    }

    private String anyPath() {
        return join(parent(), ALL_NAMES.get(random.nextInt(ALL_NAMES.size())));
    }

    private String xattrName() {
        return XATTR_NAMES.get(random.nextInt(XATTR_NAMES.size()));
    }

    private int openFlags() {
        int flags = switch (random.nextInt(4)) {
            case 0 -> 0;
            case 1 -> 1;
            default -> 2;
        };
        if (random.nextInt(10) < 7) {
            flags |= 0100;
        }
        if (random.nextInt(7) == 0) {
            flags |= 0200;
        }
        if (random.nextInt(7) == 0) {
            flags |= 01000;
        }
        if (random.nextInt(7) == 0) {
            flags |= 02000;
        }
        return flags;
    }

    /** Offsets near the start, on and around block boundaries, and far past the end of most files. */
    private long offset() {
        return switch (random.nextInt(8)) {
            case 0 -> random.nextInt(10_000);
            case 1, 2, 3, 4 -> Math.max(0, (long) random.nextInt(64) * BLOCK + random.nextInt(7) - 3);
            case 5, 6 -> random.nextInt(300_000);
            default -> random.nextInt(4 << 20);
        };
    }

    private long smallOffset() {
        return random.nextInt(3) == 0 ? random.nextInt(4 * BLOCK) : Math.max(0, (long) random.nextInt(16) * BLOCK + random.nextInt(3) - 1);
    }

    /** Write and read sizes: tiny, block-crossing, and now and then up to 1 MiB. */
    private int length() {
        return switch (random.nextInt(20)) {
            case 0 -> 1 + random.nextInt(1 << 20);
            case 1, 2, 3 -> BLOCK + random.nextInt(9) - 4;
            case 4, 5, 6 -> 1 + random.nextInt(3 * BLOCK);
            case 7 -> 0;
            default -> 1 + random.nextInt(700);
        };
    }

    /** Sizes to truncate to: zero, unaligned, aligned, larger than most files. */
    private long size() {
        return switch (random.nextInt(6)) {
            case 0 -> 0;
            case 1 -> random.nextInt(BLOCK * 3);
            case 2 -> (long) random.nextInt(32) * BLOCK;
            case 3 -> Math.max(0, (long) random.nextInt(32) * BLOCK + random.nextInt(7) - 3);
            default -> random.nextInt(3 << 20);
        };
    }

    /** Timestamps with nanoseconds, occasionally before 1970. */
    private long time() {
        long seconds = random.nextInt(20) == 0 ? -random.nextInt(1_000_000_000) : random.nextInt(2_000_000_000);
        return seconds * 1_000_000_000L + random.nextInt(1_000_000_000);
    }
}
