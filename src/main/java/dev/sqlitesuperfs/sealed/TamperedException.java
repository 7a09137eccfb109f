package dev.sqlitesuperfs.sealed;

/**
 * A stored payload failed authentication: it was changed, moved or replaced outside this program.
 * Its bytes are never returned. Already logged (once, naming namespace, inode and position) when
 * thrown; the filesystem answers the affected call with EIO.
 */
public final class TamperedException extends RuntimeException {
    public TamperedException(String message) {
        super(message, null, false, false);
    }
}
