package dev.sqlitesuperfs.sealed;

/** A block to store: the first {@code length} bytes of {@code data} are its content. */
public record PlainBlock(long idx, byte[] data, int length) {}
