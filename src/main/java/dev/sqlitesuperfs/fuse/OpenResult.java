package dev.sqlitesuperfs.fuse;

/** The answer to OPEN, OPENDIR and the open half of CREATE ({@code struct fuse_open_out}). */
public record OpenResult(long fh, int openFlags) {
    /** Bypass the page cache for this open file. */
    public static final int DIRECT_IO = 1;
    /** Do not drop the cached pages of the file on this open. */
    public static final int KEEP_CACHE = 1 << 1;
    public static final int NONSEEKABLE = 1 << 2;
    /** Let the kernel cache this directory's listing. */
    public static final int CACHE_DIR = 1 << 3;
    public static final int STREAM = 1 << 4;
    public static final int NOFLUSH = 1 << 5;
}
