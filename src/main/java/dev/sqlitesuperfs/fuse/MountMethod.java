package dev.sqlitesuperfs.fuse;

import dev.sqlitesuperfs.sys.Libc;

/**
 * How a session mounts and unmounts: with mount(2) and umount2(2) directly, which needs root, or
 * through the setuid helper fusermount3, which any user may run. Tests force the fusermount3 way
 * while running as root, and point it at a missing program to see that failure.
 *
 * @param viaFusermount true to go through {@code fusermount}, false for the system calls
 * @param fusermount    the helper program, looked up on PATH
 */
record MountMethod(boolean viaFusermount, String fusermount) {
    static final String FUSERMOUNT3 = "fusermount3";
    static final MountMethod SYSCALLS = new MountMethod(false, FUSERMOUNT3);

    static MountMethod forCurrentUser() {
        return Libc.geteuid() == 0 ? SYSCALLS : fusermount(FUSERMOUNT3);
    }

    static MountMethod fusermount(String program) {
        return new MountMethod(true, program);
    }
}
