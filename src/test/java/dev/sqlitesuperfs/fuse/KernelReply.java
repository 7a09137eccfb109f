package dev.sqlitesuperfs.fuse;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** A reply as the kernel reads it: fuse_out_header, then the body, decoded at fuse.h offsets. */
record KernelReply(int length, int error, long unique, ByteBuffer body) {

    static KernelReply parse(MemorySegment reply, int length) {
        byte[] bytes = reply.asSlice(0, length).toArray(ValueLayout.JAVA_BYTE);
        ByteBuffer all = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer body = ByteBuffer.wrap(bytes, 16, length - 16).slice().order(ByteOrder.LITTLE_ENDIAN);
        return new KernelReply(all.getInt(0), all.getInt(4), all.getLong(8), body);
    }

    int bodyLength() {
        return body.capacity();
    }

    int u32(int offset) {
        return body.getInt(offset);
    }

    long u64(int offset) {
        return body.getLong(offset);
    }

    int u16(int offset) {
        return Short.toUnsignedInt(body.getShort(offset));
    }

    byte[] bytes(int offset, int length) {
        byte[] out = new byte[length];
        body.get(offset, out);
        return out;
    }
}
