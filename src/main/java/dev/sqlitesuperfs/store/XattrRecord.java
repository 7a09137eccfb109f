package dev.sqlitesuperfs.store;

/** An extended attribute: its name (raw bytes, stored in clear) and its sealed value. */
public record XattrRecord(byte[] name, byte[] sealedValue) {}
