package dev.sqlitesuperfs.fuse;

import dev.sqlitesuperfs.sys.Libc;
import dev.sqlitesuperfs.sys.SysException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Creates and removes the kernel mount, and with it the /dev/fuse descriptor the session serves.
 * Knows the option strings of both ways to mount; knows nothing about requests.
 */
final class Mounter {
    private static final Logger log = LoggerFactory.getLogger(Mounter.class);

    private static final String COMMFD_VARIABLE = "_FUSE_COMMFD";

    private static final int EPERM = 1;
    private static final int ENOENT = 2;
    private static final int ENXIO = 6;
    private static final int EACCES = 13;
    private static final int EBUSY = 16;
    private static final int ENODEV = 19;
    private static final int ENOTDIR = 20;
    private static final int EINVAL = 22;

    /** A live mount: the descriptor to serve and the mount's device ("major:minor" in mountinfo). */
    record Mounted(int fd, String device) {}

    private Mounter() {}

    /** Mounts on {@code mountPoint}, which must be an absolute path free of symbolic links. */
    static Mounted mount(MountOptions options, Path mountPoint, MountMethod method) throws MountException {
        int fd = method.viaFusermount()
                ? mountWithFusermount(options, mountPoint, method.fusermount())
                : mountWithSyscall(options, mountPoint, method.device());
        String fsType = fsType(options);
        var mount = MountTable.find(mountPoint, fsType);
        if (mount.isEmpty()) {
            closeQuietly(fd);
            throw new MountException("cannot mount " + mountPoint + ": the new " + fsType
                    + " mount does not show in /proc/self/mountinfo");
        }
        return new Mounted(fd, mount.get().device());
    }

    /**
     * Checks, without mounting, what a mount on {@code mountPoint} will need: the FUSE device, and
     * for fusermount3 the program on PATH and write access to the directory. So that a mount that
     * cannot work fails before anything else (creating a namespace, say) has happened.
     */
    static void checkPrerequisites(Path mountPoint, MountMethod method) throws MountException {
        if (method.viaFusermount()) {
            if (findOnPath(method.fusermount()) == null) {
                throw new MountException("cannot mount " + mountPoint + ": " + method.fusermount()
                        + " not found on PATH (Debian package fuse3)");
            }
            if (!Files.isWritable(mountPoint)) {
                throw new MountException("cannot mount " + mountPoint + ": " + method.fusermount()
                        + " mounts only on directories the user (uid " + Integer.toUnsignedString(Libc.getuid())
                        + ") may write to");
            }
        }
        closeQuietly(openDevice(mountPoint, method.device()));
    }

    private static Path findOnPath(String program) {
        String path = System.getenv("PATH");
        if (program.contains("/") || path == null) {
            return program.contains("/") && Files.isExecutable(Path.of(program)) ? Path.of(program) : null;
        }
        for (String dir : path.split(":")) {
            Path candidate = Path.of(dir.isEmpty() ? "." : dir, program);
            if (Files.isExecutable(candidate)) {
                return candidate;
            }
        }
        return null;
    }

    static String fsType(MountOptions options) {
        return "fuse." + options.subtype();
    }

    /** The data argument of mount(2) for a FUSE mount served through descriptor {@code fd}. */
    static String syscallData(MountOptions options, int fd) {
        List<String> parts = new ArrayList<>();
        parts.add("fd=" + fd);
        parts.add("rootmode=40000");
        parts.add("user_id=" + Integer.toUnsignedString(options.ownerUid()));
        parts.add("group_id=" + Integer.toUnsignedString(options.ownerGid()));
        if (options.defaultPermissions()) {
            parts.add("default_permissions");
        }
        if (options.allowOther()) {
            parts.add("allow_other");
        }
        for (String option : options.extraOptions()) {
            if (!MOUNT_FLAGS.containsKey(option)) {
                parts.add(option);
            }
        }
        return String.join(",", parts);
    }

    private static final long MS_NOEXEC = 8;
    private static final long MS_SYNCHRONOUS = 16;
    private static final long MS_DIRSYNC = 128;

    /**
     * Generic mount options that mount(2) takes as flags rather than as FUSE parameters (the
     * kernel would refuse them in the data string); fusermount3 translates the same names itself.
     * A positive value is set, a negative one cleared.
     */
    private static final Map<String, Long> MOUNT_FLAGS = Map.of(
            "noexec", MS_NOEXEC, "exec", -MS_NOEXEC,
            "sync", MS_SYNCHRONOUS, "async", -MS_SYNCHRONOUS,
            "dirsync", MS_DIRSYNC,
            "atime", -Libc.MS_NOATIME, "noatime", Libc.MS_NOATIME,
            "nosuid", Libc.MS_NOSUID, "nodev", Libc.MS_NODEV);

    static long syscallFlags(MountOptions options) {
        long flags = Libc.MS_NOSUID | Libc.MS_NODEV | Libc.MS_NOATIME;
        for (String option : options.extraOptions()) {
            Long flag = MOUNT_FLAGS.get(option);
            if (flag != null) {
                flags = flag > 0 ? flags | flag : flags & ~(-flag);
            }
        }
        return options.readOnly() ? flags | Libc.MS_RDONLY : flags;
    }

    /** The -o argument of fusermount3; it adds fd, rootmode, user_id and group_id itself. */
    static String fusermountOptions(MountOptions options) {
        List<String> parts = new ArrayList<>();
        parts.add("fsname=" + escapeOptionValue(options.fsName()));
        parts.add("subtype=" + escapeOptionValue(options.subtype()));
        parts.add("nosuid");
        parts.add("nodev");
        parts.add("noatime");
        parts.add(options.readOnly() ? "ro" : "rw");
        if (options.defaultPermissions()) {
            parts.add("default_permissions");
        }
        if (options.allowOther()) {
            parts.add("allow_other");
        }
        parts.addAll(options.extraOptions());
        return String.join(",", parts);
    }

    /** fusermount3 splits options at commas; a backslash makes the next character literal. */
    static String escapeOptionValue(String value) {
        return value.replace("\\", "\\\\").replace(",", "\\,");
    }

    private static int openDevice(Path mountPoint, String device) throws MountException {
        try {
            return Libc.open(device, Libc.O_RDWR | Libc.O_CLOEXEC);
        } catch (SysException e) {
            throw new MountException("cannot mount " + mountPoint + ": " + switch (e.errno()) {
                case ENOENT, ENODEV, ENXIO -> device + " is missing (is the fuse kernel module loaded?)";
                case EACCES, EPERM -> "permission denied opening " + device;
                default -> e.getMessage();
            }, e);
        }
    }

    private static int mountWithSyscall(MountOptions options, Path mountPoint, String device)
            throws MountException {
        int fd = openDevice(mountPoint, device);
        try {
            Libc.mount(options.fsName(), mountPoint, fsType(options), syscallFlags(options),
                    syscallData(options, fd));
            return fd;
        } catch (SysException e) {
            closeQuietly(fd);
            throw new MountException(switch (e.errno()) {
                case EPERM, EACCES -> e.getMessage() + "; mounting directly needs root, fusermount3 does not";
                case ENOENT, ENOTDIR -> "cannot mount " + mountPoint + ": the mount point is not a directory";
                case ENODEV -> "cannot mount " + mountPoint + ": the kernel has no FUSE support";
                default -> e.getMessage();
            }, e);
        }
    }

    private static int mountWithFusermount(MountOptions options, Path mountPoint, String program)
            throws MountException {
        int uid = Libc.getuid();
        int gid = Libc.getgid();
        if (options.ownerUid() != uid || options.ownerGid() != gid) {
            throw new MountException("cannot mount " + mountPoint + ": " + program
                    + " makes the calling user (uid " + Integer.toUnsignedString(uid) + ", gid "
                    + Integer.toUnsignedString(gid) + ") the owner, not uid "
                    + Integer.toUnsignedString(options.ownerUid()) + ", gid "
                    + Integer.toUnsignedString(options.ownerGid()));
        }
        Path errors = null;
        int[] pair = null;
        try {
            errors = Files.createTempFile("sqlitesuperfs-fusermount", ".err");
            pair = Libc.socketpair(Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, 0);
            Map<String, String> environment = new TreeMap<>(System.getenv());
            environment.put(COMMFD_VARIABLE, Integer.toString(pair[1]));
            List<String> command = List.of(program, "-o", fusermountOptions(options), "--", mountPoint.toString());
            int pid;
            try {
                pid = Libc.spawn(command, environment, new int[] {pair[1]}, errors);
            } catch (SysException e) {
                throw new MountException("cannot mount " + mountPoint + ": "
                        + (e.errno() == ENOENT ? program + " not found on PATH" : e.getMessage()), e);
            } finally {
                // Only the child may hold this end, so its exit shows here as end of file.
                closeQuietly(pair[1]);
            }
            int fd = Libc.receiveFd(pair[0]);
            int exitCode = Libc.exitCode(Libc.waitpid(pid));
            if (fd >= 0 && exitCode == 0) {
                return fd;
            }
            if (fd >= 0) {
                closeQuietly(fd);
            }
            String complaint = firstLine(errors);
            String hint = complaint.contains("/dev/fuse: Permission denied")
                    ? " (/dev/fuse must be usable by every user, as udev normally sets it: chmod 0666 /dev/fuse as root)"
                    : "";
            throw new MountException("cannot mount " + mountPoint + ": " + program + " failed"
                    + (complaint.isEmpty() ? " with exit code " + exitCode : ": " + complaint) + hint);
        } catch (IOException e) {
            if (e instanceof MountException mountFailure) {
                throw mountFailure;
            }
            throw new MountException("cannot mount " + mountPoint + ": " + e.getMessage(), e);
        } finally {
            if (pair != null) {
                closeQuietly(pair[0]);
            }
            deleteQuietly(errors);
        }
    }

    /**
     * Unmounts. A busy mount is detached instead: it leaves the directory tree at once and lives
     * on until its last user lets go.
     *
     * @return true when the mount was detached rather than unmounted
     */
    static boolean unmount(Path mountPoint, MountMethod method) throws MountException {
        return method.viaFusermount()
                ? unmountWithFusermount(mountPoint, method.fusermount())
                : unmountWithSyscall(mountPoint);
    }

    /**
     * Unmounts a mount this process may not be serving; a busy one is refused, not detached, so
     * nobody's open files are cut off behind their back.
     */
    static void unmountIfIdle(Path mountPoint, MountMethod method) throws MountException {
        if (method.viaFusermount()) {
            String complaint = runFusermount(method.fusermount(), "-u", mountPoint);
            if (complaint != null) {
                throw new MountException("cannot unmount " + mountPoint + ": " + complaint);
            }
            return;
        }
        try {
            Libc.umount2(mountPoint, 0);
        } catch (SysException e) {
            throw new MountException(e.errno() == EBUSY
                    ? mountPoint + " is busy: files on it are open, or a process works in it"
                    : "cannot unmount " + mountPoint + ": " + e.getMessage(), e);
        }
    }

    private static boolean unmountWithSyscall(Path mountPoint) throws MountException {
        try {
            Libc.umount2(mountPoint, 0);
            return false;
        } catch (SysException e) {
            if (e.errno() == EINVAL) {
                return false;
            }
            if (e.errno() != EBUSY) {
                throw new MountException("cannot unmount " + mountPoint + ": " + e.getMessage(), e);
            }
        }
        log.info("{} is busy; detaching it", mountPoint);
        try {
            Libc.umount2(mountPoint, Libc.MNT_DETACH);
            return true;
        } catch (SysException e) {
            throw new MountException("cannot unmount " + mountPoint + ": " + e.getMessage(), e);
        }
    }

    private static boolean unmountWithFusermount(Path mountPoint, String program) throws MountException {
        String complaint = runFusermount(program, "-u", mountPoint);
        if (complaint == null) {
            return false;
        }
        log.info("{} -u {} failed ({}); detaching it", program, mountPoint, complaint);
        complaint = runFusermount(program, "-uz", mountPoint);
        if (complaint == null) {
            return true;
        }
        throw new MountException("cannot unmount " + mountPoint + ": " + program + " failed: " + complaint);
    }

    /** Runs fusermount3 for an unmount; returns null on success, else what it said. */
    private static String runFusermount(String program, String flag, Path mountPoint) throws MountException {
        try {
            Process process = new ProcessBuilder(program, flag, "--", mountPoint.toString())
                    .redirectErrorStream(true)
                    .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
                    .start();
            String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            int exitCode = process.waitFor();
            if (exitCode == 0) {
                return null;
            }
            return output.isEmpty() ? "exit code " + exitCode : output.lines().findFirst().orElse(output);
        } catch (IOException e) {
            throw new MountException("cannot unmount " + mountPoint + ": cannot run " + program + ": "
                    + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MountException("cannot unmount " + mountPoint + ": interrupted while " + program + " ran", e);
        }
    }

    private static String firstLine(Path file) {
        try {
            return Files.readString(file).strip().lines().findFirst().orElse("");
        } catch (IOException e) {
            return "";
        }
    }

    static void closeQuietly(int fd) {
        try {
            Libc.close(fd);
        } catch (SysException e) {
            log.warn("closing descriptor {} failed: {}", fd, e.getMessage());
        }
    }

    private static void deleteQuietly(Path file) {
        if (file == null) {
            return;
        }
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            log.warn("cannot delete {}: {}", file, e.getMessage());
        }
    }
}
