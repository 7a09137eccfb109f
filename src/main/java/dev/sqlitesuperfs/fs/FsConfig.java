package dev.sqlitesuperfs.fs;

import dev.sqlitesuperfs.fuse.Errno;
import dev.sqlitesuperfs.fuse.FuseException;
import java.time.Duration;
import java.util.OptionalLong;
import java.util.function.Supplier;

/**
 * Settings of one mounted namespace.
 *
 * @param namespace       for log lines
 * @param blockSize       bytes per stored block (the namespace's)
 * @param cacheBytes      bound of the plaintext block cache
 * @param dirtyLimitBytes written-but-unstored data above which writers store their file at once
 * @param writebackDelay  how long written data may stay in memory without a durability point
 * @param cacheTtl        how long the kernel may trust names and attributes (the mount is the
 *                        only writer, so this can be long)
 * @param readOnly        refuse every change with EROFS
 * @param quotaBytes      capacity reported by statfs and enforced on writes; 0 = none
 * @param hostFreeBytes   free space where PostgreSQL keeps its data, when known (local server)
 * @param orderedJournals SQLite rollback journals kept in order in memory instead of stored at
 *                        each fsync (see {@link JournalOrdering})
 */
public record FsConfig(
        String namespace,
        int blockSize,
        long cacheBytes,
        long dirtyLimitBytes,
        Duration writebackDelay,
        Duration cacheTtl,
        boolean readOnly,
        long quotaBytes,
        Supplier<OptionalLong> hostFreeBytes,
        boolean orderedJournals) {

    /** Largest file: 2^44 bytes (16 TiB), what one namespace's block table can hold at 4 KiB blocks. */
    public static final long MAX_FILE_SIZE = 1L << 44;

    /** EROFS for a change to a read-only mount. */
    void requireWritable() {
        if (readOnly) {
            throw new FuseException(Errno.EROFS);
        }
    }

    public FsConfig {
        if (Integer.bitCount(blockSize) != 1 || blockSize < 4096 || blockSize > (1 << 20)) {
            throw new IllegalArgumentException("block size must be a power of two from 4096 to 1048576");
        }
        if (hostFreeBytes == null) {
            hostFreeBytes = OptionalLong::empty;
        }
    }
}
