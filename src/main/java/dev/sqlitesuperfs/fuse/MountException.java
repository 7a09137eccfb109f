package dev.sqlitesuperfs.fuse;

import java.io.IOException;

/**
 * Mounting or unmounting failed: no /dev/fuse, permission denied, a missing mount point, no
 * fusermount3, a kernel that speaks too old a protocol. The message is one line meant for a user.
 */
public final class MountException extends IOException {
    public MountException(String message) {
        super(message);
    }

    public MountException(String message, Throwable cause) {
        super(message, cause);
    }
}
