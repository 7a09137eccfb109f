package dev.sqlitesuperfs.fuse;

import java.lang.foreign.MemorySegment;

/**
 * Fills the body of a READDIR or READDIRPLUS reply with 8-byte aligned records, up to the size the
 * kernel asked for. Once a record does not fit, the reply is full: later, smaller records are
 * refused too, because the kernel continues from the offset of the last record it received.
 * A request thread owns one and resets it per request.
 */
final class DirentWriter implements DirSink, DirPlusSink {
    private MemorySegment out = MemorySegment.NULL;
    private long start;
    private long limit;
    private long position;
    private boolean full;

    /** Records go to {@code out} from {@code start}, at most {@code maxBytes} of them. */
    DirentWriter reset(MemorySegment out, long start, long maxBytes) {
        this.out = out;
        this.start = start;
        this.limit = start + Math.min(maxBytes, out.byteSize() - start);
        this.position = start;
        this.full = false;
        return this;
    }

    int bytesWritten() {
        return (int) (position - start);
    }

    @Override
    public boolean add(byte[] name, long ino, int mode, long nextOffset) {
        checkRecord(name, nextOffset);
        if (!fits(Wire.direntSize(name.length))) {
            return false;
        }
        position += Wire.putDirent(out, position, ino, nextOffset, Wire.direntType(mode), name);
        return true;
    }

    @Override
    public boolean add(byte[] name, Entry entry, long nextOffset) {
        checkRecord(name, nextOffset);
        if (entry == null) {
            throw new IllegalArgumentException("a READDIRPLUS record needs an entry");
        }
        if (!fits(Wire.direntPlusSize(name.length))) {
            return false;
        }
        position += Wire.putDirentPlus(out, position, entry, name, nextOffset);
        return true;
    }

    private boolean fits(int recordSize) {
        if (full || position + recordSize > limit) {
            full = true;
            return false;
        }
        return true;
    }

    private static void checkRecord(byte[] name, long nextOffset) {
        if (name.length == 0 || name.length > Wire.NAME_MAX) {
            throw new IllegalArgumentException("directory entry name of " + name.length + " bytes");
        }
        for (byte b : name) {
            if (b == 0 || b == '/') {
                throw new IllegalArgumentException("directory entry name contains NUL or '/'");
            }
        }
        if (nextOffset == 0) {
            throw new IllegalArgumentException("directory entry offset 0 would restart the listing");
        }
    }
}
