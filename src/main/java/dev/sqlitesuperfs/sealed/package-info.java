/**
 * The sealed namespace: a {@link dev.sqlitesuperfs.store.NamespaceStore} plus the namespace's key,
 * turned into the storage the filesystem sees, plaintext in and out and nothing read that is not
 * authentic.
 *
 * <p>One way in: {@link dev.sqlitesuperfs.sealed.SealedNamespace} owns the key's whole life. It
 * creates a namespace (data key, wrapping, root directory), opens one (unwraps the key with the
 * passphrase, tells a wrong passphrase from damaged key material, stores a missing key check,
 * checks block size and format, upgrades format 3 when it may write), changes its passphrase,
 * runs the explicit upgrade and the audit of {@code fsck --verify}, and closes the key. Its
 * refusals are {@link dev.sqlitesuperfs.sealed.SealedNamespaceException}s, one type per reason.
 * It is the only maker of a {@link dev.sqlitesuperfs.crypto.Sealer}.
 *
 * <p>Freshness ({@code Freshness}): every transaction seals its commit number with the
 * namespace's root digest (a keyed term of every inode's authenticator); opening checks the seal
 * against the stored inodes and the number against the freshness anchor of {@link
 * dev.sqlitesuperfs.anchor}, and every inode row read later must be the current one. A namespace
 * put back whole is refused as rolled back, an inode put back alone as tampered.
 *
 * <p>Sealed names (a namespace created with {@code --seal-names}): names go down sealed and come
 * back opened at this layer's edge ({@code SealedStore.storedName}, {@code SealedStore.entries}),
 * symlink targets and a symlink row's size padded, so that everything above sees plain names and
 * everything below sees none. MACs, digest terms and the fs layer's caches all work on plain names.
 *
 * <p>Behind it: {@link dev.sqlitesuperfs.sealed.SealedStore}, the reads and their checks;
 * {@link dev.sqlitesuperfs.sealed.SealedTransaction}, which seals what goes down and keeps each
 * inode's authenticator and the digests of its blocks, entries and attributes up to date; the
 * keyed format upgrades; the whole-namespace audit. Anything read that does not open or add up is
 * a {@link dev.sqlitesuperfs.sealed.TamperedException}, refused alone where the digests tell what
 * it touches. Primitives (libsodium, the sealer, key wrapping, key derivation) come from
 * {@link dev.sqlitesuperfs.crypto}; rows, transactions and the namespace lock from
 * {@link dev.sqlitesuperfs.store}.
 */
package dev.sqlitesuperfs.sealed;
