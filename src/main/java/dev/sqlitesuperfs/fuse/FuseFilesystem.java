package dev.sqlitesuperfs.fuse;

import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * A low-level, inode-based filesystem, as the FUSE kernel protocol sees one. Node ids are the
 * filesystem's own inode numbers; {@code 1} is the root. Methods are called concurrently from the
 * session's request threads and must be thread-safe.
 *
 * <p>Failures: throw {@link FuseException} with the errno to reply. Any other exception is a bug
 * or an infrastructure failure: the session logs it with the request's context and replies EIO;
 * it never ends the session.
 *
 * <p>Names are raw bytes (never decoded: non-UTF-8 names must round-trip). Memory segments passed
 * in are valid only during the call.
 *
 * <p>Methods without a default are the ones every filesystem must answer; the defaults answer
 * ENOSYS, which tells the kernel the operation is not supported.
 */
public interface FuseFilesystem {

    /**
     * Called once, when INIT has been answered; before any other request.
     *
     * @param kernel what the filesystem may ask of the kernel later (cache invalidation, writeback)
     */
    default void init(KernelConnection connection, KernelChannel kernel) {}

    /** Called once when the session ends (unmount or shutdown); no request follows. */
    default void destroy() {}

    /** Resolve {@code name} in directory {@code parent}; a missing name may be answered with {@link Entry#negative}. */
    Entry lookup(Caller caller, long parent, byte[] name);

    /** The kernel dropped {@code nlookup} references to {@code ino}. No reply is sent. */
    void forget(long ino, long nlookup);

    /** @param fh the open handle when the kernel gave one (fstat), else -1 */
    AttrReply getattr(Caller caller, long ino, long fh);

    AttrReply setattr(Caller caller, long ino, SetAttr change);

    default byte[] readlink(Caller caller, long ino) {
        throw new FuseException(Errno.ENOSYS);
    }

    /** @param mode type and permission bits, the caller's umask already applied by the kernel */
    default Entry mknod(Caller caller, long parent, byte[] name, int mode, int rdev, int umask) {
        throw new FuseException(Errno.ENOSYS);
    }

    default Entry mkdir(Caller caller, long parent, byte[] name, int mode, int umask) {
        throw new FuseException(Errno.ENOSYS);
    }

    default void unlink(Caller caller, long parent, byte[] name) {
        throw new FuseException(Errno.ENOSYS);
    }

    default void rmdir(Caller caller, long parent, byte[] name) {
        throw new FuseException(Errno.ENOSYS);
    }

    default Entry symlink(Caller caller, long parent, byte[] name, byte[] target) {
        throw new FuseException(Errno.ENOSYS);
    }

    /** RENAME and RENAME2; {@code flags} is 0 or RENAME_NOREPLACE (1) / RENAME_EXCHANGE (2) / RENAME_WHITEOUT (4). */
    default void rename(Caller caller, long parent, byte[] name, long newParent, byte[] newName, int flags) {
        throw new FuseException(Errno.ENOSYS);
    }

    default Entry link(Caller caller, long ino, long newParent, byte[] newName) {
        throw new FuseException(Errno.ENOSYS);
    }

    /**
     * @param flags the open(2) flags (O_ACCMODE, O_TRUNC, O_APPEND, ...)
     * @param killSuidGid with O_TRUNC: the caller lacks CAP_FSETID, so the truncation drops the
     *     set-ID bits (FUSE_OPEN_KILL_SUIDGID; see {@link #WRITE_KILL_SUIDGID})
     */
    OpenResult open(Caller caller, long ino, int flags, boolean killSuidGid);

    /**
     * Read up to {@code size} bytes at {@code offset} into {@code dest} (capacity at least
     * {@code size}); return how many were written. Fewer than asked means end of file.
     */
    int read(Caller caller, long ino, long fh, long offset, int size, MemorySegment dest);

    /**
     * In {@code writeFlags}: the writer lacks CAP_FSETID, so the write drops the file's set-ID bits.
     * With HANDLE_KILLPRIV_V2 the filesystem, not the kernel, drops them, and security.capability
     * too, on every write, truncation and change of owner (SETATTR's {@link SetAttr#KILL_SUIDGID}
     * says the same for truncations).
     */
    int WRITE_KILL_SUIDGID = 1 << 2;

    /**
     * In {@code writeFlags}: the kernel writes back pages of its page cache (the writeback cache, or
     * a shared mapping), long after the write(2) that dirtied them returned; an error goes to the
     * kernel, which reports it at the file's next fsync or close.
     */
    int WRITE_CACHE = 1;

    /** Write {@code data} at {@code offset}; return the number of bytes written. */
    int write(Caller caller, long ino, long fh, long offset, MemorySegment data, int writeFlags);

    /** Sent on every close(2) of a descriptor of the open file, synchronously with it. */
    default void flush(Caller caller, long ino, long fh, long lockOwner) {}

    /** The last reference to the open file is gone. Sent after close(2) has returned. */
    void release(Caller caller, long ino, long fh, int flags);

    default void fsync(Caller caller, long ino, long fh, boolean dataOnly) {}

    default OpenResult opendir(Caller caller, long ino, int flags) {
        return new OpenResult(0, 0);
    }

    /** Fill {@code sink} with the entries after {@code offset} (0 = from the start, "." and ".." included). */
    void readdir(Caller caller, long ino, long fh, long offset, DirSink sink);

    default void readdirplus(Caller caller, long ino, long fh, long offset, DirPlusSink sink) {
        throw new FuseException(Errno.ENOSYS);
    }

    default void releasedir(Caller caller, long ino, long fh) {}

    default void fsyncdir(Caller caller, long ino, long fh, boolean dataOnly) {}

    StatFs statfs(Caller caller, long ino);

    /** @param flags XATTR_CREATE (1) / XATTR_REPLACE (2) */
    default void setxattr(Caller caller, long ino, byte[] name, byte[] value, int flags) {
        throw new FuseException(Errno.EOPNOTSUPP);
    }

    /** The whole value; the protocol layer answers size queries and ERANGE from it. ENODATA if absent. */
    default byte[] getxattr(Caller caller, long ino, byte[] name) {
        throw new FuseException(Errno.EOPNOTSUPP);
    }

    /** All attribute names; the protocol layer encodes them NUL-terminated and answers size queries. */
    default List<byte[]> listxattr(Caller caller, long ino) {
        throw new FuseException(Errno.EOPNOTSUPP);
    }

    default void removexattr(Caller caller, long ino, byte[] name) {
        throw new FuseException(Errno.EOPNOTSUPP);
    }

    /** @param mask R_OK (4) / W_OK (2) / X_OK (1), or F_OK (0) */
    default void access(Caller caller, long ino, int mask) {}

    /** Create and open a regular file; {@code flags} are the open(2) flags (O_EXCL included). */
    default CreateResult create(Caller caller, long parent, byte[] name, int mode, int umask, int flags) {
        throw new FuseException(Errno.ENOSYS);
    }

    /** @param mode 0 or FALLOC_FL_KEEP_SIZE (1); other modes are the filesystem's to refuse */
    default void fallocate(Caller caller, long ino, long fh, long offset, long length, int mode) {
        throw new FuseException(Errno.EOPNOTSUPP);
    }

    /** SEEK_DATA (3) and SEEK_HOLE (4); the kernel handles the other whence values itself. */
    /**
     * Whether the kernel is to hand POSIX locks (fcntl F_SETLK, F_SETLKW, F_GETLK) to this
     * filesystem ({@link #getlk}, {@link #setlk}) instead of keeping them itself. Asked once, at INIT.
     */
    default boolean posixLocks() {
        return false;
    }

    /**
     * F_GETLK: a lock held by another owner that stands in the way of {@code lock} from
     * {@code owner}, or {@link FileLock#none} if none does.
     */
    default FileLock getlk(Caller caller, long ino, long fh, long owner, FileLock lock) {
        throw new FuseException(Errno.ENOSYS);
    }

    /**
     * F_SETLK ({@code wait} false) and F_SETLKW: takes, changes or (type {@link FileLock#UNLOCK})
     * lets go of {@code owner}'s lock over the range. A lock that is in the way fails with EAGAIN,
     * or, with {@code wait}, is waited for. The kernel lets go of an owner's locks on a file by
     * {@link #flush} with that owner when any of its descriptors of the file is closed.
     */
    default void setlk(Caller caller, long ino, long fh, long owner, FileLock lock, boolean wait) {
        throw new FuseException(Errno.ENOSYS);
    }

    default long lseek(Caller caller, long ino, long fh, long offset, int whence) {
        throw new FuseException(Errno.ENOSYS);
    }
}
