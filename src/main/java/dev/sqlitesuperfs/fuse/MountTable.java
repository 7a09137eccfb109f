package dev.sqlitesuperfs.fuse;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The mounts this process sees, from /proc/self/mountinfo. Used to learn the device of a fresh
 * mount and later to tell whether that very mount is still there, without touching the mount
 * itself (a stat of the mount root would be a request to the filesystem, which may not be served).
 */
final class MountTable {
    private static final Path MOUNTINFO = Path.of("/proc/self/mountinfo");

    /** One line of mountinfo: {@code device} is "major:minor", unique per FUSE connection. */
    record Mount(String device, Path mountPoint, String fsType, String source) {}

    private MountTable() {}

    static List<Mount> read() {
        try {
            return parse(Files.readAllLines(MOUNTINFO));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + MOUNTINFO, e);
        }
    }

    static List<Mount> parse(List<String> lines) {
        List<Mount> mounts = new ArrayList<>(lines.size());
        for (String line : lines) {
            String[] fields = line.split(" ");
            int separator = List.of(fields).indexOf("-");
            if (fields.length < 5 || separator < 0 || separator + 2 >= fields.length) {
                continue;
            }
            mounts.add(new Mount(fields[2], Path.of(unescape(fields[4])), unescape(fields[separator + 1]),
                    unescape(fields[separator + 2])));
        }
        return mounts;
    }

    /** The topmost mount of type {@code fsType} on {@code mountPoint}. */
    static Optional<Mount> find(Path mountPoint, String fsType) {
        Mount found = null;
        for (Mount mount : read()) {
            if (mount.mountPoint().equals(mountPoint) && mount.fsType().equals(fsType)) {
                found = mount;
            }
        }
        return Optional.ofNullable(found);
    }

    /** The topmost mount of any type on {@code mountPoint}: the one an unmount would take off. */
    static Optional<Mount> top(Path mountPoint) {
        Mount found = null;
        for (Mount mount : read()) {
            if (mount.mountPoint().equals(mountPoint)) {
                found = mount;
            }
        }
        return Optional.ofNullable(found);
    }

    static boolean isMounted(Path mountPoint, String device) {
        return read().stream().anyMatch(m -> m.mountPoint().equals(mountPoint) && m.device().equals(device));
    }

    /** mountinfo writes space, tab, newline and backslash as three-digit octal escapes. */
    static String unescape(String field) {
        if (field.indexOf('\\') < 0) {
            return field;
        }
        StringBuilder out = new StringBuilder(field.length());
        for (int i = 0; i < field.length(); i++) {
            char c = field.charAt(i);
            if (c == '\\' && isOctal(field, i + 1)) {
                out.append((char) Integer.parseInt(field.substring(i + 1, i + 4), 8));
                i += 3;
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }

    private static boolean isOctal(String s, int from) {
        if (from + 3 > s.length()) {
            return false;
        }
        for (int i = from; i < from + 3; i++) {
            if (s.charAt(i) < '0' || s.charAt(i) > '7') {
                return false;
            }
        }
        return true;
    }
}
