package dev.sqlitesuperfs.fuse;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * One request as read from /dev/fuse: the header and bounds-checked access to the body. A request
 * thread owns one instance and points it at each request it reads, so reading allocates nothing but
 * the names a filesystem call needs as byte arrays.
 */
final class FuseRequest {
    private MemorySegment bytes = MemorySegment.NULL;
    private int length;

    /** Points this view at {@code length} bytes of {@code buffer}, as one read() returned them. */
    FuseRequest wrap(MemorySegment buffer, int length) {
        if (length < Wire.InHeader.SIZE) {
            throw new MalformedRequestException("request of " + length + " bytes is shorter than its header");
        }
        int declared = Wire.u32(buffer, Wire.InHeader.LEN);
        if (declared != length) {
            throw new MalformedRequestException("request header says " + Integer.toUnsignedString(declared)
                    + " bytes but " + length + " were read");
        }
        this.bytes = buffer;
        this.length = length;
        return this;
    }

    int length() {
        return length;
    }

    MemorySegment bytes() {
        return bytes.asSlice(0, length);
    }

    int opcode() {
        return Wire.u32(bytes, Wire.InHeader.OPCODE);
    }

    long unique() {
        return Wire.u64(bytes, Wire.InHeader.UNIQUE);
    }

    long nodeId() {
        return Wire.u64(bytes, Wire.InHeader.NODEID);
    }

    int uid() {
        return Wire.u32(bytes, Wire.InHeader.UID);
    }

    int gid() {
        return Wire.u32(bytes, Wire.InHeader.GID);
    }

    int pid() {
        return Wire.u32(bytes, Wire.InHeader.PID);
    }

    Caller caller() {
        return new Caller(uid(), gid(), pid());
    }

    /** Bytes after the header. */
    int bodyLength() {
        return length - Wire.InHeader.SIZE;
    }

    int u32(int bodyOffset) {
        return Wire.u32(bytes, checked(bodyOffset, 4));
    }

    long u64(int bodyOffset) {
        return Wire.u64(bytes, checked(bodyOffset, 8));
    }

    /** The body bytes {@code [bodyOffset, bodyOffset + size)}, without copying. */
    MemorySegment slice(int bodyOffset, long size) {
        return bytes.asSlice(checked(bodyOffset, size), size);
    }

    byte[] copy(int bodyOffset, int size) {
        long start = checked(bodyOffset, size);
        byte[] copy = new byte[size];
        MemorySegment.copy(bytes, ValueLayout.JAVA_BYTE, start, copy, 0, size);
        return copy;
    }

    /** The NUL-terminated name starting at {@code bodyOffset}, without its NUL. */
    byte[] name(int bodyOffset) {
        long start = checked(bodyOffset, 1);
        for (long i = start; i < length; i++) {
            if (bytes.get(ValueLayout.JAVA_BYTE, i) == 0) {
                byte[] name = new byte[(int) (i - start)];
                MemorySegment.copy(bytes, ValueLayout.JAVA_BYTE, start, name, 0, name.length);
                return name;
            }
        }
        throw new MalformedRequestException(Opcode.name(opcode()) + " name at body offset " + bodyOffset
                + " is not NUL-terminated");
    }

    private long checked(int bodyOffset, long size) {
        long start = Wire.InHeader.SIZE + (long) bodyOffset;
        if (bodyOffset < 0 || size < 0 || start + size > length) {
            throw new MalformedRequestException(Opcode.name(opcode()) + " request of " + length
                    + " bytes has no field at body offset " + bodyOffset + " of size " + size);
        }
        return start;
    }
}
