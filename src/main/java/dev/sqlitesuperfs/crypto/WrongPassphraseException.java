package dev.sqlitesuperfs.crypto;

/**
 * The passphrase did not open the namespace's key check (or, for a namespace without one, its
 * wrapped data key). A changed salt or key derivation cost has the same effect and cannot be told
 * apart by anything derived from the passphrase; the store's metadata checksum catches those
 * unless it was rewritten too. Carries no stack trace: it is an expected answer, not a fault.
 */
public final class WrongPassphraseException extends Exception {

    WrongPassphraseException(String message) {
        super(message, null, false, false);
    }
}
