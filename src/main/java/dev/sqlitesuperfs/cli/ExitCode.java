package dev.sqlitesuperfs.cli;

import dev.sqlitesuperfs.fuse.MountException;
import dev.sqlitesuperfs.localpg.LocalPostgresException;
import dev.sqlitesuperfs.sealed.SealedNamespaceException;
import dev.sqlitesuperfs.sealed.TamperedException;
import dev.sqlitesuperfs.store.StoreException;

/** Process exit codes: one per kind of failure, so scripts can tell them apart. */
public enum ExitCode {
    OK(0),
    /** A bug or an unexpected environment failure; the log has details. */
    INTERNAL(1),
    /** The command line is wrong. */
    USAGE(2),
    /** No passphrase, an empty or unreadable one, or the wrong one. */
    PASSPHRASE(3),
    /** The namespace is mounted by another process. */
    BUSY(4),
    /** PostgreSQL could not be reached or refused us. */
    DATABASE(5),
    /** The kernel mount failed: /dev/fuse, permissions, the mount directory. */
    MOUNT(6),
    /** The namespace disagrees with what was asked (block size, format version, existence). */
    NAMESPACE(7),
    /** The local PostgreSQL could not be started. */
    LOCAL_DATABASE(8),
    /** fsck found problems. */
    INCONSISTENT(9),
    /**
     * The namespace's stored key material or metadata is not as written (salt, key derivation
     * cost, wrapped key, key check, format version): refused, and the passphrase is not the problem.
     */
    DAMAGED(10),
    /**
     * The control socket: no host answers on it, or its answer cannot be read; for {@code serve},
     * another host already serves on it or it cannot be created.
     */
    NO_HOST(11),
    /** The host refused this user: not root, not the host's own user, not in its --socket-group. */
    HOST_DENIED(12),
    /** {@code status}: a namespace of the host's configuration is not mounted (it failed at start). */
    DEGRADED(13),
    /**
     * The database holds an older state of the namespace than this machine's freshness anchor
     * records (a restore or rollback); --accept-rollback mounts it anyway.
     */
    ROLLED_BACK(14),
    /** The freshness anchor could not be read or written (its directory, a damaged file). */
    ANCHOR(15);

    private final int code;

    ExitCode(int code) {
        this.code = code;
    }

    public int code() {
        return code;
    }

    /** The exit code for a failure that ended a command. */
    public static ExitCode of(Throwable e) {
        return switch (e) {
            case CliException c -> c.exitCode();
            case SealedNamespaceException.WrongPassphrase w -> PASSPHRASE;
            case SealedNamespaceException.DamagedKeyMaterial d -> DAMAGED;
            case SealedNamespaceException.Mismatch m -> NAMESPACE;
            case SealedNamespaceException.RolledBack r -> ROLLED_BACK;
            case SealedNamespaceException.AnchorUnavailable a -> ANCHOR;
            case StoreException.NamespaceBusy b -> BUSY;
            case StoreException.UnsupportedFormat f -> NAMESPACE;
            case StoreException.NotANamespace n -> NAMESPACE;
            case StoreException.NoSuchNamespace n -> NAMESPACE;
            case StoreException.NotCurrent n -> NAMESPACE;
            case StoreException.NamespaceExists n -> NAMESPACE;
            case StoreException.DamagedMetadata d -> DAMAGED;
            case TamperedException t -> DAMAGED;
            case StoreException.UnsupportedServer u -> DATABASE;
            case StoreException s -> DATABASE;
            case MountException m -> MOUNT;
            case LocalPostgresException l -> LOCAL_DATABASE;
            case IllegalArgumentException i -> USAGE;
            default -> INTERNAL;
        };
    }
}
