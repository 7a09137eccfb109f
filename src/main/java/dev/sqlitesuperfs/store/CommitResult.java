package dev.sqlitesuperfs.store;

import java.util.Map;

/**
 * What a committed {@link ChangeSet} did that the caller could not know in advance: the number of
 * stored blocks ({@code nblocks}) of each inode whose row or blocks the transaction changed. All
 * change sets of one transaction share one result.
 */
public record CommitResult(Map<Long, Long> nblocks) {
    public static final CommitResult EMPTY = new CommitResult(Map.of());

    public CommitResult {
        nblocks = Map.copyOf(nblocks);
    }

    /** The inode's stored block count after the commit, or {@code unchanged} if it did not touch it. */
    public long nblocks(long ino, long unchanged) {
        return nblocks.getOrDefault(ino, unchanged);
    }
}
