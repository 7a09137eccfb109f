package dev.sqlitesuperfs.fuse;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * How to mount and serve: the directory, the kernel mount options and the session's own settings.
 *
 * @param mountPoint         an existing directory
 * @param fsName             shown as the source in /proc/mounts (for example the namespace)
 * @param subtype            shown as {@code fuse.<subtype>} in /proc/mounts
 * @param ownerUid           the mount's owner (user_id=); only this user may use the mount unless
 *                           {@code allowOther}
 * @param ownerGid           group_id=
 * @param allowOther         let every user use the mount (allow_other)
 * @param defaultPermissions let the kernel check permissions from the mode bits (default_permissions)
 * @param readOnly           MS_RDONLY
 * @param extraOptions       further kernel mount options passed through as given (for example
 *                           {@code max_read=131072}); validated by the kernel
 * @param maxWrite           largest WRITE the kernel may send, in bytes (at most 1 MiB)
 * @param threads            workers of the mount's own request pool, all of which may serve it at
 *                           once; not used for a mount served by a shared {@link RequestPool}
 * @param writebackCache     ask for the kernel's writeback cache
 */
public record MountOptions(
        Path mountPoint,
        String fsName,
        String subtype,
        int ownerUid,
        int ownerGid,
        boolean allowOther,
        boolean defaultPermissions,
        boolean readOnly,
        List<String> extraOptions,
        int maxWrite,
        int threads,
        boolean writebackCache) {

    public static final int MAX_WRITE_LIMIT = 1 << 20;

    public MountOptions {
        Objects.requireNonNull(mountPoint, "mountPoint");
        Objects.requireNonNull(fsName, "fsName");
        Objects.requireNonNull(subtype, "subtype");
        extraOptions = List.copyOf(extraOptions);
        if (maxWrite < 4096 || maxWrite > MAX_WRITE_LIMIT) {
            throw new IllegalArgumentException("maxWrite must be between 4096 and " + MAX_WRITE_LIMIT);
        }
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be at least 1");
        }
    }

    /** The defaults this project mounts with: 1 MiB writes, writeback cache, default_permissions. */
    public static MountOptions defaults(Path mountPoint, String fsName, int ownerUid, int ownerGid) {
        return new MountOptions(mountPoint, fsName, "sqlitesuperfs", ownerUid, ownerGid, false, true, false,
                List.of(), MAX_WRITE_LIMIT, 16, true);
    }
}
