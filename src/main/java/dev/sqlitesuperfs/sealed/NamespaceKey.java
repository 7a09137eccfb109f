package dev.sqlitesuperfs.sealed;

import dev.sqlitesuperfs.crypto.DamagedKeyMaterialException;
import dev.sqlitesuperfs.crypto.KdfParams;
import dev.sqlitesuperfs.crypto.KdfStrength;
import dev.sqlitesuperfs.crypto.KeyWrapping;
import dev.sqlitesuperfs.crypto.Passphrase;
import dev.sqlitesuperfs.crypto.Sealer;
import dev.sqlitesuperfs.crypto.SecretKey;
import dev.sqlitesuperfs.crypto.WrongPassphraseException;
import dev.sqlitesuperfs.store.NamespaceMeta;
import dev.sqlitesuperfs.store.NamespaceStore;
import dev.sqlitesuperfs.store.PgNamespaceStore;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The namespace's data key and the key material that keeps it: made and wrapped when a namespace
 * is created, unwrapped with the passphrase when it is opened, rewrapped when the passphrase
 * changes. A wrong passphrase ({@link SealedNamespaceException.WrongPassphrase}) is told apart
 * from damaged key material ({@link SealedNamespaceException.DamagedKeyMaterial}). Used only by
 * {@link SealedNamespace}, which decides when each happens.
 */
final class NamespaceKey {
    private static final Logger log = LoggerFactory.getLogger(NamespaceKey.class);

    /**
     * The format version written into the associated data of every sealed payload and of the
     * wrapped key. Format 2 changed only the meta table, so namespaces of format 1 and 2 seal alike;
     * a format that changes how payloads are sealed maps its version here.
     */
    static final int SEALING_FORMAT = 1;

    /**
     * Argon2id memory cost above which the stored parameters are refused: the database is not
     * trusted, and an absurd value would get the process killed for lack of memory while
     * unwrapping. libsodium's "sensitive" preset uses 1 GiB.
     */
    static final long MAX_KDF_MEMORY = 4L << 30;

    private NamespaceKey() {}

    /** A namespace's metadata and its data key, which the caller owns and closes. */
    record Opened(NamespaceMeta meta, SecretKey dataKey) {}

    /** A new namespace's metadata: a fresh UUID, salt and data key, wrapped under {@code passphrase}. */
    static Opened create(int blockSize, KdfStrength strength, boolean sealNames, Passphrase passphrase) {
        KdfParams kdf = KdfParams.generate(strength);
        NamespaceMeta draft = new NamespaceMeta(PgNamespaceStore.FORMAT_VERSION, UUID.randomUUID(), blockSize,
                kdf.algorithm(), kdf.opsLimit(), kdf.memLimit(), kdf.salt(), new byte[0], 0, null, sealNames);
        SecretKey dataKey = SecretKey.random();
        try {
            return new Opened(withWrapping(draft, kdf, KeyWrapping.wrap(dataKey, passphrase, kdf, context(draft))),
                    dataKey);
        } catch (RuntimeException e) {
            dataKey.close();
            throw e;
        }
    }

    /**
     * Opens the data key of the namespace {@code meta} describes with {@code passphrase}. A
     * namespace that has no key check yet gets one when {@code storeKeyCheck} (the passphrase has
     * just proved the key material genuine); the metadata returned is then the one stored. The
     * caller owns and closes the key.
     */
    static Opened open(NamespaceStore store, NamespaceMeta meta, Passphrase passphrase, boolean storeKeyCheck,
            String namespace) {
        KdfParams kdf = kdfParams(meta, namespace);
        KeyWrapping.Unwrapped opened;
        try {
            opened = KeyWrapping.unwrap(new KeyWrapping.Wrapping(meta.wrappedKey(), meta.keyCheck()), passphrase, kdf,
                    context(meta));
        } catch (WrongPassphraseException e) {
            throw new SealedNamespaceException.WrongPassphrase(e.getMessage() + " for namespace " + namespace);
        } catch (DamagedKeyMaterialException e) {
            throw damaged(namespace, e.getMessage());
        }
        if (meta.keyCheck() != null || !storeKeyCheck) {
            return new Opened(meta, opened.dataKey());
        }
        try {
            NamespaceMeta checked = withWrapping(meta, kdf, new KeyWrapping.Wrapping(meta.wrappedKey(),
                    opened.keyCheck()));
            store.replaceKeyMaterial(meta, checked);
            log.info("namespace {}: stored a key check, so damaged key material is told apart from a wrong"
                    + " passphrase from now on", namespace);
            return new Opened(checked, opened.dataKey());
        } catch (RuntimeException e) {
            opened.dataKey().close();
            throw e;
        }
    }

    /** {@code meta} with the key material of a new wrapping of its data key under {@code passphrase}. */
    static NamespaceMeta rewrap(NamespaceMeta meta, SecretKey dataKey, KdfParams kdf, Passphrase passphrase) {
        return withWrapping(meta, kdf, KeyWrapping.wrap(dataKey, passphrase, kdf, context(meta)));
    }

    /** The stored key derivation parameters, refused as damaged if libsodium or this program would not take them. */
    static KdfParams kdfParams(NamespaceMeta meta, String namespace) {
        if (meta.kdfMemLimit() > MAX_KDF_MEMORY) {
            throw damaged(namespace, "its key derivation asks for " + (meta.kdfMemLimit() >> 20)
                    + " MiB of memory, more than the " + (MAX_KDF_MEMORY >> 20) + " MiB this program allows");
        }
        try {
            return new KdfParams(meta.kdfAlgorithm(), meta.kdfOpsLimit(), meta.kdfMemLimit(), meta.kdfSalt());
        } catch (IllegalArgumentException e) {
            throw damaged(namespace, e.getMessage());
        }
    }

    /** The sealer of the namespace {@code meta} describes, under its data key (which must outlive it). */
    static Sealer sealer(SecretKey dataKey, NamespaceMeta meta) {
        return new Sealer(dataKey, meta.uuid(), SEALING_FORMAT, meta.blockSize());
    }

    /**
     * Associated data of the wrapped data key and its key check: binds them to this namespace's
     * identity and block size, so key material copied from another namespace does not open here,
     * and to whether names are sealed (then followed by "seal-names"), so that the stored flag
     * cannot be turned off to make a mount write names in the clear: the key would not open.
     */
    static byte[] context(NamespaceMeta meta) {
        byte[] label = "sqlitesuperfs/data-key/v1".getBytes(StandardCharsets.US_ASCII);
        byte[] sealNames = meta.sealNames() ? SEAL_NAMES_CONTEXT : new byte[0];
        return ByteBuffer.allocate(label.length + 16 + 8 + sealNames.length)
                .put(label)
                .putLong(meta.uuid().getMostSignificantBits())
                .putLong(meta.uuid().getLeastSignificantBits())
                .putInt(SEALING_FORMAT)
                .putInt(meta.blockSize())
                .put(sealNames)
                .array();
    }

    private static final byte[] SEAL_NAMES_CONTEXT = "seal-names".getBytes(StandardCharsets.US_ASCII);

    private static NamespaceMeta withWrapping(NamespaceMeta meta, KdfParams kdf, KeyWrapping.Wrapping wrapping) {
        return meta.withKeyMaterial(kdf.algorithm(), kdf.opsLimit(), kdf.memLimit(), kdf.salt(), wrapping.wrappedKey(),
                wrapping.keyCheck());
    }

    private static SealedNamespaceException.DamagedKeyMaterial damaged(String namespace, String detail) {
        return new SealedNamespaceException.DamagedKeyMaterial("the key material of namespace " + namespace
                + " is damaged: " + detail + "; refusing to open it (the passphrase is not the problem)");
    }
}
