package dev.sqlitesuperfs.fuse;

import dev.sqlitesuperfs.sys.Libc;

/**
 * How a session mounts and unmounts: with mount(2) and umount2(2) directly, which needs root, or
 * through the setuid helper fusermount3, which any user may run. Tests force the fusermount3 way
 * while running as root, and point either way at missing programs or devices to see those failures.
 *
 * @param viaFusermount true to go through {@code fusermount}, false for the system calls
 * @param fusermount    the helper program, looked up on PATH
 * @param device        the FUSE device the system-call way opens
 */
record MountMethod(boolean viaFusermount, String fusermount, String device) {
    static final String FUSERMOUNT3 = "fusermount3";
    static final String DEV_FUSE = "/dev/fuse";
    static final MountMethod SYSCALLS = new MountMethod(false, FUSERMOUNT3, DEV_FUSE);

    static MountMethod forCurrentUser() {
        return Libc.geteuid() == 0 ? SYSCALLS : fusermount(FUSERMOUNT3);
    }

    static MountMethod fusermount(String program) {
        return new MountMethod(true, program, DEV_FUSE);
    }

    static MountMethod syscalls(String device) {
        return new MountMethod(false, FUSERMOUNT3, device);
    }
}
