/**
 * The sealed namespace: a {@link dev.sqlitesuperfs.store.NamespaceStore} plus the namespace's key,
 * turned into the storage the filesystem sees, plaintext in and out and nothing read that is not
 * authentic.
 *
 * <p>Owns: sealing on the way down and opening on the way up of every payload (blocks, symlink
 * targets, attribute values), each inode's authenticator and the digests of its blocks, entries and
 * attributes, the checks of everything read against them (and which damage can be refused alone),
 * sealed transactions, the keyed format upgrades and the whole-namespace audit of
 * {@code fsck --verify}. Primitives (libsodium, the sealer, key wrapping, key derivation) come
 * from {@link dev.sqlitesuperfs.crypto}; rows and transactions from {@link dev.sqlitesuperfs.store}.
 */
package dev.sqlitesuperfs.sealed;
