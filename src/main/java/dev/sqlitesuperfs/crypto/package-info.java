/**
 * Cryptographic primitives, through the system libsodium (FFM).
 *
 * <p>Owns: passphrases and keys in locked memory, passphrase key derivation (Argon2id), wrapping
 * of a data key with a key check that tells a wrong passphrase from damaged key material, and the
 * {@link dev.sqlitesuperfs.crypto.Sealer}: sealing and opening of payloads with XChaCha20-Poly1305
 * under associated data that binds each to its namespace, inode and position, the sealing of inode
 * authenticators, and the keyed terms digests are made of. Knows nothing of namespaces as stored:
 * when a key is made, wrapped or unwrapped, and what is sealed with it (which rows vouch for
 * which), is {@link dev.sqlitesuperfs.sealed}'s business.
 */
package dev.sqlitesuperfs.crypto;
