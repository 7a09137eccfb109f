package dev.sqlitesuperfs.fuse;

/**
 * What a filesystem may ask of the kernel on its own initiative, outside the reply to a request.
 * Handed to {@link FuseFilesystem#init}. Both calls are safe from any thread, including from
 * inside a request the kernel is waiting on, with the exception noted on
 * {@link #writeBackPages(long)}.
 */
public interface KernelChannel {

    /**
     * Drops the kernel's cached attributes of {@code ino} (FUSE_NOTIFY_INVAL_INODE with a negative
     * offset, which leaves the page cache alone), so the next stat asks the filesystem. Does
     * nothing if the kernel does not know the inode.
     */
    void invalidateAttributes(long ino);

    /**
     * Makes the kernel write back the dirty pages of {@code ino} and returns once the filesystem
     * has answered those writes; the kernel's clean pages of the file are dropped too
     * (FUSE_NOTIFY_INVAL_INODE over the whole file: the kernel launders each dirty page with a
     * WRITE and waits for its reply, also for writes already in flight). syncfs is no such
     * barrier on the kernels this runs on: a seek after syncfs once missed a page written before
     * it, and recent kernels exempt FUSE writeback-cache files from syncfs's wait.
     * The writes are served by other workers of the session's {@link RequestPool}, so a worker may
     * have to wait here until fewer of them do (see the pool's bounds).
     */
    void writeBackPages(long ino);

    /**
     * Drops the kernel's cached attributes and pages of {@code ino} without waiting for anything
     * (FUSE_NOTIFY_INVAL_INODE over the whole file): for a mount whose files change underneath it
     * (one following another process's writes), which has no dirty pages to write back.
     */
    default void dropCached(long ino) {
        writeBackPages(ino);
    }

    /**
     * Like {@link #dropCached(long)} for the pages of {@code length} bytes from {@code offset}
     * only (rounded out to whole pages by the kernel); the attributes are dropped all the same.
     */
    default void dropCached(long ino, long offset, long length) {
        dropCached(ino);
    }

    /**
     * Drops the kernel's cached entry of {@code name} in directory {@code parent}, or its memory
     * that the name does not exist (FUSE_NOTIFY_INVAL_ENTRY), so that its next use asks the
     * filesystem. Does nothing if the kernel caches neither. Not from inside a request on
     * {@code parent}: the kernel takes the directory's lock.
     */
    void dropEntry(long parent, byte[] name);
}
