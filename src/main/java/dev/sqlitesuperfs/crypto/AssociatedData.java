package dev.sqlitesuperfs.crypto;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.UUID;

/**
 * Writes the associated data that binds each sealed payload to its place. The layout is documented
 * on {@link Sealer}; it is part of format version 1 and must never change for it.
 *
 * <p>Every kind starts with the same 28-byte prefix (domain tag, namespace, format version), which
 * is constant for a {@link Sealer} and written once per scratch buffer; only the position that
 * follows is written per call.
 */
final class AssociatedData {

    /** The kinds of payload, each with its 8-byte ASCII domain tag. */
    enum Kind {
        BLOCK("ssfs/blk"),
        SYMLINK("ssfs/sym"),
        XATTR("ssfs/xat"),
        INODE("ssfs/ino"),
        NAME("ssfs/nam"),
        XATTR_NAME("ssfs/xnm");

        private final byte[] tag;

        Kind(String tag) {
            this.tag = tag.getBytes(StandardCharsets.US_ASCII);
        }
    }

    /** Prefixed to the caller's associated data when wrapping a data key. */
    static final byte[] KEY_WRAP_TAG = "ssfs/key".getBytes(StandardCharsets.US_ASCII);

    static final int TAG_BYTES = 8;
    static final int PREFIX_BYTES = TAG_BYTES + 16 + 4;
    static final int INO_OFFSET = PREFIX_BYTES;
    static final int BLOCK_IDX_OFFSET = INO_OFFSET + 8;
    static final int BLOCK_BYTES = BLOCK_IDX_OFFSET + 8;
    static final int SYMLINK_BYTES = INO_OFFSET + 8;
    static final int XATTR_NAME_LENGTH_OFFSET = INO_OFFSET + 8;
    static final int XATTR_NAME_OFFSET = XATTR_NAME_LENGTH_OFFSET + 4;

    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    private AssociatedData() {}

    static long xattrBytes(int nameLength) {
        return XATTR_NAME_OFFSET + (long) nameLength;
    }

    /** Writes tag, namespace UUID (RFC 4122 byte order) and format version at the start of {@code ad}. */
    static void writePrefix(MemorySegment ad, Kind kind, UUID namespace, int formatVersion) {
        MemorySegment.copy(kind.tag, 0, ad, ValueLayout.JAVA_BYTE, 0, TAG_BYTES);
        ad.set(LONG, TAG_BYTES, namespace.getMostSignificantBits());
        ad.set(LONG, TAG_BYTES + 8, namespace.getLeastSignificantBits());
        ad.set(INT, TAG_BYTES + 16, formatVersion);
    }

    /** @return the length of the block associated data */
    static int writeBlockPosition(MemorySegment ad, long ino, long idx) {
        ad.set(LONG, INO_OFFSET, ino);
        ad.set(LONG, BLOCK_IDX_OFFSET, idx);
        return BLOCK_BYTES;
    }

    /** @return the length of the symlink associated data */
    static int writeSymlinkPosition(MemorySegment ad, long ino) {
        ad.set(LONG, INO_OFFSET, ino);
        return SYMLINK_BYTES;
    }

    /** @return the length of the inode authenticator's associated data (the same shape as a symlink's) */
    static int writeInodePosition(MemorySegment ad, long ino) {
        ad.set(LONG, INO_OFFSET, ino);
        return SYMLINK_BYTES;
    }

    /** @return the length of a sealed name's associated data: its directory (the same shape as a symlink's) */
    static int writeNamePosition(MemorySegment ad, long dir) {
        ad.set(LONG, INO_OFFSET, dir);
        return SYMLINK_BYTES;
    }

    /** @return the length of the xattr associated data */
    static long writeXattrPosition(MemorySegment ad, long ino, byte[] name) {
        ad.set(LONG, INO_OFFSET, ino);
        ad.set(INT, XATTR_NAME_LENGTH_OFFSET, name.length);
        MemorySegment.copy(name, 0, ad, ValueLayout.JAVA_BYTE, XATTR_NAME_OFFSET, name.length);
        return xattrBytes(name.length);
    }
}
