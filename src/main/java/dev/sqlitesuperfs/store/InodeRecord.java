package dev.sqlitesuperfs.store;

import dev.sqlitesuperfs.sys.FileType;

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

    public boolean isDirectory() {
        return FileType.isDirectory(mode);
    }

    public boolean isRegular() {
        return FileType.isRegular(mode);
    }

    public boolean isSymlink() {
        return FileType.isSymlink(mode);
    }

    /** The same row with {@code bytes} as its size. */
    public InodeRecord withSize(long bytes) {
        return new InodeRecord(ino, mode, uid, gid, nlink, bytes, nblocks, rdev, atimeNs, mtimeNs, ctimeNs, auth);
    }

    /** The same row with {@code auth} as its authenticator. */
    public InodeRecord withAuth(byte[] sealed) {
        return new InodeRecord(ino, mode, uid, gid, nlink, size, nblocks, rdev, atimeNs, mtimeNs, ctimeNs, sealed);
    }
}
