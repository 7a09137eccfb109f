package dev.sqlitesuperfs.fuse;

/** The answer to CREATE: the new entry and the handle of the file opened on it. */
public record CreateResult(Entry entry, OpenResult open) {}
