package dev.sqlitesuperfs.store;

import java.util.UUID;

/**
 * The namespace's metadata row, written once at creation (the key material and quota may change).
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
 * @param keyCheck      tells a wrong passphrase from damaged key material (see the crypto package's
 *                      KeyWrapping); null for a namespace created before format 2 that no writable
 *                      mount has opened since
 * @param sealNames     whether names and symlink targets are stored sealed (chosen at creation,
 *                      format 6 on; bound into the wrapped key's associated data)
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
        long quotaBytes,
        byte[] keyCheck,
        boolean sealNames) {

    /** Metadata of a namespace whose names are stored as they are. */
    public NamespaceMeta(int formatVersion, UUID uuid, int blockSize, String kdfAlgorithm, long kdfOpsLimit,
            long kdfMemLimit, byte[] kdfSalt, byte[] wrappedKey, long quotaBytes, byte[] keyCheck) {
        this(formatVersion, uuid, blockSize, kdfAlgorithm, kdfOpsLimit, kdfMemLimit, kdfSalt, wrappedKey, quotaBytes,
                keyCheck, false);
    }

    /** Metadata without a key check, as every namespace had before format 2. */
    public NamespaceMeta(int formatVersion, UUID uuid, int blockSize, String kdfAlgorithm, long kdfOpsLimit,
            long kdfMemLimit, byte[] kdfSalt, byte[] wrappedKey, long quotaBytes) {
        this(formatVersion, uuid, blockSize, kdfAlgorithm, kdfOpsLimit, kdfMemLimit, kdfSalt, wrappedKey, quotaBytes,
                null);
    }

    /** The same namespace with other key material (after a passphrase change, or a first key check). */
    public NamespaceMeta withKeyMaterial(String algorithm, long opsLimit, long memLimit, byte[] salt, byte[] wrapped,
            byte[] check) {
        return new NamespaceMeta(formatVersion, uuid, blockSize, algorithm, opsLimit, memLimit, salt, wrapped,
                quotaBytes, check, sealNames);
    }

    /** The same namespace with another quota (0: none). */
    public NamespaceMeta withQuota(long bytes) {
        return new NamespaceMeta(formatVersion, uuid, blockSize, kdfAlgorithm, kdfOpsLimit, kdfMemLimit, kdfSalt,
                wrappedKey, bytes, keyCheck, sealNames);
    }
}
