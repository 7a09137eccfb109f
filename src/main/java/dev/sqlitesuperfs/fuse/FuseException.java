package dev.sqlitesuperfs.fuse;

/**
 * Ends a request with an errno. Thrown by {@link FuseFilesystem} implementations; the protocol
 * layer turns it into the reply. It carries no stack trace: it is control flow, and ENOENT on a
 * lookup is the common case, not an accident.
 */
public final class FuseException extends RuntimeException {
    private final int errno;

    public FuseException(int errno) {
        this(errno, null);
    }

    public FuseException(int errno, String message) {
        super(message, null, false, false);
        if (errno <= 0) {
            throw new IllegalArgumentException("errno must be positive: " + errno);
        }
        this.errno = errno;
    }

    public int errno() {
        return errno;
    }

    @Override
    public String getMessage() {
        String m = super.getMessage();
        return m == null ? "errno " + errno : m + " (errno " + errno + ")";
    }
}
