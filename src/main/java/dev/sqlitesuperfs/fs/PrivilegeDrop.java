package dev.sqlitesuperfs.fs;

import dev.sqlitesuperfs.fuse.Caller;
import dev.sqlitesuperfs.sys.FileType;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * What a write, truncation or change of owner takes away from a file, as Linux does it on local
 * filesystems. Under FUSE_HANDLE_KILLPRIV_V2 this is the filesystem's job; the kernel only says,
 * per request, whether the caller lacks CAP_FSETID.
 *
 * <ul>
 *   <li>security.capability goes on every write, truncation and change of owner;
 *   <li>set-user-ID goes on a change of owner, and on a write or truncation by a caller without
 *       CAP_FSETID;
 *   <li>set-group-ID goes in the same cases when the group may execute the file; without group
 *       execute it goes only when the caller is not in the file's group (and lacks CAP_FSETID).
 * </ul>
 */
final class PrivilegeDrop {
    static final Name CAPABILITY = Name.of("security.capability".getBytes(StandardCharsets.US_ASCII));

    private static final int S_IXGRP = 0010;

    private PrivilegeDrop() {}

    /** The mode after a write or truncation by {@code caller}, who lacks CAP_FSETID. */
    static int afterModification(int mode, int fileGid, Caller caller) {
        int kept = mode & ~Node.S_ISUID;
        if ((kept & Node.S_ISGID) != 0 && ((kept & S_IXGRP) != 0 || !inGroup(caller, fileGid))) {
            kept &= ~Node.S_ISGID;
        }
        return kept;
    }

    /** The mode of a non-directory after its owner or group changed at {@code caller}'s request. */
    static int afterChown(int mode, int fileGid, Caller caller) {
        if ((mode & FileType.MASK) == FileType.DIRECTORY) {
            return mode;
        }
        int kept = mode & ~Node.S_ISUID;
        if ((kept & Node.S_ISGID) != 0
                && ((kept & S_IXGRP) != 0 || (caller.uid() != 0 && !inGroup(caller, fileGid)))) {
            kept &= ~Node.S_ISGID;
        }
        return kept;
    }

    /**
     * Whether the caller's process is in group {@code gid}, supplementary groups included (read
     * from /proc, since the request carries only the primary group). Only asked about files that
     * have set-group-ID without group execute, so the read is rare.
     */
    static boolean inGroup(Caller caller, int gid) {
        if (caller.gid() == gid) {
            return true;
        }
        if (caller.pid() <= 0) {
            return false;
        }
        try {
            List<String> status = Files.readAllLines(Path.of("/proc", Integer.toString(caller.pid()), "status"),
                    StandardCharsets.US_ASCII);
            for (String line : status) {
                if (line.startsWith("Groups:")) {
                    for (String g : line.substring("Groups:".length()).trim().split("\\s+")) {
                        if (!g.isEmpty() && Integer.toUnsignedString(gid).equals(g)) {
                            return true;
                        }
                    }
                }
            }
        } catch (IOException e) {
            // The process is gone: nobody is left whose membership could matter.
        }
        return false;
    }
}
