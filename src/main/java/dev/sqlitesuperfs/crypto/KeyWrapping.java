package dev.sqlitesuperfs.crypto;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.Objects;

/**
 * Seals the namespace's data key under a key derived from the passphrase, so that changing the
 * passphrase means rewrapping one key rather than resealing every block.
 *
 * <p>The key-encryption key is Argon2id13 of the passphrase with the {@link KdfParams}. The wrapped
 * form is {@code nonce (24) || encrypted data key (32) || tag (16)}, {@value #WRAPPED_BYTES} bytes,
 * XChaCha20-Poly1305-IETF with associated data {@code "ssfs/key" || associatedData}. Neither key
 * ever passes through the Java heap: both live in locked native memory, and unwrapping decrypts
 * straight into the new key's memory.
 *
 * <h2>Key check</h2>
 * Beside the wrapped key sits a <em>key check</em>: the same construction sealing nothing,
 * {@code nonce (24) || tag (16)}, {@value #KEY_CHECK_BYTES} bytes, under associated data
 * {@code "ssfs/kcv"} alone. It opens exactly when the key-encryption key is right, so after one
 * derivation the two tell apart a wrong passphrase (neither opens) from a damaged wrapped key or
 * context (the check opens, the key does not); that is also why the check is not bound to the
 * context. Copied from another namespace it does not open either: that one's salt differs. It is no shortcut for guessing: each
 * guess still costs a full Argon2id derivation, as the wrapped key alone already allowed.
 */
public final class KeyWrapping {

    public static final int WRAPPED_BYTES = Sodium.NONCE_BYTES + SecretKey.BYTES + Sodium.TAG_BYTES;
    public static final int KEY_CHECK_BYTES = Sodium.NONCE_BYTES + Sodium.TAG_BYTES;

    private static final byte[] KEY_CHECK_TAG = "ssfs/kcv".getBytes(StandardCharsets.US_ASCII);

    /**
     * What is stored for a namespace.
     *
     * @param wrappedKey the sealed data key, {@value #WRAPPED_BYTES} bytes
     * @param keyCheck   the key check, {@value #KEY_CHECK_BYTES} bytes; null for namespaces created
     *                   before key checks existed
     */
    public record Wrapping(byte[] wrappedKey, byte[] keyCheck) {
        public Wrapping {
            Objects.requireNonNull(wrappedKey, "wrappedKey");
        }
    }

    /**
     * An opened data key, owned by the caller, and the key check that belongs with its wrapping:
     * the stored one, or a fresh one when none was stored (the caller may then store it).
     */
    public record Unwrapped(SecretKey dataKey, byte[] keyCheck) {}

    private KeyWrapping() {}

    /**
     * Seals {@code dataKey} under a key derived from {@code pass} and makes its key check;
     * {@code associatedData} binds the context (for example the namespace UUID) and must be given
     * again to unwrap.
     */
    public static Wrapping wrap(SecretKey dataKey, Passphrase pass, KdfParams kdf, byte[] associatedData) {
        Objects.requireNonNull(dataKey, "dataKey");
        Objects.requireNonNull(associatedData, "associatedData");
        try (SecretKey wrappingKey = derive(pass, kdf); Arena arena = Arena.ofConfined()) {
            MemorySegment ad = associatedData(arena, AssociatedData.KEY_WRAP_TAG, associatedData);
            MemorySegment wrapped = arena.allocate(WRAPPED_BYTES);
            MemorySegment nonce = wrapped.asSlice(0, Sodium.NONCE_BYTES);
            Sodium.randomBytes(nonce);
            Sodium.aeadEncrypt(wrapped.asSlice(Sodium.NONCE_BYTES), dataKey.segment(), SecretKey.BYTES,
                    ad, ad.byteSize(), nonce, wrappingKey.segment());
            return new Wrapping(wrapped.toArray(ValueLayout.JAVA_BYTE),
                    keyCheck(arena, wrappingKey));
        }
    }

    /**
     * Opens a key sealed by {@link #wrap}. The caller owns and closes the returned key.
     *
     * @throws WrongPassphraseException     if the passphrase does not open the key check (or, for
     *                                      a wrapping without one, the key); for a namespace with
     *                                      a key check this also covers a changed salt or cost,
     *                                      which no check made with the passphrase can tell apart
     * @throws DamagedKeyMaterialException if the passphrase is right but the wrapped key, the key
     *                                      check or the context does not match, or either has the
     *                                      wrong length
     */
    public static Unwrapped unwrap(Wrapping stored, Passphrase pass, KdfParams kdf, byte[] associatedData)
            throws WrongPassphraseException, DamagedKeyMaterialException {
        Objects.requireNonNull(stored, "stored");
        Objects.requireNonNull(associatedData, "associatedData");
        byte[] wrapped = stored.wrappedKey();
        byte[] check = stored.keyCheck();
        if (wrapped.length != WRAPPED_BYTES) {
            throw new DamagedKeyMaterialException("the wrapped data key has " + wrapped.length + " bytes instead of "
                    + WRAPPED_BYTES);
        }
        if (check != null && check.length != KEY_CHECK_BYTES) {
            throw new DamagedKeyMaterialException("the key check has " + check.length + " bytes instead of "
                    + KEY_CHECK_BYTES);
        }
        try (SecretKey wrappingKey = derive(pass, kdf); Arena arena = Arena.ofConfined()) {
            SecretKey dataKey = openWrapped(arena, wrapped, wrappingKey, associatedData);
            if (check == null) {
                if (dataKey == null) {
                    throw new WrongPassphraseException("wrong passphrase (this namespace has no key check yet, so"
                            + " damaged key material would look the same)");
                }
                return new Unwrapped(dataKey, keyCheck(arena, wrappingKey));
            }
            boolean passphraseRight = keyCheckOpens(arena, check, wrappingKey);
            if (passphraseRight && dataKey != null) {
                return new Unwrapped(dataKey, check.clone());
            }
            if (dataKey != null) {
                dataKey.close();
                throw new DamagedKeyMaterialException("the key check does not match, although the data key opened");
            }
            if (passphraseRight) {
                throw new DamagedKeyMaterialException("the wrapped data key does not open, although the passphrase"
                        + " is right");
            }
            throw new WrongPassphraseException("wrong passphrase");
        }
    }

    /** The data key, or null if the wrapped bytes do not open under {@code wrappingKey}. */
    private static SecretKey openWrapped(Arena arena, byte[] wrapped, SecretKey wrappingKey, byte[] callerData) {
        MemorySegment ad = associatedData(arena, AssociatedData.KEY_WRAP_TAG, callerData);
        MemorySegment sealed = arena.allocate(WRAPPED_BYTES);
        MemorySegment.copy(wrapped, 0, sealed, ValueLayout.JAVA_BYTE, 0, WRAPPED_BYTES);
        SecretKey dataKey = SecretKey.allocate();
        boolean opened;
        try {
            opened = Sodium.aeadDecrypt(dataKey.segment(), sealed.asSlice(Sodium.NONCE_BYTES),
                    WRAPPED_BYTES - Sodium.NONCE_BYTES, ad, ad.byteSize(),
                    sealed.asSlice(0, Sodium.NONCE_BYTES), wrappingKey.segment());
        } catch (RuntimeException | Error e) {
            dataKey.close();
            throw e;
        }
        if (!opened) {
            dataKey.close();
            return null;
        }
        return dataKey;
    }

    private static byte[] keyCheck(Arena arena, SecretKey wrappingKey) {
        MemorySegment ad = associatedData(arena, KEY_CHECK_TAG, new byte[0]);
        MemorySegment check = arena.allocate(KEY_CHECK_BYTES);
        MemorySegment nonce = check.asSlice(0, Sodium.NONCE_BYTES);
        Sodium.randomBytes(nonce);
        Sodium.aeadEncrypt(check.asSlice(Sodium.NONCE_BYTES), MemorySegment.NULL, 0, ad, ad.byteSize(), nonce,
                wrappingKey.segment());
        return check.toArray(ValueLayout.JAVA_BYTE);
    }

    private static boolean keyCheckOpens(Arena arena, byte[] check, SecretKey wrappingKey) {
        MemorySegment ad = associatedData(arena, KEY_CHECK_TAG, new byte[0]);
        MemorySegment sealed = arena.allocate(KEY_CHECK_BYTES);
        MemorySegment.copy(check, 0, sealed, ValueLayout.JAVA_BYTE, 0, KEY_CHECK_BYTES);
        return Sodium.aeadDecrypt(MemorySegment.NULL, sealed.asSlice(Sodium.NONCE_BYTES), Sodium.TAG_BYTES,
                ad, ad.byteSize(), sealed.asSlice(0, Sodium.NONCE_BYTES), wrappingKey.segment());
    }

    /** The key-encryption key: Argon2id13 of the passphrase. */
    private static SecretKey derive(Passphrase pass, KdfParams kdf) {
        Objects.requireNonNull(pass, "pass");
        Objects.requireNonNull(kdf, "kdf");
        SecretKey key = SecretKey.allocate();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment salt = arena.allocate(KdfParams.SALT_BYTES);
            MemorySegment.copy(kdf.salt(), 0, salt, ValueLayout.JAVA_BYTE, 0, KdfParams.SALT_BYTES);
            if (!Sodium.pwhash(key.segment(), pass.segment(), salt, kdf.opsLimit(), kdf.memLimit())) {
                throw new IllegalStateException("passphrase key derivation (" + kdf.algorithm() + ", opsLimit "
                        + kdf.opsLimit() + ", memLimit " + (kdf.memLimit() >> 20) + " MiB) failed:"
                        + " not enough memory, or libsodium rejected the limits");
            }
            return key;
        } catch (RuntimeException | Error e) {
            key.close();
            throw e;
        }
    }

    private static MemorySegment associatedData(Arena arena, byte[] tag, byte[] callerData) {
        MemorySegment ad = arena.allocate(tag.length + callerData.length);
        MemorySegment.copy(tag, 0, ad, ValueLayout.JAVA_BYTE, 0, tag.length);
        MemorySegment.copy(callerData, 0, ad, ValueLayout.JAVA_BYTE, tag.length, callerData.length);
        return ad;
    }
}
