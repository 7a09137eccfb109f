package dev.sqlitesuperfs.store;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * SHA-256 over the metadata fields that decide how the namespace is opened: format version, UUID,
 * block size, key derivation, wrapped key and key check (not the quota, the owner epoch or the last
 * commit, which change while mounted). Stored in {@code meta.meta_checksum} since format 2.
 *
 * <p>It has no key, so it is no defence against someone who rewrites it along with the fields; the
 * AEAD of the wrapped key is that. What it gives is a diagnosis: damaged key material (a changed
 * salt or cost, a truncated wrapped key, a format version set by hand) is reported as damage before
 * any passphrase is tried, instead of looking exactly like a wrong passphrase.
 *
 * <p>The encoding below is fixed for every later format, so that a namespace written by a newer
 * program can still be told apart from one whose format version was changed: integers big-endian,
 * byte strings and text prefixed with their length as int32, an absent key check as length -1.
 * <pre>
 * "sqlitesuperfs/meta-checksum/v1" (ASCII), format_version (int32), namespace_uuid (16, most
 * significant half first), block_size (int32), kdf_algorithm (UTF-8), kdf_opslimit (int64),
 * kdf_memlimit (int64), kdf_salt, wrapped_key, key_check, and then, only for a namespace with
 * sealed names (format 6 on), the ASCII bytes "seal-names"
 * </pre>
 */
final class MetaChecksum {

    static final int BYTES = 32;
    private static final byte[] LABEL = "sqlitesuperfs/meta-checksum/v1".getBytes(StandardCharsets.US_ASCII);

    private static final byte[] SEAL_NAMES = "seal-names".getBytes(StandardCharsets.US_ASCII);

    private MetaChecksum() {}

    static byte[] of(NamespaceMeta meta) {
        ByteArrayOutputStream buffer = new ByteArrayOutputStream(256);
        try (DataOutputStream out = new DataOutputStream(buffer)) {
            out.write(LABEL);
            out.writeInt(meta.formatVersion());
            out.writeLong(meta.uuid().getMostSignificantBits());
            out.writeLong(meta.uuid().getLeastSignificantBits());
            out.writeInt(meta.blockSize());
            writeBytes(out, meta.kdfAlgorithm().getBytes(StandardCharsets.UTF_8));
            out.writeLong(meta.kdfOpsLimit());
            out.writeLong(meta.kdfMemLimit());
            writeBytes(out, meta.kdfSalt());
            writeBytes(out, meta.wrappedKey());
            writeBytes(out, meta.keyCheck());
            if (meta.sealNames()) {
                out.write(SEAL_NAMES);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("writing to memory failed", e);
        }
        try {
            return MessageDigest.getInstance("SHA-256").digest(buffer.toByteArray());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 missing from the JDK", e);
        }
    }

    /** Whether {@code stored} is the checksum of {@code meta}; compared in constant time out of habit. */
    static boolean matches(NamespaceMeta meta, byte[] stored) {
        return stored != null && MessageDigest.isEqual(of(meta), stored);
    }

    private static void writeBytes(DataOutputStream out, byte[] bytes) throws IOException {
        if (bytes == null) {
            out.writeInt(-1);
            return;
        }
        out.writeInt(bytes.length);
        out.write(bytes);
    }
}
