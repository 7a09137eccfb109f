/**
 * The command line: parses arguments, reads the passphrase (never from the arguments), wires store,
 * crypto, filesystem and FUSE session together, prints the one line that says the mount is ready,
 * and turns every expected failure into one line on stderr and a distinct exit code
 * ({@link dev.sqlitesuperfs.cli.ExitCode}). Commands: mount, unmount, fsck, passwd. Processes that
 * hold keys write no core dump and are not dumpable.
 */
package dev.sqlitesuperfs.cli;
