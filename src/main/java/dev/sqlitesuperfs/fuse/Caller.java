package dev.sqlitesuperfs.fuse;

/** The process on whose behalf the kernel sent a request (from {@code fuse_in_header}). */
public record Caller(int uid, int gid, int pid) {}
