package dev.sqlitesuperfs.fuse;

/**
 * What INIT settled with the kernel: the protocol minor version in use and the capability flags
 * (FUSE_* from linux/fuse.h) that both sides agreed on, so a filesystem can tell, for example,
 * whether the kernel's writeback cache is on.
 */
public record KernelConnection(int major, int minor, long flags, int maxWrite, int maxReadahead) {
    public static final long ASYNC_READ = 1L;
    public static final long POSIX_LOCKS = 1L << 1;
    public static final long ATOMIC_O_TRUNC = 1L << 3;
    public static final long BIG_WRITES = 1L << 5;
    public static final long DO_READDIRPLUS = 1L << 13;
    public static final long READDIRPLUS_AUTO = 1L << 14;
    public static final long WRITEBACK_CACHE = 1L << 16;
    public static final long PARALLEL_DIROPS = 1L << 18;
    public static final long MAX_PAGES = 1L << 22;
    public static final long CACHE_SYMLINKS = 1L << 23;
    public static final long HANDLE_KILLPRIV_V2 = 1L << 28;

    public boolean has(long flag) {
        return (flags & flag) == flag;
    }
}
