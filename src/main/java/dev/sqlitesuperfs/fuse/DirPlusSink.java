package dev.sqlitesuperfs.fuse;

/**
 * Collects the entries of one READDIRPLUS reply: each name comes with a full {@link Entry}.
 * Returns false, and keeps nothing, once the reply is full. Every entry accepted with a non-zero
 * node id, except "." and "..", counts as one lookup by the kernel, exactly like a LOOKUP reply;
 * the filesystem must count it only when {@link #add} returned true.
 */
public interface DirPlusSink {
    boolean add(byte[] name, Entry entry, long nextOffset);
}
