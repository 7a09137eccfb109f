package dev.sqlitesuperfs.crypto;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
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
 */
public final class KeyWrapping {

    public static final int WRAPPED_BYTES = Sodium.NONCE_BYTES + SecretKey.BYTES + Sodium.TAG_BYTES;

    private KeyWrapping() {}

    /**
     * Seals {@code dataKey} under a key derived from {@code pass}; {@code associatedData} binds the
     * context (for example the namespace UUID and format version) and must be given again to unwrap.
     */
    public static byte[] wrap(SecretKey dataKey, Passphrase pass, KdfParams kdf, byte[] associatedData) {
        Objects.requireNonNull(dataKey, "dataKey");
        Objects.requireNonNull(associatedData, "associatedData");
        try (SecretKey wrappingKey = derive(pass, kdf); Arena arena = Arena.ofConfined()) {
            MemorySegment ad = associatedData(arena, associatedData);
            MemorySegment wrapped = arena.allocate(WRAPPED_BYTES);
            MemorySegment nonce = wrapped.asSlice(0, Sodium.NONCE_BYTES);
            Sodium.randomBytes(nonce);
            Sodium.aeadEncrypt(wrapped.asSlice(Sodium.NONCE_BYTES), dataKey.segment(), SecretKey.BYTES,
                    ad, ad.byteSize(), nonce, wrappingKey.segment());
            return wrapped.toArray(ValueLayout.JAVA_BYTE);
        }
    }

    /**
     * Opens a key sealed by {@link #wrap}. The caller owns and closes the returned key.
     *
     * @throws WrongPassphraseException if the passphrase (or the wrapped bytes / AD) do not match
     */
    public static SecretKey unwrap(byte[] wrapped, Passphrase pass, KdfParams kdf, byte[] associatedData)
            throws WrongPassphraseException {
        Objects.requireNonNull(wrapped, "wrapped");
        Objects.requireNonNull(associatedData, "associatedData");
        if (wrapped.length != WRAPPED_BYTES) {
            throw new WrongPassphraseException("the wrapped data key has " + wrapped.length
                    + " bytes instead of " + WRAPPED_BYTES + ": the namespace's key metadata is damaged");
        }
        try (SecretKey wrappingKey = derive(pass, kdf); Arena arena = Arena.ofConfined()) {
            MemorySegment ad = associatedData(arena, associatedData);
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
                throw new WrongPassphraseException(
                        "wrong passphrase (or the namespace's key metadata is damaged)");
            }
            return dataKey;
        }
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

    private static MemorySegment associatedData(Arena arena, byte[] callerData) {
        int tagBytes = AssociatedData.KEY_WRAP_TAG.length;
        MemorySegment ad = arena.allocate(tagBytes + callerData.length);
        MemorySegment.copy(AssociatedData.KEY_WRAP_TAG, 0, ad, ValueLayout.JAVA_BYTE, 0, tagBytes);
        MemorySegment.copy(callerData, 0, ad, ValueLayout.JAVA_BYTE, tagBytes, callerData.length);
        return ad;
    }
}
