package dev.sqlitesuperfs.crypto;

/**
 * The system libsodium could not be loaded or initialised, so nothing can be sealed or opened.
 * The message says which library was looked for and which Debian package provides it.
 */
public final class SodiumUnavailableException extends IllegalStateException {

    SodiumUnavailableException(String message) {
        super(message);
    }

    SodiumUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
