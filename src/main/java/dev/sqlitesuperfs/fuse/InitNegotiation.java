package dev.sqlitesuperfs.fuse;

import java.lang.foreign.MemorySegment;

/**
 * What this session answers to the kernel's INIT: the protocol version, and of the capabilities
 * the kernel offers, only those this session wants. Locks (POSIX and flock) stay in the kernel
 * unless the filesystem takes POSIX locks itself ({@link FuseFilesystem#posixLocks}), and
 * the kernel keeps applying the umask. Set-ID bits and security.capability are dropped by the
 * filesystem (HANDLE_KILLPRIV_V2): otherwise the kernel asks for security.capability before every
 * write, one round trip each.
 */
final class InitNegotiation {
    static final int MAJOR = 7;
    static final int MAX_MINOR = 38;
    /** 7.12 brought the umask fields and the final sizes of every structure this session uses. */
    static final int MIN_MINOR = 12;

    static final long INIT_EXT = 1L << 30;
    static final int MAX_READAHEAD_LIMIT = 1 << 20;
    static final int MAX_BACKGROUND = 64;
    static final int CONGESTION_THRESHOLD = 48;
    static final int PAGE_SIZE = 4096;

    private static final long ALWAYS_WANTED = KernelConnection.ASYNC_READ
            | KernelConnection.ATOMIC_O_TRUNC
            | KernelConnection.BIG_WRITES
            | KernelConnection.DO_READDIRPLUS
            | KernelConnection.READDIRPLUS_AUTO
            | KernelConnection.PARALLEL_DIROPS
            | KernelConnection.MAX_PAGES
            | KernelConnection.CACHE_SYMLINKS
            | KernelConnection.HANDLE_KILLPRIV_V2;

    private InitNegotiation() {}

    static long wantedFlags(MountOptions options) {
        return options.writebackCache() ? ALWAYS_WANTED | KernelConnection.WRITEBACK_CACHE : ALWAYS_WANTED;
    }

    /**
     * The connection both sides agree on, given what the kernel offered (minor at least
     * {@link #MIN_MINOR}); with {@code posixLocks} the filesystem also takes the POSIX locks.
     */
    static KernelConnection agree(int kernelMinor, int kernelMaxReadahead, long offeredFlags, MountOptions options,
            boolean posixLocks) {
        int minor = Math.min(kernelMinor, MAX_MINOR);
        long readahead = Math.min(Integer.toUnsignedLong(kernelMaxReadahead), MAX_READAHEAD_LIMIT);
        long flags = (wantedFlags(options) | (posixLocks ? KernelConnection.POSIX_LOCKS : 0)) & offeredFlags;
        return new KernelConnection(MAJOR, minor, flags, options.maxWrite(), (int) readahead);
    }

    /** Writes {@code struct fuse_init_out} for an agreed connection; returns its size. */
    static int putInitOut(MemorySegment out, long offset, KernelConnection connection) {
        out.asSlice(offset, Wire.InitOut.SIZE).fill((byte) 0);
        long flags = connection.flags();
        long low = flags & 0xffff_ffffL;
        long high = flags >>> 32;
        if (high != 0) {
            low |= INIT_EXT;
        }
        Wire.putU32(out, offset + Wire.InitOut.MAJOR, connection.major());
        Wire.putU32(out, offset + Wire.InitOut.MINOR, connection.minor());
        Wire.putU32(out, offset + Wire.InitOut.MAX_READAHEAD, connection.maxReadahead());
        Wire.putU32(out, offset + Wire.InitOut.FLAGS, (int) low);
        Wire.putU16(out, offset + Wire.InitOut.MAX_BACKGROUND, MAX_BACKGROUND);
        Wire.putU16(out, offset + Wire.InitOut.CONGESTION_THRESHOLD, CONGESTION_THRESHOLD);
        Wire.putU32(out, offset + Wire.InitOut.MAX_WRITE, connection.maxWrite());
        Wire.putU32(out, offset + Wire.InitOut.TIME_GRAN, 1);
        if (connection.has(KernelConnection.MAX_PAGES)) {
            Wire.putU16(out, offset + Wire.InitOut.MAX_PAGES, Math.max(1, connection.maxWrite() / PAGE_SIZE));
        }
        Wire.putU32(out, offset + Wire.InitOut.FLAGS2, (int) high);
        return Wire.InitOut.SIZE;
    }

    /**
     * The answer to a kernel that speaks a newer major version: only our version, after which the
     * kernel sends INIT again in our major (the version negotiation rule in linux/fuse.h).
     */
    static int putVersionOnly(MemorySegment out, long offset) {
        out.asSlice(offset, Wire.InitOut.SIZE).fill((byte) 0);
        Wire.putU32(out, offset + Wire.InitOut.MAJOR, MAJOR);
        Wire.putU32(out, offset + Wire.InitOut.MINOR, MAX_MINOR);
        return Wire.InitOut.SIZE;
    }
}
