/**
 * Following a namespace's writer: a read-only mount opened beside the process that writes the
 * namespace (on this machine or another, against the primary or a hot standby) moves, commit by
 * commit, to what the writer committed ({@link dev.sqlitesuperfs.follow.WriterFollower}). The
 * parts it drives are below it: the store's snapshot reads, the sealed namespace's check of each
 * commit's seal, the filesystem's reload of what changed. Sits beside {@code cli}, which starts it
 * for a standalone read-only mount.
 */
package dev.sqlitesuperfs.follow;
