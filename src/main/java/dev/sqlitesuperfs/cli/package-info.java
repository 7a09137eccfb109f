/**
 * The command line: parses arguments, reads the passphrase, wires store, crypto, filesystem and
 * FUSE session together, prints the one line that says the mount is ready, and turns every expected
 * failure into one line on stderr and a distinct exit code.
 */
package dev.sqlitesuperfs.cli;
