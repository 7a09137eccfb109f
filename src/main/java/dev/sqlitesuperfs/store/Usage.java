package dev.sqlitesuperfs.store;

/** Totals of a namespace: how many inodes exist and how many block rows are stored. */
public record Usage(long inodes, long blocks) {}
