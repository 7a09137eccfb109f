package dev.sqlitesuperfs.sealed;

/**
 * Why a namespace could not be created, opened, upgraded or given a new passphrase, when the
 * reason is one its user can act on. The message is one whole line that names the namespace,
 * meant to be shown as it is; there is no stack trace, because these are answers about the
 * namespace or the passphrase, not faults of this program. Each kind is its own type so that a
 * caller can tell them apart (the command line gives each its exit code).
 *
 * <p>Not among them: {@link TamperedException} (stored data that is not authentic) and the
 * store's own exceptions (the namespace is busy, PostgreSQL is away), which pass through as they
 * are.
 */
public abstract sealed class SealedNamespaceException extends RuntimeException {

    private SealedNamespaceException(String message) {
        super(message, null, false, false);
    }

    /**
     * The passphrase does not open the namespace's key. A changed salt or key derivation cost looks
     * the same, and nothing derived from a passphrase can tell them apart; see
     * {@code crypto.WrongPassphraseException}.
     */
    public static final class WrongPassphrase extends SealedNamespaceException {
        WrongPassphrase(String message) {
            super(message);
        }
    }

    /**
     * The stored key material is not as written (the passphrase opened the key check but not the
     * key, or the parameters are ones no namespace is made with): the passphrase is not the problem.
     */
    public static final class DamagedKeyMaterial extends SealedNamespaceException {
        DamagedKeyMaterial(String message) {
            super(message);
        }
    }

    /**
     * The namespace is not as it was asked to be: it does not exist, has another block size, or has
     * a format that needs an explicit upgrade (or a writable opening) before it can be opened.
     */
    public static final class Mismatch extends SealedNamespaceException {
        Mismatch(String message) {
            super(message);
        }
    }

    /**
     * The database holds an older state of the namespace than this machine saw committed (its
     * freshness anchor records a newer commit number): a restored backup or a rollback by whoever
     * runs PostgreSQL. Refused unless the opening accepts it (after a deliberate restore).
     */
    public static final class RolledBack extends SealedNamespaceException {
        RolledBack(String message) {
            super(message);
        }
    }

    /** The freshness anchor could not be read or written (its directory, a damaged file). */
    public static final class AnchorUnavailable extends SealedNamespaceException {
        AnchorUnavailable(String message) {
            super(message);
        }
    }
}
