package dev.sqlitesuperfs.fs;

import dev.sqlitesuperfs.fuse.Caller;
import dev.sqlitesuperfs.sys.FileType;

/**
 * The classic owner/group/other permission check, for ACCESS requests. With default_permissions
 * (this project's default) the kernel checks permissions itself, including supplementary groups,
 * and never sends ACCESS; this serves mounts without it, knowing only the caller's primary group.
 */
final class Permissions {
    private Permissions() {}

    /** @param mask R_OK (4), W_OK (2), X_OK (1) or F_OK (0) */
    static boolean allows(int mode, int uid, int gid, Caller caller, int mask) {
        if (mask == 0) {
            return true;
        }
        if (caller.uid() == 0) {
            // root may read and write anything, and execute what anyone may execute.
            return (mask & 1) == 0 || (mode & 0111) != 0 || (mode & FileType.MASK) == FileType.DIRECTORY;
        }
        int bits;
        if (caller.uid() == uid) {
            bits = (mode >> 6) & 7;
        } else if (caller.gid() == gid) {
            bits = (mode >> 3) & 7;
        } else {
            bits = mode & 7;
        }
        return (bits & mask) == mask;
    }
}
