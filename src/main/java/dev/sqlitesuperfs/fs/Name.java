package dev.sqlitesuperfs.fs;

import dev.sqlitesuperfs.fuse.Errno;
import dev.sqlitesuperfs.fuse.FuseException;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * A file name as raw bytes: names are never decoded, so that non-UTF-8 names round-trip. Used as
 * a map key, hence the value equality.
 */
final class Name {
    static final int MAX_LENGTH = 255;

    private final byte[] bytes;
    private final int hash;

    private Name(byte[] bytes) {
        this.bytes = bytes;
        this.hash = Arrays.hashCode(bytes);
    }

    /** Wraps {@code bytes} without copying; the caller must not change them afterwards. */
    static Name of(byte[] bytes) {
        return new Name(bytes);
    }

    /**
     * A name from a request, checked: ENOENT for an empty one, ENAMETOOLONG past 255 bytes,
     * EINVAL for '/' or NUL. Copies the bytes.
     */
    static Name checked(byte[] name) {
        if (name.length == 0) {
            throw new FuseException(Errno.ENOENT);
        }
        if (name.length > MAX_LENGTH) {
            throw new FuseException(Errno.ENAMETOOLONG);
        }
        for (byte b : name) {
            if (b == '/' || b == 0) {
                throw new FuseException(Errno.EINVAL);
            }
        }
        return new Name(name.clone());
    }

    byte[] bytes() {
        return bytes;
    }

    boolean isDot() {
        return bytes.length == 1 && bytes[0] == '.';
    }

    boolean isDotDot() {
        return bytes.length == 2 && bytes[0] == '.' && bytes[1] == '.';
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Name other && hash == other.hash && Arrays.equals(bytes, other.bytes);
    }

    @Override
    public int hashCode() {
        return hash;
    }

    /** For log lines: the name as text when it is printable ASCII, else as hex. */
    @Override
    public String toString() {
        for (byte b : bytes) {
            if (b < 0x20 || b > 0x7e) {
                return "0x" + HexFormat.of().formatHex(bytes);
            }
        }
        return new String(bytes, java.nio.charset.StandardCharsets.US_ASCII);
    }
}
