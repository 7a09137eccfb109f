package dev.sqlitesuperfs.fuse;

/** Attributes plus how long the kernel may cache them ({@code struct fuse_attr_out}). */
public record AttrReply(FileAttr attr, long ttlNs) {}
