package dev.sqlitesuperfs.sys;

/**
 * The file type bits of a mode ({@code st_mode}), as {@code <sys/stat.h>} defines them: the one
 * definition that the filesystem, the store (which queries by type) and the FUSE layer (which
 * derives {@code d_type} from them) share.
 */
public final class FileType {
    /** S_IFMT: the bits that hold the type. */
    public static final int MASK = 0170000;
    public static final int SOCKET = 0140000;
    public static final int SYMLINK = 0120000;
    public static final int REGULAR = 0100000;
    public static final int BLOCK_DEVICE = 0060000;
    public static final int DIRECTORY = 0040000;
    public static final int CHARACTER_DEVICE = 0020000;
    public static final int FIFO = 0010000;

    private FileType() {}

    /** The type bits of {@code mode}. */
    public static int of(int mode) {
        return mode & MASK;
    }

    public static boolean isDirectory(int mode) {
        return of(mode) == DIRECTORY;
    }

    public static boolean isRegular(int mode) {
        return of(mode) == REGULAR;
    }

    public static boolean isSymlink(int mode) {
        return of(mode) == SYMLINK;
    }
}
