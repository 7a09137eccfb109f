package dev.sqlitesuperfs.localpg;

/** The local PostgreSQL could not be found, initialised, started or stopped. One line, no secrets. */
public final class LocalPostgresException extends RuntimeException {
    public LocalPostgresException(String message) {
        super(message);
    }

    public LocalPostgresException(String message, Throwable cause) {
        super(message, cause);
    }
}
