/**
 * Keys and sealing, through the system libsodium (FFM).
 *
 * <p>Owns: passphrase key derivation (Argon2id), wrapping of the namespace data key with a key
 * check that tells a wrong passphrase from damaged key material, and sealing
 * and opening of every payload that leaves the process (blocks, symlink targets, xattr values) with
 * XChaCha20-Poly1305 under associated data that binds each payload to its namespace, inode and
 * position; and the authenticators that vouch for each inode's attributes and, through digests,
 * for which blocks, entries and attributes are its current ones. {@link
 * dev.sqlitesuperfs.crypto.SealedStore} is the storage the filesystem sees: plaintext in, sealed
 * rows down to {@link dev.sqlitesuperfs.store}, nothing up that does not add up.
 */
package dev.sqlitesuperfs.crypto;
