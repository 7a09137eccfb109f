package dev.sqlitesuperfs.fuse;

/**
 * A SETATTR request ({@code struct fuse_setattr_in}). {@link #valid} says which fields are
 * meaningful; test it with {@link #has(int)}. Times are nanoseconds since the epoch; when
 * {@link #ATIME_NOW} or {@link #MTIME_NOW} is set the filesystem uses its own clock instead.
 */
public record SetAttr(
        int valid,
        long fh,
        long size,
        long atimeNs,
        long mtimeNs,
        long ctimeNs,
        int mode,
        int uid,
        int gid) {

    public static final int MODE = 1;
    public static final int UID = 1 << 1;
    public static final int GID = 1 << 2;
    public static final int SIZE = 1 << 3;
    public static final int ATIME = 1 << 4;
    public static final int MTIME = 1 << 5;
    public static final int FH = 1 << 6;
    public static final int ATIME_NOW = 1 << 7;
    public static final int MTIME_NOW = 1 << 8;
    public static final int LOCKOWNER = 1 << 9;
    public static final int CTIME = 1 << 10;
    public static final int KILL_SUIDGID = 1 << 11;

    public boolean has(int flag) {
        return (valid & flag) != 0;
    }
}
