package dev.sqlitesuperfs.store;

/** A range of fresh inode numbers {@code [first, first + count)}, never handed out before. */
public record InodeRange(long first, int count) {}
