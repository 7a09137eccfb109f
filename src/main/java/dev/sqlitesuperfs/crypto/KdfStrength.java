package dev.sqlitesuperfs.crypto;

/**
 * How expensive the passphrase key derivation is: libsodium's Argon2id presets. On this project's
 * reference machine one derivation takes about 80 ms and 64 MiB (interactive), 0.5 s and 256 MiB
 * (moderate), several seconds and 1 GiB (sensitive).
 */
public enum KdfStrength {
    INTERACTIVE,
    MODERATE,
    SENSITIVE;

    /** The preset's numbers, as the loaded libsodium defines them. */
    Sodium.Preset preset() {
        Sodium.Argon2id argon2id = Sodium.argon2id();
        return switch (this) {
            case INTERACTIVE -> argon2id.interactive();
            case MODERATE -> argon2id.moderate();
            case SENSITIVE -> argon2id.sensitive();
        };
    }
}
