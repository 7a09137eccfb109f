package dev.sqlitesuperfs.store;

/** One directory entry: a name (raw bytes) in some directory pointing to an inode of the given mode. */
public record DirEntryRecord(byte[] name, long ino, int mode) {}
