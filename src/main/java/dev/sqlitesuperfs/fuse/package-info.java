/**
 * The Linux FUSE kernel protocol, spoken directly over {@code /dev/fuse}.
 *
 * <p>Owns: mounting and unmounting (mount(2) as root, {@code fusermount3} otherwise, with a check
 * beforehand that either can work, so a caller can refuse before doing anything else), the INIT
 * negotiation, reading requests, decoding them, calling a {@link dev.sqlitesuperfs.fuse.FuseFilesystem}
 * and encoding its answers, and the {@link dev.sqlitesuperfs.fuse.RequestPool} whose workers and
 * buffers serve any number of mounts from one epoll set (a standalone mount has a pool of its own).
 * Knows nothing of storage: inode numbers, names and bytes in, attributes,
 * bytes and errnos out. Everything a filesystem implementation sees is in the public types of this
 * package; the wire layout stays private to it.
 */
package dev.sqlitesuperfs.fuse;
