package dev.sqlitesuperfs.sys;

import java.io.IOException;

/**
 * A system call failed. Carries the errno so callers can decide by value, and a message naming the
 * call and its subject, for example {@code mount(/mnt/x): Operation not permitted (errno 1)}.
 */
public final class SysException extends IOException {
    private final String call;
    private final int errno;

    public SysException(String call, int errno) {
        super(call + ": " + Libc.strerror(errno) + " (errno " + errno + ")");
        this.call = call;
        this.errno = errno;
    }

    /** The call and its subject, as in the message: {@code mount(/mnt/x)}. */
    public String call() {
        return call;
    }

    public int errno() {
        return errno;
    }
}
