package dev.sqlitesuperfs.cli;

import dev.sqlitesuperfs.sys.Libc;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.OptionalLong;

/**
 * Which process serves which mount directory: a pid file per mount under a runtime directory, so
 * that {@code sqlitesuperfs unmount} can wait until the serving process has stored everything.
 */
final class MountRegistry {
    private MountRegistry() {}

    static void register(Path mountPoint) {
        try {
            Path file = fileFor(mountPoint);
            Files.createDirectories(file.getParent());
            Files.writeString(file, ProcessHandle.current().pid() + "\n", StandardCharsets.US_ASCII);
        } catch (IOException e) {
            // Only `unmount` waiting for us depends on it; the mount itself is fine without.
            org.slf4j.LoggerFactory.getLogger(MountRegistry.class)
                    .warn("cannot record this mount for `sqlitesuperfs unmount`: {}", e.getMessage());
        }
    }

    static void unregister(Path mountPoint) {
        try {
            Files.deleteIfExists(fileFor(mountPoint));
        } catch (IOException e) {
            org.slf4j.LoggerFactory.getLogger(MountRegistry.class).debug("removing pid file: {}", e.getMessage());
        }
    }

    /** The pid serving {@code mountPoint}, if recorded and still alive. */
    static OptionalLong pidOf(Path mountPoint) {
        try {
            String text = Files.readString(fileFor(mountPoint), StandardCharsets.US_ASCII).trim();
            long pid = Long.parseLong(text);
            return ProcessHandle.of(pid).isPresent() ? OptionalLong.of(pid) : OptionalLong.empty();
        } catch (IOException | NumberFormatException e) {
            return OptionalLong.empty();
        }
    }

    private static Path fileFor(Path mountPoint) {
        String key = mountPoint.toAbsolutePath().normalize().toString();
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
            return runtimeDir().resolve(HexFormat.of().formatHex(digest, 0, 16) + ".pid");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 missing from the JDK", e);
        }
    }

    private static Path runtimeDir() {
        if (Libc.geteuid() == 0) {
            return Path.of("/run/sqlitesuperfs");
        }
        String xdg = System.getenv("XDG_RUNTIME_DIR");
        if (xdg != null && !xdg.isBlank()) {
            return Path.of(xdg, "sqlitesuperfs");
        }
        return Path.of(System.getProperty("java.io.tmpdir"), "sqlitesuperfs-" + Libc.geteuid());
    }
}
