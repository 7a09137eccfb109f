package dev.sqlitesuperfs.store;

/**
 * What the meta row says of the namespace's last committed transaction: its number (0 before the
 * first) and the seal stored with it (null when no transaction has stored one yet: a namespace
 * that nothing wrote to since it reached format 5).
 */
public record CommitState(long lastCommit, byte[] seal) {}
