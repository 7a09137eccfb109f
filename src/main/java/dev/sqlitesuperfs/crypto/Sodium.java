package dev.sqlitesuperfs.crypto;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import dev.sqlitesuperfs.sys.Libc;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Downcalls into the system libsodium. Every wrapper checks that the segments it is given are large
 * enough for the lengths it passes, because the native side trusts those lengths blindly, and checks
 * the return code of every call that has one.
 *
 * <p>The library is loaded and {@code sodium_init} called once, when this class initialises. A
 * failure is remembered and reported as {@link SodiumUnavailableException} on every use, rather than
 * as a one-off {@link ExceptionInInitializerError} followed by puzzling {@link NoClassDefFoundError}s.
 */
final class Sodium {

    static final String SONAME = "libsodium.so.23";
    static final int KEY_BYTES = 32;
    static final int NONCE_BYTES = 24;
    static final int TAG_BYTES = 16;

    /** One of libsodium's Argon2id cost presets. */
    record Preset(long opsLimit, long memLimit) {}

    /** What libsodium says about Argon2id: its identifier, salt size, bounds and presets. */
    record Argon2id(
            int algorithm,
            long saltBytes,
            long opsLimitMin,
            long opsLimitMax,
            long memLimitMin,
            long memLimitMax,
            Preset interactive,
            Preset moderate,
            Preset sensitive) {}

    /** The bound functions. A record, so that the JIT trusts its fields as constants. */
    record Library(
            MethodHandle randombytesBuf,
            MethodHandle pwhash,
            MethodHandle aeadEncrypt,
            MethodHandle aeadDecrypt,
            MethodHandle genericHash,
            MethodHandle memzero,
            MethodHandle mlock,
            MethodHandle munlock,
            Argon2id argon2id,
            long pageSize) {}

    private static final Library LIBRARY;
    private static final SodiumUnavailableException FAILURE;

    static {
        Library library = null;
        SodiumUnavailableException failure = null;
        try {
            library = load(SONAME);
        } catch (SodiumUnavailableException e) {
            failure = e;
        }
        LIBRARY = library;
        FAILURE = failure;
    }

    private Sodium() {}

    /** Loads and initialises libsodium from {@code soname}; visible for testing the failure path. */
    @SuppressWarnings("restricted") // binding native code is this class's purpose
    static Library load(String soname) {
        SymbolLookup lookup;
        try {
            lookup = SymbolLookup.libraryLookup(soname, Arena.global());
        } catch (IllegalArgumentException e) {
            throw new SodiumUnavailableException(
                    "cannot load " + soname + ": install the Debian package libsodium23"
                            + " (apt-get install libsodium23)",
                    e);
        }
        Binder bind = new Binder(lookup, soname);

        int rc = (int) invoke(bind.function("sodium_init", FunctionDescriptor.of(JAVA_INT)));
        if (rc < 0) {
            throw new SodiumUnavailableException("sodium_init failed in " + soname);
        }

        FunctionDescriptor sizeT = FunctionDescriptor.of(JAVA_LONG);
        Argon2id argon2id = new Argon2id(
                (int) invoke(bind.function("crypto_pwhash_argon2id_alg_argon2id13", FunctionDescriptor.of(JAVA_INT))),
                (long) invoke(bind.function("crypto_pwhash_argon2id_saltbytes", sizeT)),
                (long) invoke(bind.function("crypto_pwhash_argon2id_opslimit_min", sizeT)),
                (long) invoke(bind.function("crypto_pwhash_argon2id_opslimit_max", sizeT)),
                (long) invoke(bind.function("crypto_pwhash_argon2id_memlimit_min", sizeT)),
                (long) invoke(bind.function("crypto_pwhash_argon2id_memlimit_max", sizeT)),
                new Preset(
                        (long) invoke(bind.function("crypto_pwhash_argon2id_opslimit_interactive", sizeT)),
                        (long) invoke(bind.function("crypto_pwhash_argon2id_memlimit_interactive", sizeT))),
                new Preset(
                        (long) invoke(bind.function("crypto_pwhash_argon2id_opslimit_moderate", sizeT)),
                        (long) invoke(bind.function("crypto_pwhash_argon2id_memlimit_moderate", sizeT))),
                new Preset(
                        (long) invoke(bind.function("crypto_pwhash_argon2id_opslimit_sensitive", sizeT)),
                        (long) invoke(bind.function("crypto_pwhash_argon2id_memlimit_sensitive", sizeT))));

        // Locked memory is handed out in whole pages: mlock works on pages, and munlock of one
        // allocation must never unlock a neighbour that shares its page.
        long pageSize = Libc.getpagesize();

        return new Library(
                bind.function("randombytes_buf", FunctionDescriptor.ofVoid(ADDRESS, JAVA_LONG)),
                bind.function("crypto_pwhash", FunctionDescriptor.of(JAVA_INT,
                        ADDRESS, JAVA_LONG, ADDRESS, JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_INT)),
                bind.function("crypto_aead_xchacha20poly1305_ietf_encrypt", FunctionDescriptor.of(JAVA_INT,
                        ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS, JAVA_LONG, ADDRESS, ADDRESS, ADDRESS)),
                bind.function("crypto_aead_xchacha20poly1305_ietf_decrypt", FunctionDescriptor.of(JAVA_INT,
                        ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS, JAVA_LONG, ADDRESS, ADDRESS)),
                bind.function("crypto_generichash", FunctionDescriptor.of(JAVA_INT,
                        ADDRESS, JAVA_LONG, ADDRESS, JAVA_LONG, ADDRESS, JAVA_LONG)),
                bind.function("sodium_memzero", FunctionDescriptor.ofVoid(ADDRESS, JAVA_LONG)),
                bind.function("sodium_mlock", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG)),
                bind.function("sodium_munlock", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG)),
                argon2id,
                pageSize);
    }

    private record Binder(SymbolLookup lookup, String soname) {
        @SuppressWarnings("restricted") // the descriptors match libsodium's prototypes on LP64 Linux
        MethodHandle function(String name, FunctionDescriptor descriptor) {
            MemorySegment symbol = lookup.find(name).orElseThrow(() -> new SodiumUnavailableException(
                    soname + " has no " + name + ": libsodium 1.0.18 or newer is needed"
                            + " (Debian package libsodium23)"));
            return Linker.nativeLinker().downcallHandle(symbol, descriptor);
        }
    }

    private static Object invoke(MethodHandle noArgs) {
        try {
            return noArgs.invoke();
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("native call failed", t);
        }
    }

    private static Library library() {
        Library library = LIBRARY;
        if (library == null) {
            throw new SodiumUnavailableException(FAILURE.getMessage(), FAILURE);
        }
        return library;
    }

    static Argon2id argon2id() {
        return library().argon2id();
    }

    static long pageSize() {
        return library().pageSize();
    }

    /** Fills all of {@code dest} with bytes from libsodium's CSPRNG. */
    static void randomBytes(MemorySegment dest) {
        try {
            library().randombytesBuf().invokeExact(dest, dest.byteSize());
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    /** A fresh array of {@code length} random bytes (for salts; not for secrets, which stay native). */
    static byte[] randomBytes(int length) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(Math.max(length, 1));
            randomBytes(buffer.asSlice(0, length));
            return buffer.asSlice(0, length).toArray(ValueLayout.JAVA_BYTE);
        }
    }

    /**
     * Argon2id13 of {@code passphrase} into all of {@code out}.
     *
     * @return false if libsodium refused: out of memory, or limits it does not accept
     */
    static boolean pwhash(MemorySegment out, MemorySegment passphrase, MemorySegment salt, long opsLimit, long memLimit) {
        Argon2id argon2id = argon2id();
        requireSize(salt, argon2id.saltBytes(), "salt");
        try {
            int rc = (int) library().pwhash().invokeExact(out, out.byteSize(), passphrase, passphrase.byteSize(),
                    salt, opsLimit, memLimit, argon2id.algorithm());
            return rc == 0;
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    /**
     * XChaCha20-Poly1305-IETF: writes {@code plainLength} bytes of ciphertext followed by the tag to
     * {@code cipherAndTag}.
     */
    static void aeadEncrypt(MemorySegment cipherAndTag, MemorySegment plain, long plainLength,
                            MemorySegment ad, long adLength, MemorySegment nonce, MemorySegment key) {
        requireSize(cipherAndTag, plainLength + TAG_BYTES, "ciphertext buffer");
        requireSize(plain, plainLength, "plaintext");
        requireSize(ad, adLength, "associated data");
        requireSize(nonce, NONCE_BYTES, "nonce");
        requireSize(key, KEY_BYTES, "key");
        int rc;
        try {
            rc = (int) library().aeadEncrypt().invokeExact(cipherAndTag, MemorySegment.NULL, plain, plainLength,
                    ad, adLength, MemorySegment.NULL, nonce, key);
        } catch (Throwable t) {
            throw unchecked(t);
        }
        if (rc != 0) {
            throw new IllegalStateException("crypto_aead_xchacha20poly1305_ietf_encrypt failed (" + rc + ")");
        }
    }

    /** Keyed BLAKE2b of {@code inLength} bytes of {@code in} into all of {@code out} (16 to 64 bytes). */
    static void genericHash(MemorySegment out, MemorySegment in, long inLength, MemorySegment key) {
        requireSize(in, inLength, "hash input");
        int rc;
        try {
            rc = (int) library().genericHash().invokeExact(out, out.byteSize(), in, inLength, key, key.byteSize());
        } catch (Throwable t) {
            throw unchecked(t);
        }
        if (rc != 0) {
            throw new IllegalStateException("crypto_generichash failed (" + rc + ")");
        }
    }

    /**
     * Opens {@code cipherLength} bytes of ciphertext-and-tag into {@code plain}.
     *
     * @return false if authentication failed; {@code plain} then holds nothing of value
     */
    static boolean aeadDecrypt(MemorySegment plain, MemorySegment cipherAndTag, long cipherLength,
                               MemorySegment ad, long adLength, MemorySegment nonce, MemorySegment key) {
        if (cipherLength < TAG_BYTES) {
            return false;
        }
        requireSize(plain, cipherLength - TAG_BYTES, "plaintext buffer");
        requireSize(cipherAndTag, cipherLength, "ciphertext");
        requireSize(ad, adLength, "associated data");
        requireSize(nonce, NONCE_BYTES, "nonce");
        requireSize(key, KEY_BYTES, "key");
        try {
            int rc = (int) library().aeadDecrypt().invokeExact(plain, MemorySegment.NULL, MemorySegment.NULL,
                    cipherAndTag, cipherLength, ad, adLength, nonce, key);
            return rc == 0;
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    static void memzero(MemorySegment memory) {
        try {
            library().memzero().invokeExact(memory, memory.byteSize());
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    /** @return false if the kernel refused (RLIMIT_MEMLOCK) */
    static boolean mlock(MemorySegment memory) {
        try {
            return (int) library().mlock().invokeExact(memory, memory.byteSize()) == 0;
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    /** Zeroes, then unlocks (libsodium zeroes first even when the unlock fails). */
    static boolean munlock(MemorySegment memory) {
        try {
            return (int) library().munlock().invokeExact(memory, memory.byteSize()) == 0;
        } catch (Throwable t) {
            throw unchecked(t);
        }
    }

    private static void requireSize(MemorySegment segment, long needed, String what) {
        if (needed < 0 || segment.byteSize() < needed) {
            throw new IllegalArgumentException(what + " has " + segment.byteSize() + " bytes, " + needed + " needed");
        }
    }

    private static RuntimeException unchecked(Throwable t) {
        if (t instanceof RuntimeException e) {
            return e;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException("native call failed", t);
    }
}
