package dev.sqlitesuperfs.cli;

import dev.sqlitesuperfs.sys.Libc;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * Which process serves which mount directory: a file per mount under a runtime directory, so that
 * {@code sqlitesuperfs unmount} can wait until the serving process has stored everything. The
 * file holds the serving process's pid and, for a mount a host serves, a second line
 * {@code socket=PATH} naming the host's control socket: such a mount is unmounted by asking the
 * host, whose process does not end with it.
 */
public final class MountRegistry {
    private static final String SOCKET_LINE = "socket=";
    /** Root's runtime directory, where a host running as root records its mounts. */
    private static final Path ROOT_RUNTIME_DIR = Path.of("/run/sqlitesuperfs");

    private MountRegistry() {}

    static void register(Path mountPoint) {
        write(mountPoint, ProcessHandle.current().pid() + "\n");
    }

    /** Records that this process, a host listening on {@code socket}, serves {@code mountPoint}. */
    public static void registerHosted(Path mountPoint, Path socket) {
        write(mountPoint, ProcessHandle.current().pid() + "\n" + SOCKET_LINE + socket.toAbsolutePath() + "\n");
    }

    private static void write(Path mountPoint, String content) {
        try {
            Path file = fileFor(runtimeDir(), mountPoint);
            Files.createDirectories(file.getParent());
            Files.writeString(file, content, StandardCharsets.UTF_8);
        } catch (IOException e) {
            // Only `unmount` waiting for us depends on it; the mount itself is fine without.
            org.slf4j.LoggerFactory.getLogger(MountRegistry.class)
                    .warn("cannot record this mount for `sqlitesuperfs unmount`: {}", e.getMessage());
        }
    }

    public static void unregister(Path mountPoint) {
        try {
            Files.deleteIfExists(fileFor(runtimeDir(), mountPoint));
        } catch (IOException e) {
            org.slf4j.LoggerFactory.getLogger(MountRegistry.class).debug("removing pid file: {}", e.getMessage());
        }
    }

    /** The pid serving {@code mountPoint}, if recorded and still alive. */
    static OptionalLong pidOf(Path mountPoint) {
        List<String> lines = read(fileFor(runtimeDir(), mountPoint));
        try {
            long pid = lines.isEmpty() ? -1 : Long.parseLong(lines.getFirst().trim());
            return pid > 0 && ProcessHandle.of(pid).isPresent() ? OptionalLong.of(pid) : OptionalLong.empty();
        } catch (NumberFormatException e) {
            return OptionalLong.empty();
        }
    }

    /**
     * The control socket of the live host that serves {@code mountPoint}, if one recorded it: in
     * this user's runtime directory, else in root's (a host usually runs as root, and the members
     * of its socket group unmount through it too).
     */
    static Optional<Path> hostSocketOf(Path mountPoint) {
        for (Path dir : Libc.geteuid() == 0 ? List.of(ROOT_RUNTIME_DIR) : List.of(runtimeDir(), ROOT_RUNTIME_DIR)) {
            List<String> lines = read(fileFor(dir, mountPoint));
            if (lines.size() >= 2 && lines.get(1).startsWith(SOCKET_LINE)) {
                try {
                    long pid = Long.parseLong(lines.getFirst().trim());
                    if (ProcessHandle.of(pid).isPresent()) {
                        return Optional.of(Path.of(lines.get(1).substring(SOCKET_LINE.length())));
                    }
                } catch (NumberFormatException e) {
                    // not a record this program wrote; treated as none
                }
            }
        }
        return Optional.empty();
    }

    private static List<String> read(Path file) {
        try {
            return Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return List.of();
        }
    }

    private static Path fileFor(Path dir, Path mountPoint) {
        String key = mountPoint.toAbsolutePath().normalize().toString();
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
            return dir.resolve(HexFormat.of().formatHex(digest, 0, 16) + ".pid");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 missing from the JDK", e);
        }
    }

    private static Path runtimeDir() {
        if (Libc.geteuid() == 0) {
            return ROOT_RUNTIME_DIR;
        }
        String xdg = System.getenv("XDG_RUNTIME_DIR");
        if (xdg != null && !xdg.isBlank()) {
            return Path.of(xdg, "sqlitesuperfs");
        }
        return Path.of(System.getProperty("java.io.tmpdir"), "sqlitesuperfs-" + Libc.geteuid());
    }
}
