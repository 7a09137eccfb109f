package dev.sqlitesuperfs.fuse;

/**
 * A POSIX byte-range lock as the kernel describes it ({@code struct fuse_file_lock}): bytes
 * {@code start} to {@code end} inclusive ({@link #TO_END} for "to the end of the file"), its type
 * and the holder's process.
 */
public record FileLock(long start, long end, int type, int pid) {
    public static final int READ = 0;
    public static final int WRITE = 1;
    public static final int UNLOCK = 2;
    /** The end of a lock that reaches past any end of the file (OFFSET_MAX). */
    public static final long TO_END = Long.MAX_VALUE;

    /** The answer to a test that finds nothing in the way. */
    public static FileLock none(long start, long end) {
        return new FileLock(start, end, UNLOCK, 0);
    }
}
