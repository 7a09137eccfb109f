/**
 * The command line: parses arguments, reads the passphrase (never from the arguments), wires the
 * store, the sealed namespace, the filesystem and the FUSE session together, prints the one line
 * that says the mount is ready, and turns every expected failure into one line on stderr and a
 * distinct exit code ({@link dev.sqlitesuperfs.cli.ExitCode}). Commands: mount, unmount, fsck,
 * passwd, upgrade, and ns (list, info, usage, create, quota, drop: the administration of a
 * database's namespaces, through the store's catalog; move, between the servers of a fleet,
 * {@code NsMove}); with {@code --fleet} every command reaches its namespace on the server of the
 * {@link dev.sqlitesuperfs.fleet} that holds it ({@code FleetChoice}); fsck, passwd and upgrade share their options
 * and their way of opening a namespace ({@code NamespaceCommand}). {@code serve}, {@code status}
 * and {@code mount --host} are the {@link dev.sqlitesuperfs.host} package's, which opens
 * namespaces through {@link dev.sqlitesuperfs.cli.NamespaceMount} on shared connections and caches.
 *
 * <p>Holds no key logic: creating, opening, upgrading and rewrapping a namespace are
 * {@link dev.sqlitesuperfs.sealed.SealedNamespace}'s, whose refusals this package only maps to
 * exit codes. Processes that hold keys write no core dump and are not dumpable.
 */
package dev.sqlitesuperfs.cli;
