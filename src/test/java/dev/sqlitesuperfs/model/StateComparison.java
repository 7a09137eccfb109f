package dev.sqlitesuperfs.model;

import dev.sqlitesuperfs.testing.Posix;
import dev.sqlitesuperfs.testing.Posix.ErrnoException;
import dev.sqlitesuperfs.testing.Posix.Stat;
import java.io.File;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;

/**
 * What must be equal between the mount and the reference: file type, permission bits, link count,
 * size (not of directories, whose size is the filesystem's business), owner, group, contents,
 * directory listings and user xattrs as sets, symlink targets; the mtime only right after it was set
 * explicitly. Never inode or device numbers, ctime, atime or block counts.
 */
final class StateComparison {
    private static final int S_IFMT = 0170000;
    private static final int S_IFDIR = 0040000;
    private static final int S_IFLNK = 0120000;

    private final FsSide mount;
    private final FsSide reference;

    StateComparison(FsSide mount, FsSide reference) {
        this.mount = mount;
        this.reference = reference;
    }

    /** The first difference at {@code relative}, if any. */
    Optional<String> path(String relative, boolean withMtime) {
        String name = relative.isEmpty() ? "/" : relative;
        Object m = stat(mount.path(relative));
        Object r = stat(reference.path(relative));
        if (m instanceof String || r instanceof String) {
            return differ(name + ": lstat", m, r);
        }
        Stat ms = (Stat) m;
        Stat rs = (Stat) r;
        Optional<String> attrs = differ(name + ": attributes", attributes(ms, withMtime), attributes(rs, withMtime));
        if (attrs.isPresent()) {
            return attrs;
        }
        Optional<String> xattrs = differ(name + ": xattrs", xattrs(mount.path(relative)), xattrs(reference.path(relative)));
        if (xattrs.isPresent()) {
            return xattrs;
        }
        return switch (ms.mode() & S_IFMT) {
            case S_IFDIR -> differ(name + ": listing", listing(mount.path(relative)), listing(reference.path(relative)));
            case S_IFLNK -> differ(name + ": target", readlink(mount.path(relative)), readlink(reference.path(relative)));
            default -> FsSide.isRegular(ms.mode())
                    ? contents(relative, readFile(mount.path(relative)), readFile(reference.path(relative)))
                    : Optional.empty();
        };
    }

    /** The file open in {@code slot} on both sides (it may have no name any more). */
    Optional<String> slot(int slot) {
        int mfd = mount.fd(slot);
        int rfd = reference.fd(slot);
        if (mfd < 0 || rfd < 0) {
            return mfd < 0 == rfd < 0 ? Optional.empty() : Optional.of("fd" + slot + " open on one side only");
        }
        Stat ms = Posix.fstat(mfd);
        Stat rs = Posix.fstat(rfd);
        Optional<String> attrs = differ("fd" + slot + ": attributes", attributes(ms, false), attributes(rs, false));
        if (attrs.isPresent() || !FsSide.isRegular(ms.mode())) {
            return attrs;
        }
        return contents("fd" + slot, FsSide.contentsOf(mfd), FsSide.contentsOf(rfd));
    }

    /** Every name under the roots, recursively. */
    Optional<String> tree() {
        return tree("");
    }

    private Optional<String> tree(String relative) {
        Optional<String> here = path(relative, false);
        if (here.isPresent()) {
            return here;
        }
        Object stat = stat(mount.path(relative));
        if (stat instanceof Stat s && (s.mode() & S_IFMT) == S_IFDIR) {
            for (String name : listing(mount.path(relative))) {
                Optional<String> below = tree(relative.isEmpty() ? name : relative + "/" + name);
                if (below.isPresent()) {
                    return below;
                }
            }
        }
        return Optional.empty();
    }

    private static Optional<String> differ(String what, Object m, Object r) {
        return m.equals(r) ? Optional.empty() : Optional.of(what + ": mount " + m + ", reference " + r);
    }

    private static Optional<String> contents(String what, byte[] m, byte[] r) {
        if (Arrays.equals(m, r)) {
            return Optional.empty();
        }
        int first = Arrays.mismatch(m, r);
        return Optional.of(what + ": contents differ from byte " + first + " (mount " + m.length + " bytes, reference "
                + r.length + " bytes; mount " + window(m, first) + ", reference " + window(r, first) + ")");
    }

    private static String window(byte[] b, int from) {
        if (from >= b.length) {
            return "ends there";
        }
        return "has " + java.util.HexFormat.of().formatHex(b, from, Math.min(b.length, from + 8)) + "...";
    }

    private static Object stat(Path p) {
        try {
            return Posix.lstat(p);
        } catch (ErrnoException e) {
            return Errnos.name(e.errno);
        }
    }

    private static String attributes(Stat s, boolean withMtime) {
        boolean dir = (s.mode() & S_IFMT) == S_IFDIR;
        return "type 0" + Integer.toOctalString(s.mode() & S_IFMT) + " mode 0" + Integer.toOctalString(s.mode() & 07777)
                + " nlink " + s.nlink() + (dir ? "" : " size " + s.size()) + " uid " + s.uid() + " gid " + s.gid()
                + (withMtime ? " mtime " + s.mtimeNs() : "");
    }

    private static Object xattrs(Path p) {
        try {
            TreeSet<String> names = new TreeSet<>();
            for (String name : Posix.listxattr(p)) {
                if (name.startsWith("user.")) {
                    names.add(name + "=" + FsSide.describe(Posix.getxattr(p, name)));
                }
            }
            return names;
        } catch (ErrnoException e) {
            return Errnos.name(e.errno);
        }
    }

    static TreeSet<String> listing(Path dir) {
        String[] names = new File(dir.toString()).list();
        return names == null ? new TreeSet<>(List.of("<unreadable>")) : new TreeSet<>(Arrays.asList(names));
    }

    private static String readlink(Path p) {
        try {
            return Posix.readlink(p);
        } catch (ErrnoException e) {
            return Errnos.name(e.errno);
        }
    }

    private static byte[] readFile(Path p) {
        int fd = Posix.open(p, Posix.O_RDONLY, 0);
        try {
            return FsSide.readAll(fd);
        } finally {
            Posix.close(fd);
        }
    }

    static List<String> numbered(List<Op> ops) {
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < ops.size(); i++) {
            lines.add(String.format("%4d  %s", i + 1, ops.get(i)));
        }
        return lines;
    }
}
