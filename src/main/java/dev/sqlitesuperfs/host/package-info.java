/**
 * The multi-tenant host: {@code sqlitesuperfs serve} mounts many namespaces in one process and
 * takes {@code mount --host}, {@code unmount} and {@code status} requests on a Unix control socket
 * ({@link dev.sqlitesuperfs.host.Serve}, {@link dev.sqlitesuperfs.host.Host}). Sits beside
 * {@code cli}: it reuses the command line's settings, passphrase sources and exit codes, opens
 * each namespace the way a standalone mount does, and reaches no deeper than the public entry
 * points of {@code fs}, {@code store} and {@code fuse}. {@code HostResources} is the one place
 * that creates what the namespaces share (a server's connections, the block cache and the bound on
 * unstored data).
 *
 * <p>Who may connect is decided from the kernel's credentials for the connection (SO_PEERCRED);
 * the passphrase of a mount request travels as raw bytes after the request's JSON line, never as
 * a string, and is zeroed once the mount opened or failed.
 */
package dev.sqlitesuperfs.host;
