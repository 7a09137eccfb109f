package dev.sqlitesuperfs.crypto;

/**
 * The wrapped data key did not open: the passphrase is wrong, or the wrapped key, its key derivation
 * parameters or its associated data were changed. These cannot be told apart, by design of the
 * authenticated encryption. Carries no stack trace: it is an expected answer, not a fault.
 */
public final class WrongPassphraseException extends Exception {

    WrongPassphraseException(String message) {
        super(message, null, false, false);
    }
}
