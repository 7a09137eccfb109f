package dev.sqlitesuperfs.store;

/**
 * One row of the inodes table. {@code mode} holds type and permission bits; uid, gid and rdev are
 * unsigned 32-bit values carried in an int; times are nanoseconds since the epoch; {@code nblocks}
 * is the number of stored block rows of the inode (kept by the store, see {@link ChangeSet}).
 */
public record InodeRecord(
        long ino,
        int mode,
        int uid,
        int gid,
        int nlink,
        long size,
        long nblocks,
        int rdev,
        long atimeNs,
        long mtimeNs,
        long ctimeNs) {}
