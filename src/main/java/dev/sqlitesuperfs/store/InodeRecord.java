package dev.sqlitesuperfs.store;

/**
 * One row of the inodes table. {@code mode} holds type and permission bits; uid, gid and rdev are
 * unsigned 32-bit values carried in an int; times are nanoseconds since the epoch; {@code nblocks}
 * is the number of stored block rows of the inode (kept by the store, see {@link ChangeSet});
 * {@code auth} is the sealed authenticator of the row (opaque to the store; null where none was
 * made, as in a namespace not yet upgraded or in the store's own tests).
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
        long ctimeNs,
        byte[] auth) {

    public InodeRecord(long ino, int mode, int uid, int gid, int nlink, long size, long nblocks, int rdev,
                       long atimeNs, long mtimeNs, long ctimeNs) {
        this(ino, mode, uid, gid, nlink, size, nblocks, rdev, atimeNs, mtimeNs, ctimeNs, null);
    }

    private static final int S_IFMT = 0170000;

    public boolean isDirectory() {
        return (mode & S_IFMT) == 0040000;
    }

    public boolean isRegular() {
        return (mode & S_IFMT) == 0100000;
    }

    public boolean isSymlink() {
        return (mode & S_IFMT) == 0120000;
    }

    /** The same row with {@code auth} as its authenticator. */
    public InodeRecord withAuth(byte[] sealed) {
        return new InodeRecord(ino, mode, uid, gid, nlink, size, nblocks, rdev, atimeNs, mtimeNs, ctimeNs, sealed);
    }
}
