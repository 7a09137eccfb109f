package dev.sqlitesuperfs.store;

/** A stored block: its index within the file and its sealed bytes (nonce, ciphertext, tag). */
public record SealedBlock(long idx, byte[] data) {}
