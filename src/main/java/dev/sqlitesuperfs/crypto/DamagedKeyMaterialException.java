package dev.sqlitesuperfs.crypto;

/**
 * The passphrase is right (its key check opened) but the namespace's stored key material is not
 * what was written: the wrapped data key, the key check or the context they are bound to changed.
 * Carries no stack trace: it is an answer about stored data, not a fault of this program.
 */
public final class DamagedKeyMaterialException extends Exception {

    DamagedKeyMaterialException(String message) {
        super(message, null, false, false);
    }
}
