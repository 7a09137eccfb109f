/**
 * A local PostgreSQL for when no database URL is given: finds the server binaries, initialises a
 * cluster under a state directory, starts it on loopback with a generated password (as an
 * unprivileged user when running as root), reuses one that is already running and stops it when the
 * last user leaves.
 */
package dev.sqlitesuperfs.localpg;
