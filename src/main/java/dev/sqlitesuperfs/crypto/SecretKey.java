package dev.sqlitesuperfs.crypto;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A 256-bit key in locked native memory; {@link #close()} zeroes and unlocks it. The key's bytes
 * never pass through the Java heap (except in {@link #copyOf}, which exists for test vectors) and
 * are never printed.
 *
 * <p>Thread-safe. Closing waits for native calls that are using the key to finish; after that,
 * every use throws {@link IllegalStateException}.
 */
public final class SecretKey implements AutoCloseable {

    static final int BYTES = Sodium.KEY_BYTES;

    private final LockedMemory memory;

    private SecretKey() {
        this.memory = new LockedMemory("SecretKey", BYTES);
    }

    /** A fresh key from libsodium's CSPRNG. */
    public static SecretKey random() {
        SecretKey key = allocate();
        try {
            Sodium.randomBytes(key.segment());
        } catch (RuntimeException | Error e) {
            key.close();
            throw e;
        }
        return key;
    }

    /** A key of zero bytes, for native calls to fill (derivation, unwrapping). */
    static SecretKey allocate() {
        return new SecretKey();
    }

    /** A key with the given bytes; for fixed test vectors only, since it puts the key on the heap. */
    static SecretKey copyOf(byte[] bytes) {
        if (bytes.length != BYTES) {
            throw new IllegalArgumentException("a key has " + BYTES + " bytes, not " + bytes.length);
        }
        SecretKey key = allocate();
        MemorySegment.copy(bytes, 0, key.segment(), ValueLayout.JAVA_BYTE, 0, BYTES);
        return key;
    }

    /** The key's memory, for passing to native calls. */
    MemorySegment segment() {
        return memory.segment();
    }

    /** The pages behind the key, still readable after close; only for checking the wipe. */
    MemorySegment pagesForInspection() {
        return memory.pagesForInspection();
    }

    /** Whether {@link #close()} has zeroed the key; every use of a closed key fails. */
    public boolean isClosed() {
        return memory.isClosed();
    }

    /** Zeroes and unlocks the key. Idempotent. */
    @Override
    public void close() {
        memory.close();
    }

    @Override
    public String toString() {
        return memory.isClosed() ? "SecretKey[closed]" : "SecretKey[256 bits]";
    }
}
