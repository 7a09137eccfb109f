package dev.sqlitesuperfs.crypto;

/**
 * A sealed payload failed authentication, or is malformed (too short, longer than a block). It was
 * damaged, sealed under another key, or moved from another place, namespace or kind of payload.
 */
public final class IntegrityException extends Exception {

    IntegrityException(String message) {
        super(message);
    }
}
