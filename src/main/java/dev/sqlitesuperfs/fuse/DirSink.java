package dev.sqlitesuperfs.fuse;

/**
 * Collects the entries of one READDIR reply. {@code nextOffset} is the offset the kernel will send
 * back to continue after this entry; it must be stable for the directory's lifetime and must never
 * be 0. {@link #add} returns false, and keeps nothing, once the reply is full.
 */
public interface DirSink {
    /**
     * @param name the name's bytes, any bytes but '/' and NUL
     * @param ino  the inode number shown in d_ino
     * @param mode the file's mode; only its type bits (S_IFMT) are used, for d_type
     */
    boolean add(byte[] name, long ino, int mode, long nextOffset);
}
