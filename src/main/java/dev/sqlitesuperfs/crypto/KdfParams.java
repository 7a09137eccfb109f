package dev.sqlitesuperfs.crypto;

import java.util.Arrays;
import java.util.HexFormat;
import java.util.Objects;

/**
 * Parameters of the passphrase key derivation, stored in the namespace's metadata.
 *
 * <p>They are read back from storage the server controls, so the constructor rejects anything
 * libsodium would not accept as damaged. The salt is copied in and out, so that a record once
 * checked cannot be changed.
 *
 * @param algorithm always {@value #ARGON2ID13}
 * @param opsLimit  Argon2id time cost (passes over memory)
 * @param memLimit  Argon2id memory cost in bytes
 * @param salt      {@value #SALT_BYTES} random bytes; not secret
 */
public record KdfParams(String algorithm, long opsLimit, long memLimit, byte[] salt) {

    public static final String ARGON2ID13 = "argon2id13";
    public static final int SALT_BYTES = 16;

    public KdfParams {
        Objects.requireNonNull(algorithm, "algorithm");
        Objects.requireNonNull(salt, "salt");
        if (!ARGON2ID13.equals(algorithm)) {
            throw damaged("unknown algorithm '" + algorithm + "'");
        }
        if (salt.length != SALT_BYTES) {
            throw damaged("salt has " + salt.length + " bytes, expected " + SALT_BYTES);
        }
        Sodium.Argon2id limits = Sodium.argon2id();
        if (opsLimit < limits.opsLimitMin() || opsLimit > limits.opsLimitMax()) {
            throw damaged("opsLimit " + opsLimit + " is outside [" + limits.opsLimitMin() + ", "
                    + limits.opsLimitMax() + "]");
        }
        if (memLimit < limits.memLimitMin() || memLimit > limits.memLimitMax()) {
            throw damaged("memLimit " + memLimit + " is outside [" + limits.memLimitMin() + ", "
                    + limits.memLimitMax() + "]");
        }
        salt = salt.clone();
    }

    /** Parameters for a new namespace: the preset's costs and a fresh random salt. */
    public static KdfParams generate(KdfStrength strength) {
        Sodium.Preset preset = strength.preset();
        return new KdfParams(ARGON2ID13, preset.opsLimit(), preset.memLimit(), Sodium.randomBytes(SALT_BYTES));
    }

    /** The same algorithm and costs with a fresh random salt: what a passphrase change keeps. */
    public static KdfParams withNewSalt(KdfParams kept) {
        return new KdfParams(kept.algorithm, kept.opsLimit, kept.memLimit, Sodium.randomBytes(SALT_BYTES));
    }

    /** A copy of the salt. */
    @Override
    public byte[] salt() {
        return salt.clone();
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof KdfParams that
                && algorithm.equals(that.algorithm)
                && opsLimit == that.opsLimit
                && memLimit == that.memLimit
                && Arrays.equals(salt, that.salt);
    }

    @Override
    public int hashCode() {
        return Objects.hash(algorithm, opsLimit, memLimit, Arrays.hashCode(salt));
    }

    @Override
    public String toString() {
        return "KdfParams[" + algorithm + ", opsLimit=" + opsLimit + ", memLimit=" + memLimit
                + ", salt=" + HexFormat.of().formatHex(salt) + "]";
    }

    private static IllegalArgumentException damaged(String detail) {
        return new IllegalArgumentException("key derivation parameters are damaged: " + detail);
    }
}
