/**
 * The few Linux system calls Java does not offer, called through FFM (java.lang.foreign): open,
 * read and write on /dev/fuse, mount and umount2, socket fd passing for fusermount3, syncfs,
 * process identity and limits, and epoll with an eventfd, so that few threads can serve many
 * descriptors. Thin and mechanical: each call returns its result or throws
 * {@link dev.sqlitesuperfs.sys.SysException} with the errno; policy lives in the callers.
 */
package dev.sqlitesuperfs.sys;
