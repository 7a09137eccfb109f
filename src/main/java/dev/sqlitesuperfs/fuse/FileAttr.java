package dev.sqlitesuperfs.fuse;

/**
 * File attributes as the kernel wants them ({@code struct fuse_attr}). Times are nanoseconds since
 * the epoch; uid, gid and rdev are unsigned 32-bit values carried in an int.
 */
public record FileAttr(
        long ino,
        long size,
        long blocks,
        long atimeNs,
        long mtimeNs,
        long ctimeNs,
        int mode,
        int nlink,
        int uid,
        int gid,
        int rdev,
        int blksize) {}
