package dev.sqlitesuperfs.fuse;

/**
 * What a filesystem may ask of the kernel on its own initiative, outside the reply to a request.
 * Handed to {@link FuseFilesystem#init}. Both calls are safe from any thread, including from
 * inside a request the kernel is waiting on, with the exception noted on
 * {@link #writeBackDirtyPages()}.
 */
public interface KernelChannel {

    /**
     * Drops the kernel's cached attributes of {@code ino} (FUSE_NOTIFY_INVAL_INODE with a negative
     * offset, which leaves the page cache alone), so the next stat asks the filesystem. Does
     * nothing if the kernel does not know the inode.
     */
    void invalidateAttributes(long ino);

    /**
     * Makes the kernel write back the pages and times it holds dirty for this mount (syncfs) and
     * returns once the filesystem has answered those writes. The writes are served by the other
     * request threads, so this must not be called from every request thread at once.
     */
    void writeBackDirtyPages();
}
