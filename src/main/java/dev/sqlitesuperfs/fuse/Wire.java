package dev.sqlitesuperfs.fuse;

import dev.sqlitesuperfs.sys.FileType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The byte layout of the FUSE kernel protocol (linux/fuse.h, protocol 7.38): field offsets of every
 * structure this session reads or writes, and the encoders of the reply structures. All integers
 * are little-endian and read at explicit offsets; nothing here depends on Java object layout.
 *
 * <p>Request structure offsets are relative to the start of the body, which follows the 40-byte
 * {@code fuse_in_header}. Reply structure offsets are relative to where the caller places them.
 */
final class Wire {
    static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private static final long NANOS_PER_SECOND = 1_000_000_000L;

    /** Longest name the kernel accepts in a directory entry (FUSE_NAME_MAX). */
    static final int NAME_MAX = 1024;

    private Wire() {}

    static final class InHeader {
        static final int LEN = 0;
        static final int OPCODE = 4;
        static final int UNIQUE = 8;
        static final int NODEID = 16;
        static final int UID = 24;
        static final int GID = 28;
        static final int PID = 32;
        static final int TOTAL_EXTLEN = 36;
        static final int SIZE = 40;
    }

    static final class OutHeader {
        static final int LEN = 0;
        static final int ERROR = 4;
        static final int UNIQUE = 8;
        static final int SIZE = 16;
    }

    static final class InitIn {
        static final int MAJOR = 0;
        static final int MINOR = 4;
        static final int MAX_READAHEAD = 8;
        static final int FLAGS = 12;
        /** Present only when FUSE_INIT_EXT is set in flags (protocol 7.36 on). */
        static final int FLAGS2 = 16;
        static final int SIZE_BEFORE_EXT = 16;
        static final int SIZE = 64;
    }

    static final class InitOut {
        static final int MAJOR = 0;
        static final int MINOR = 4;
        static final int MAX_READAHEAD = 8;
        static final int FLAGS = 12;
        static final int MAX_BACKGROUND = 16;
        static final int CONGESTION_THRESHOLD = 18;
        static final int MAX_WRITE = 20;
        static final int TIME_GRAN = 24;
        static final int MAX_PAGES = 28;
        static final int MAP_ALIGNMENT = 30;
        static final int FLAGS2 = 32;
        static final int SIZE = 64;
    }

    static final class ForgetIn {
        static final int NLOOKUP = 0;
        static final int SIZE = 8;
    }

    static final class BatchForgetIn {
        static final int COUNT = 0;
        static final int SIZE = 8;
    }

    static final class ForgetOne {
        static final int NODEID = 0;
        static final int NLOOKUP = 8;
        static final int SIZE = 16;
    }

    static final class GetattrIn {
        static final int GETATTR_FLAGS = 0;
        static final int FH = 8;
        static final int SIZE = 16;
        static final int FLAG_FH = 1;
    }

    static final class SetattrIn {
        static final int VALID = 0;
        static final int FH = 8;
        static final int FILE_SIZE = 16;
        static final int LOCK_OWNER = 24;
        static final int ATIME = 32;
        static final int MTIME = 40;
        static final int CTIME = 48;
        static final int ATIMENSEC = 56;
        static final int MTIMENSEC = 60;
        static final int CTIMENSEC = 64;
        static final int MODE = 68;
        static final int UID = 76;
        static final int GID = 80;
        static final int SIZE = 88;
    }

    static final class MknodIn {
        static final int MODE = 0;
        static final int RDEV = 4;
        static final int UMASK = 8;
        static final int SIZE = 16;
    }

    static final class MkdirIn {
        static final int MODE = 0;
        static final int UMASK = 4;
        static final int SIZE = 8;
    }

    static final class RenameIn {
        static final int NEWDIR = 0;
        static final int SIZE = 8;
    }

    static final class Rename2In {
        static final int NEWDIR = 0;
        static final int FLAGS = 8;
        static final int SIZE = 16;
    }

    static final class LinkIn {
        static final int OLDNODEID = 0;
        static final int SIZE = 8;
    }

    static final class OpenIn {
        static final int FLAGS = 0;
        static final int OPEN_FLAGS = 4;
        static final int SIZE = 8;
    }

    static final class CreateIn {
        static final int FLAGS = 0;
        static final int MODE = 4;
        static final int UMASK = 8;
        static final int OPEN_FLAGS = 12;
        static final int SIZE = 16;
    }

    /** fuse_read_in; READ, READDIR and READDIRPLUS share it. */
    static final class ReadIn {
        static final int FH = 0;
        static final int OFFSET = 8;
        static final int READ_SIZE = 16;
        static final int READ_FLAGS = 20;
        static final int LOCK_OWNER = 24;
        static final int FLAGS = 32;
        static final int SIZE = 40;
    }

    static final class WriteIn {
        static final int FH = 0;
        static final int OFFSET = 8;
        static final int WRITE_SIZE = 16;
        static final int WRITE_FLAGS = 20;
        static final int LOCK_OWNER = 24;
        static final int FLAGS = 32;
        static final int SIZE = 40;
    }

    static final class ReleaseIn {
        static final int FH = 0;
        static final int FLAGS = 8;
        static final int RELEASE_FLAGS = 12;
        static final int LOCK_OWNER = 16;
        static final int SIZE = 24;
    }

    static final class FlushIn {
        static final int FH = 0;
        static final int LOCK_OWNER = 16;
        static final int SIZE = 24;
    }

    static final class FsyncIn {
        static final int FH = 0;
        static final int FSYNC_FLAGS = 8;
        static final int SIZE = 16;
        static final int FLAG_FDATASYNC = 1;
    }

    /** The short form of fuse_setxattr_in, used because FUSE_SETXATTR_EXT is never negotiated. */
    static final class SetxattrIn {
        static final int VALUE_SIZE = 0;
        static final int FLAGS = 4;
        static final int SIZE = 8;
    }

    /** fuse_getxattr_in; GETXATTR and LISTXATTR share it. */
    static final class GetxattrIn {
        static final int BUFFER_SIZE = 0;
        static final int SIZE = 8;
    }

    static final class AccessIn {
        static final int MASK = 0;
        static final int SIZE = 8;
    }

    static final class FallocateIn {
        static final int FH = 0;
        static final int OFFSET = 8;
        static final int LENGTH = 16;
        static final int MODE = 24;
        static final int SIZE = 32;
    }

    /** {@code struct fuse_lk_in}, holding a {@code struct fuse_file_lock} at {@link #START}. */
    static final class LkIn {
        static final int FH = 0;
        static final int OWNER = 8;
        static final int START = 16;
        static final int END = 24;
        static final int TYPE = 32;
        static final int PID = 36;
        static final int LK_FLAGS = 40;
        static final int SIZE = 48;
        /** A flock(2) lock rather than a POSIX one (never negotiated here). */
        static final int FLAG_FLOCK = 1;
    }

    /** {@code struct fuse_lk_out}: one {@code struct fuse_file_lock}. */
    static final class LkOut {
        static final int START = 0;
        static final int END = 8;
        static final int TYPE = 16;
        static final int PID = 20;
        static final int SIZE = 24;
    }

    static final class LseekIn {
        static final int FH = 0;
        static final int OFFSET = 8;
        static final int WHENCE = 16;
        static final int SIZE = 24;
    }

    static final class Attr {
        static final int INO = 0;
        static final int FILE_SIZE = 8;
        static final int BLOCKS = 16;
        static final int ATIME = 24;
        static final int MTIME = 32;
        static final int CTIME = 40;
        static final int ATIMENSEC = 48;
        static final int MTIMENSEC = 52;
        static final int CTIMENSEC = 56;
        static final int MODE = 60;
        static final int NLINK = 64;
        static final int UID = 68;
        static final int GID = 72;
        static final int RDEV = 76;
        static final int BLKSIZE = 80;
        static final int FLAGS = 84;
        static final int SIZE = 88;
    }

    static final class EntryOut {
        static final int NODEID = 0;
        static final int GENERATION = 8;
        static final int ENTRY_VALID = 16;
        static final int ATTR_VALID = 24;
        static final int ENTRY_VALID_NSEC = 32;
        static final int ATTR_VALID_NSEC = 36;
        static final int ATTR = 40;
        static final int SIZE = 128;
    }

    static final class AttrOut {
        static final int ATTR_VALID = 0;
        static final int ATTR_VALID_NSEC = 8;
        static final int ATTR = 16;
        static final int SIZE = 104;
    }

    static final class OpenOut {
        static final int FH = 0;
        static final int OPEN_FLAGS = 8;
        static final int SIZE = 16;
    }

    static final class WriteOut {
        static final int WRITTEN = 0;
        static final int SIZE = 8;
    }

    static final class StatfsOut {
        static final int BLOCKS = 0;
        static final int BFREE = 8;
        static final int BAVAIL = 16;
        static final int FILES = 24;
        static final int FFREE = 32;
        static final int BSIZE = 40;
        static final int NAMELEN = 44;
        static final int FRSIZE = 48;
        static final int SIZE = 80;
    }

    static final class GetxattrOut {
        static final int VALUE_SIZE = 0;
        static final int SIZE = 8;
    }

    static final class LseekOut {
        static final int OFFSET = 0;
        static final int SIZE = 8;
    }

    static final class Dirent {
        static final int INO = 0;
        static final int OFF = 8;
        static final int NAMELEN = 16;
        static final int TYPE = 20;
        static final int NAME = 24;
    }

    static final class DirentPlus {
        static final int ENTRY_OUT = 0;
        static final int DIRENT = EntryOut.SIZE;
        static final int NAME = DIRENT + Dirent.NAME;
    }

    static int u16(MemorySegment segment, long offset) {
        return Short.toUnsignedInt(segment.get(U16, offset));
    }

    static int u32(MemorySegment segment, long offset) {
        return segment.get(U32, offset);
    }

    static long u64(MemorySegment segment, long offset) {
        return segment.get(U64, offset);
    }

    static void putU16(MemorySegment segment, long offset, int value) {
        segment.set(U16, offset, (short) value);
    }

    static void putU32(MemorySegment segment, long offset, int value) {
        segment.set(U32, offset, value);
    }

    static void putU64(MemorySegment segment, long offset, long value) {
        segment.set(U64, offset, value);
    }

    /** Records in READDIR replies start on 8-byte boundaries (FUSE_DIRENT_ALIGN). */
    static int align8(int size) {
        return (size + 7) & ~7;
    }

    static int direntSize(int nameLength) {
        return align8(Dirent.NAME + nameLength);
    }

    static int direntPlusSize(int nameLength) {
        return align8(DirentPlus.NAME + nameLength);
    }

    /** The d_type of a mode: its S_IFMT bits shifted down, as DT_* values are defined. */
    static int direntType(int mode) {
        return FileType.of(mode) >>> 12;
    }

    /**
     * Seconds and nanoseconds to nanoseconds since the epoch, saturating far outside the
     * representable range (about the years 1678 to 2262) instead of wrapping around.
     */
    static long toNanos(long seconds, int nanos) {
        try {
            return Math.addExact(Math.multiplyExact(seconds, NANOS_PER_SECOND), Integer.toUnsignedLong(nanos));
        } catch (ArithmeticException outOfRange) {
            return seconds < 0 ? Long.MIN_VALUE : Long.MAX_VALUE;
        }
    }

    /** Whole seconds of a time in nanoseconds, rounded toward negative infinity (pre-1970 times work). */
    static long seconds(long nanos) {
        return Math.floorDiv(nanos, NANOS_PER_SECOND);
    }

    /** The nanoseconds within the second, always in [0, 1e9). */
    static int subsecondNanos(long nanos) {
        return (int) Math.floorMod(nanos, NANOS_PER_SECOND);
    }

    /** Header plus {@code struct fuse_notify_inval_inode_out}. */
    static final int NOTIFY_INVAL_INODE_SIZE = OutHeader.SIZE + 24;
    private static final int FUSE_NOTIFY_INVAL_INODE = 2;

    /**
     * A notification that drops the kernel's cached attributes of {@code ino} (unique 0, the notify
     * code in the error field) and, with {@code pages}, its cached pages too (offset 0, length 0:
     * the whole file); offset -1 leaves the pages alone.
     */
    static void putNotifyInvalInode(MemorySegment message, long ino, boolean pages) {
        putNotifyInvalInode(message, ino, pages ? 0L : -1L, 0);
    }

    private static final int FUSE_NOTIFY_INVAL_ENTRY = 3;

    /** Header plus {@code struct fuse_notify_inval_entry_out} and the name with its terminating NUL. */
    static int notifyInvalEntrySize(byte[] name) {
        return OutHeader.SIZE + 16 + name.length + 1;
    }

    /** A notification that drops the kernel's cached entry (or absence) of {@code name} in {@code parent}. */
    static void putNotifyInvalEntry(MemorySegment message, long parent, byte[] name) {
        putOutHeader(message, notifyInvalEntrySize(name), FUSE_NOTIFY_INVAL_ENTRY, 0);
        putU64(message, OutHeader.SIZE, parent);
        putU32(message, OutHeader.SIZE + 8, name.length);
        putU32(message, OutHeader.SIZE + 12, 0);
        MemorySegment.copy(name, 0, message, ValueLayout.JAVA_BYTE, OutHeader.SIZE + 16, name.length);
        message.set(ValueLayout.JAVA_BYTE, OutHeader.SIZE + 16 + name.length, (byte) 0);
    }

    /** The same for the pages of {@code length} bytes from {@code offset} (length 0: to the end). */
    static void putNotifyInvalInode(MemorySegment message, long ino, long offset, long length) {
        putOutHeader(message, NOTIFY_INVAL_INODE_SIZE, FUSE_NOTIFY_INVAL_INODE, 0);
        putU64(message, OutHeader.SIZE, ino);
        putU64(message, OutHeader.SIZE + 8, offset);
        putU64(message, OutHeader.SIZE + 16, length);
    }

    static void putOutHeader(MemorySegment reply, int length, int error, long unique) {
        putU32(reply, OutHeader.LEN, length);
        putU32(reply, OutHeader.ERROR, error);
        putU64(reply, OutHeader.UNIQUE, unique);
    }

    /** Writes {@code struct fuse_attr}; a null attribute set is written as zeros. */
    static void putAttr(MemorySegment out, long offset, FileAttr attr) {
        if (attr == null) {
            out.asSlice(offset, Attr.SIZE).fill((byte) 0);
            return;
        }
        putU64(out, offset + Attr.INO, attr.ino());
        putU64(out, offset + Attr.FILE_SIZE, attr.size());
        putU64(out, offset + Attr.BLOCKS, attr.blocks());
        putU64(out, offset + Attr.ATIME, seconds(attr.atimeNs()));
        putU64(out, offset + Attr.MTIME, seconds(attr.mtimeNs()));
        putU64(out, offset + Attr.CTIME, seconds(attr.ctimeNs()));
        putU32(out, offset + Attr.ATIMENSEC, subsecondNanos(attr.atimeNs()));
        putU32(out, offset + Attr.MTIMENSEC, subsecondNanos(attr.mtimeNs()));
        putU32(out, offset + Attr.CTIMENSEC, subsecondNanos(attr.ctimeNs()));
        putU32(out, offset + Attr.MODE, attr.mode());
        putU32(out, offset + Attr.NLINK, attr.nlink());
        putU32(out, offset + Attr.UID, attr.uid());
        putU32(out, offset + Attr.GID, attr.gid());
        putU32(out, offset + Attr.RDEV, attr.rdev());
        putU32(out, offset + Attr.BLKSIZE, attr.blksize());
        putU32(out, offset + Attr.FLAGS, 0);
    }

    static void putEntryOut(MemorySegment out, long offset, Entry entry) {
        long entryTtl = Math.max(0, entry.entryTtlNs());
        long attrTtl = Math.max(0, entry.attrTtlNs());
        putU64(out, offset + EntryOut.NODEID, entry.nodeId());
        putU64(out, offset + EntryOut.GENERATION, entry.generation());
        putU64(out, offset + EntryOut.ENTRY_VALID, seconds(entryTtl));
        putU64(out, offset + EntryOut.ATTR_VALID, seconds(attrTtl));
        putU32(out, offset + EntryOut.ENTRY_VALID_NSEC, subsecondNanos(entryTtl));
        putU32(out, offset + EntryOut.ATTR_VALID_NSEC, subsecondNanos(attrTtl));
        putAttr(out, offset + EntryOut.ATTR, entry.attr());
    }

    static void putAttrOut(MemorySegment out, long offset, AttrReply reply) {
        long ttl = Math.max(0, reply.ttlNs());
        putU64(out, offset + AttrOut.ATTR_VALID, seconds(ttl));
        putU32(out, offset + AttrOut.ATTR_VALID_NSEC, subsecondNanos(ttl));
        putU32(out, offset + AttrOut.ATTR_VALID_NSEC + 4, 0);
        putAttr(out, offset + AttrOut.ATTR, reply.attr());
    }

    static void putOpenOut(MemorySegment out, long offset, OpenResult open) {
        putU64(out, offset + OpenOut.FH, open.fh());
        putU32(out, offset + OpenOut.OPEN_FLAGS, open.openFlags());
        putU32(out, offset + OpenOut.OPEN_FLAGS + 4, 0);
    }

    static void putStatfsOut(MemorySegment out, long offset, StatFs statfs) {
        out.asSlice(offset, StatfsOut.SIZE).fill((byte) 0);
        putU64(out, offset + StatfsOut.BLOCKS, statfs.blocks());
        putU64(out, offset + StatfsOut.BFREE, statfs.bfree());
        putU64(out, offset + StatfsOut.BAVAIL, statfs.bavail());
        putU64(out, offset + StatfsOut.FILES, statfs.files());
        putU64(out, offset + StatfsOut.FFREE, statfs.ffree());
        putU32(out, offset + StatfsOut.BSIZE, statfs.bsize());
        putU32(out, offset + StatfsOut.NAMELEN, statfs.namelen());
        putU32(out, offset + StatfsOut.FRSIZE, statfs.frsize());
    }

    /** Writes one {@code fuse_dirent} with its name and zeroed padding; returns its aligned size. */
    static int putDirent(MemorySegment out, long offset, long ino, long nextOffset, int type, byte[] name) {
        int size = direntSize(name.length);
        putU64(out, offset + Dirent.INO, ino);
        putU64(out, offset + Dirent.OFF, nextOffset);
        putU32(out, offset + Dirent.NAMELEN, name.length);
        putU32(out, offset + Dirent.TYPE, type);
        MemorySegment.copy(name, 0, out, ValueLayout.JAVA_BYTE, offset + Dirent.NAME, name.length);
        out.asSlice(offset + Dirent.NAME + name.length, size - Dirent.NAME - name.length).fill((byte) 0);
        return size;
    }

    /** Writes one {@code fuse_direntplus}; returns its aligned size. */
    static int putDirentPlus(MemorySegment out, long offset, Entry entry, byte[] name, long nextOffset) {
        putEntryOut(out, offset + DirentPlus.ENTRY_OUT, entry);
        FileAttr attr = entry.attr();
        long ino = attr != null ? attr.ino() : entry.nodeId();
        int type = attr != null ? direntType(attr.mode()) : 0;
        putDirent(out, offset + DirentPlus.DIRENT, ino, nextOffset, type, name);
        return direntPlusSize(name.length);
    }
}
