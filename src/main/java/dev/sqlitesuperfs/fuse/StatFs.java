package dev.sqlitesuperfs.fuse;

/** Filesystem figures for statfs(2) ({@code struct fuse_kstatfs}); block counts in units of frsize. */
public record StatFs(
        long blocks,
        long bfree,
        long bavail,
        long files,
        long ffree,
        int bsize,
        int namelen,
        int frsize) {}
