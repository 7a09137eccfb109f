/**
 * POSIX semantics on top of the sealed namespace: inodes and their lookup counts, directories,
 * open files, link counts, rename rules, truncation and holes, unlinked-but-open files, the
 * plaintext block cache, and written data until it is stored.
 *
 * <p>{@link dev.sqlitesuperfs.fs.Filesystem} implements {@link dev.sqlitesuperfs.fuse.FuseFilesystem}
 * and hands each request to the class that owns its kind of operation: Tree (names), AttributeOps,
 * FileOps, DirectoryOps, ExtendedAttributes. Written data has one owner, WriteBuffer, from the
 * write to the commit that stores it (and what happens when that fails). An inode's attributes
 * have one form, Attrs, which Replies turns into the kernel's.
 *
 * <p>Reaches storage only through {@link dev.sqlitesuperfs.sealed.SealedStore}, which seals what it
 * writes and opens what it reads; it uses the store's plain records (inode rows, directory
 * entries) as values but never calls the store itself.
 */
package dev.sqlitesuperfs.fs;
