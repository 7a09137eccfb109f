package dev.sqlitesuperfs.store;

import java.util.UUID;

/**
 * The namespace's metadata row, written once at creation (the wrapped key and quota may change).
 *
 * @param formatVersion the on-disk format this namespace was written with
 * @param uuid          random, bound into every sealed payload's associated data
 * @param blockSize     bytes per block, a power of two from 4 KiB to 1 MiB, fixed at creation
 * @param kdfAlgorithm  name of the passphrase key derivation, for example {@code argon2id13}
 * @param kdfOpsLimit   its time cost
 * @param kdfMemLimit   its memory cost in bytes
 * @param kdfSalt       random, per namespace
 * @param wrappedKey    the namespace data key sealed under the passphrase-derived key
 * @param quotaBytes    capacity reported by statfs and enforced on writes; 0 = none configured
 */
public record NamespaceMeta(
        int formatVersion,
        UUID uuid,
        int blockSize,
        String kdfAlgorithm,
        long kdfOpsLimit,
        long kdfMemLimit,
        byte[] kdfSalt,
        byte[] wrappedKey,
        long quotaBytes) {}
