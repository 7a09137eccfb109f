package dev.sqlitesuperfs.store;

/**
 * One directory entry: a name (raw bytes) in some directory pointing to an inode of the given mode,
 * and the entry's authenticator ({@code mac}; opaque to the store, null where none was made).
 */
public record DirEntryRecord(byte[] name, long ino, int mode, byte[] mac) {
    public DirEntryRecord(byte[] name, long ino, int mode) {
        this(name, ino, mode, null);
    }
}
