package dev.sqlitesuperfs.fuse;

/**
 * A name resolved to an inode ({@code struct fuse_entry_out}), with how long the kernel may cache
 * the name and the attributes. Every entry with a non-zero node id that reaches the kernel adds one
 * to that inode's lookup count, which the kernel later gives back through FORGET.
 *
 * <p>A node id of 0 is a negative entry: "no such name", cacheable for {@code entryTtlNs}.
 */
public record Entry(long nodeId, long generation, FileAttr attr, long entryTtlNs, long attrTtlNs) {

    public static Entry negative(long entryTtlNs) {
        return new Entry(0, 0, null, entryTtlNs, 0);
    }

    public boolean isNegative() {
        return nodeId == 0;
    }
}
