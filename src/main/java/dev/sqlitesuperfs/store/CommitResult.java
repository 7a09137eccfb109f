package dev.sqlitesuperfs.store;

import java.util.Map;

/**
 * What a committed {@link ChangeSet} did that the caller could not know in advance: for each inode
 * whose blocks it wrote or truncated, by how much its {@code nblocks} changed.
 */
public record CommitResult(Map<Long, Long> nblocksDelta) {
    public static final CommitResult EMPTY = new CommitResult(Map.of());

    public CommitResult {
        nblocksDelta = Map.copyOf(nblocksDelta);
    }

    public long nblocksDelta(long ino) {
        return nblocksDelta.getOrDefault(ino, 0L);
    }
}
