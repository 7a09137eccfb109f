package dev.sqlitesuperfs.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/** Reads /proc/self/mountinfo: what is mounted where. */
final class MountTable {
    record Mount(Path mountPoint, String fsType, String source) {}

    private MountTable() {}

    static Optional<Mount> find(Path mountPoint) {
        Path wanted = mountPoint.toAbsolutePath().normalize();
        Mount found = null;
        for (Mount m : read()) {
            if (m.mountPoint().equals(wanted)) {
                found = m; // the last one listed is the one on top
            }
        }
        return Optional.ofNullable(found);
    }

    static List<Mount> read() {
        List<String> lines;
        try {
            lines = Files.readAllLines(Path.of("/proc/self/mountinfo"));
        } catch (IOException e) {
            throw new CliException(ExitCode.INTERNAL, "cannot read /proc/self/mountinfo: " + e.getMessage());
        }
        return lines.stream().map(MountTable::parse).flatMap(Optional::stream).toList();
    }

    private static Optional<Mount> parse(String line) {
        String[] f = line.split(" ");
        int dash = -1;
        for (int i = 6; i < f.length; i++) {
            if (f[i].equals("-")) {
                dash = i;
                break;
            }
        }
        if (f.length < 5 || dash < 0 || dash + 2 >= f.length) {
            return Optional.empty();
        }
        return Optional.of(new Mount(Path.of(unescape(f[4])), f[dash + 1], unescape(f[dash + 2])));
    }

    /** mountinfo writes space, tab, newline and backslash as three-digit octal escapes. */
    static String unescape(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 3 < s.length()
                    && s.substring(i + 1, i + 4).chars().allMatch(ch -> ch >= '0' && ch <= '7')) {
                sb.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
                i += 3;
            } else {
                sb.append(c);
            }
        }
        return sb.toString();
    }
}
