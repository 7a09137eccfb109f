/**
 * The freshness anchor: the newest commit number of each namespace that this machine saw
 * committed, kept outside PostgreSQL where its operator cannot put it back.
 *
 * <p>{@link dev.sqlitesuperfs.anchor.Anchor} is one namespace's record, {@link
 * dev.sqlitesuperfs.anchor.Anchors} where they are kept: {@link
 * dev.sqlitesuperfs.anchor.AnchorDirectory} keeps one file per namespace in a local directory (the
 * default), written crash-safely; {@link dev.sqlitesuperfs.anchor.AnchorCommand} has a program of
 * the operator's keep them (a line protocol over its standard input and output). The sealed namespace reads the record when a namespace
 * is opened, refuses a database older than it, and advances it after every commit, before the
 * commit is acknowledged. Nothing here knows keys or SQL: a namespace is named by an opaque
 * identifier its key holder derives.
 */
package dev.sqlitesuperfs.anchor;
