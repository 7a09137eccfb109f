package dev.sqlitesuperfs.store;

/**
 * The database could not do what was asked. Transient failures (lost connection, serialization
 * failure, deadlock, server restart) have already been retried by the time this is thrown.
 * Subclasses name the cases a caller treats differently; the message never contains credentials.
 */
public class StoreException extends RuntimeException {
    public StoreException(String message) {
        super(message);
    }

    public StoreException(String message, Throwable cause) {
        super(message, cause);
    }

    /**
     * A new exception of the same kind as {@code cause}, which another thread threw (a commit's
     * leader, for a caller that waited): so that the caller's stack shows where it waited.
     */
    static RuntimeException rethrownHere(Throwable cause) {
        return switch (cause) {
            case Fenced f -> new Fenced(f.getMessage());
            case Unavailable u -> new Unavailable(u.getMessage(), u.getCause());
            case StoreException s -> new StoreException(s.getMessage(), s);
            case RuntimeException r -> r;
            default -> new StoreException("commit failed: " + cause, cause);
        };
    }

    /** Another process holds the namespace (it is mounted elsewhere). */
    public static final class NamespaceBusy extends StoreException {
        public NamespaceBusy(String message) {
            super(message);
        }
    }

    /** The server does not replicate commits synchronously, and the mount was asked to require it. */
    public static final class NotSynchronous extends StoreException {
        public NotSynchronous(String message) {
            super(message);
        }
    }

    /** PostgreSQL could not be reached, or kept failing, for longer than the retry timeout. */
    public static final class Unavailable extends StoreException {
        public Unavailable(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /**
     * This process no longer owns the namespace: its lock was lost and another mount took the
     * namespace meanwhile. Nothing more may be written; the mount must stop writing for good.
     */
    public static final class Fenced extends StoreException {
        public Fenced(String message) {
            super(message);
        }
    }

    /** The namespace was written by a newer format version than this program knows. */
    public static final class UnsupportedFormat extends StoreException {
        public UnsupportedFormat(String message) {
            super(message);
        }
    }

    /**
     * The namespace's metadata is not as written: its checksum does not match, or its format
     * version contradicts its tables. The key material cannot be trusted; nothing is opened.
     */
    public static final class DamagedMetadata extends StoreException {
        public DamagedMetadata(String message) {
            super(message);
        }
    }

    /** The PostgreSQL server is older than the oldest version this program works with. */
    public static final class UnsupportedServer extends StoreException {
        public UnsupportedServer(String message) {
            super(message);
        }
    }

    /** A schema of the namespace's name exists, but it is not a namespace (no meta table). */
    public static final class NotANamespace extends StoreException {
        public NotANamespace(String message) {
            super(message);
        }
    }

    /** No namespace of that name exists (for commands that do not create one). */
    public static final class NoSuchNamespace extends StoreException {
        public NoSuchNamespace(String message) {
            super(message);
        }
    }

    /**
     * The server holds a copy of the namespace that a move between servers has left or not yet
     * switched to (see {@link Placement}): the namespace is served from the other server.
     */
    public static final class NotCurrent extends StoreException {
        public NotCurrent(String message) {
            super(message);
        }
    }

    /** A namespace of that name exists already (for commands that only create one). */
    public static final class NamespaceExists extends StoreException {
        public NamespaceExists(String message) {
            super(message);
        }
    }
}
