/**
 * POSIX semantics on top of sealed storage: inodes and their lookup counts, directories, open
 * files, link counts, rename rules, truncation and holes, unlinked-but-open files, the plaintext
 * block cache and write-back of dirty blocks at the durability points.
 *
 * <p>Implements {@link dev.sqlitesuperfs.fuse.FuseFilesystem}; reaches storage only through
 * {@link dev.sqlitesuperfs.sealed.SealedStore}, which seals what it writes and opens what it reads.
 * It uses the store's plain records (inode rows, directory entries) as values but never calls the
 * store itself.
 */
package dev.sqlitesuperfs.fs;
