package dev.sqlitesuperfs.fuse;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * Builds request bytes the way the kernel lays them out: a 40-byte fuse_in_header, then the
 * opcode's structure and names. Offsets here are written out from linux/fuse.h independently of
 * {@link Wire}, so a wrong offset there shows up as a failing test rather than as agreement.
 */
final class KernelRequest {
    static final int UID = 1000;
    static final int GID = 1001;
    static final int PID = 4242;

    private final int opcode;
    private final long nodeId;
    private final ByteBuffer body = ByteBuffer.allocate(2 << 20).order(ByteOrder.LITTLE_ENDIAN);
    private long unique = 77;

    private KernelRequest(int opcode, long nodeId) {
        this.opcode = opcode;
        this.nodeId = nodeId;
    }

    static KernelRequest of(int opcode, long nodeId) {
        return new KernelRequest(opcode, nodeId);
    }

    KernelRequest unique(long value) {
        unique = value;
        return this;
    }

    KernelRequest u32(int value) {
        body.putInt(value);
        return this;
    }

    KernelRequest u64(long value) {
        body.putLong(value);
        return this;
    }

    KernelRequest bytes(byte[] value) {
        body.put(value);
        return this;
    }

    /** A name as the kernel sends it: its bytes and a NUL. */
    KernelRequest name(byte[] value) {
        body.put(value).put((byte) 0);
        return this;
    }

    KernelRequest name(String value) {
        return name(value.getBytes(StandardCharsets.UTF_8));
    }

    long unique() {
        return unique;
    }

    /** The whole request in a fresh native segment, exactly as long as the request. */
    MemorySegment build(Arena arena) {
        int length = 40 + body.position();
        ByteBuffer all = ByteBuffer.allocate(length).order(ByteOrder.LITTLE_ENDIAN);
        all.putInt(length).putInt(opcode).putLong(unique).putLong(nodeId)
                .putInt(UID).putInt(GID).putInt(PID).putShort((short) 0).putShort((short) 0);
        all.put(body.array(), 0, body.position());
        MemorySegment segment = arena.allocate(length, 8);
        segment.copyFrom(MemorySegment.ofArray(all.array()));
        return segment;
    }
}
