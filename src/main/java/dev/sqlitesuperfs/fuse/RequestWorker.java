package dev.sqlitesuperfs.fuse;

import dev.sqlitesuperfs.sys.Libc;
import dev.sqlitesuperfs.sys.SysException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One worker's buffers and what it does with them: read one request from a /dev/fuse descriptor,
 * answer it, write the reply. Requests are read into one buffer and replies encoded into the other,
 * which leave with a single write; both are reused for every request, of whichever mount.
 */
final class RequestWorker {
    private static final Logger log = LoggerFactory.getLogger(RequestWorker.class);

    /**
     * The kernel refuses to read into a buffer smaller than the header, the WRITE struct and
     * max_write together; a page covers the header and the largest request struct.
     */
    static final int REQUEST_OVERHEAD = 4096;
    /** XATTR_SIZE_MAX: a SETXATTR value of any legal size must fit, whatever max_write is. */
    static final int XATTR_SIZE_MAX = 64 * 1024;
    /** READ may ask for up to max_pages pages; READDIR and xattr replies stay well below 1 MiB. */
    static final int MIN_REPLY_BODY = 1 << 20;
    /** Before INIT the kernel sends nothing else, and every answer then fits in a page. */
    private static final int INIT_REPLY_SIZE = 4096;

    private static final int ENOENT = 2;
    private static final int EINTR = 4;
    private static final int EAGAIN = 11;
    private static final int ENODEV = 19;
    private static final int ECONNABORTED = 103;

    /** What one read of /dev/fuse brought. */
    enum Read {
        /** A request, to be {@link #answer answered}. */
        REQUEST,
        /** Nothing: no request was waiting (another reader took it, or it was withdrawn). */
        NOTHING,
        /** The connection is gone (unmounted or aborted), or reading it fails for good. */
        ENDED
    }

    private final MemorySegment requestBuffer;
    private final MemorySegment replyBuffer;
    private final FuseRequest request = new FuseRequest();
    private final DirentWriter dirents = new DirentWriter();
    private long length;

    private RequestWorker(MemorySegment requestBuffer, MemorySegment replyBuffer) {
        this.requestBuffer = requestBuffer;
        this.replyBuffer = replyBuffer;
    }

    /** Buffers for any request of mounts whose max_write is at most {@code maxWrite}. */
    static RequestWorker forMaxWrite(Arena arena, int maxWrite) {
        return new RequestWorker(arena.allocate(requestBufferSize(maxWrite), 4096),
                arena.allocate(replyBufferSize(maxWrite), 4096));
    }

    /** Buffers for INIT only: a full request buffer, which the kernel insists on, and a small reply one. */
    static RequestWorker forInit(Arena arena, int maxWrite) {
        return new RequestWorker(arena.allocate(requestBufferSize(maxWrite), 4096),
                arena.allocate(INIT_REPLY_SIZE, 8));
    }

    static long requestBufferSize(int maxWrite) {
        return (long) Math.max(maxWrite, XATTR_SIZE_MAX) + REQUEST_OVERHEAD;
    }

    static long replyBufferSize(int maxWrite) {
        return Wire.OutHeader.SIZE + (long) Math.max(maxWrite, MIN_REPLY_BODY);
    }

    /** Reads one request from {@code fd} into the request buffer. */
    Read read(int fd) {
        try {
            length = Libc.read(fd, requestBuffer, requestBuffer.byteSize());
            return Read.REQUEST;
        } catch (SysException e) {
            return switch (e.errno()) {
                // ENOENT: the request was interrupted and withdrawn before we got it.
                case EINTR, EAGAIN, ENOENT -> Read.NOTHING;
                case ENODEV, ECONNABORTED -> Read.ENDED;
                default -> {
                    log.error("reading /dev/fuse failed; the connection is no longer served", e);
                    yield Read.ENDED;
                }
            };
        }
    }

    /** Answers the request the last {@link #read} brought, and writes the reply to {@code fd}. */
    void answer(int fd, RequestDispatcher dispatcher, RequestTap tap) {
        FuseRequest current;
        try {
            current = request.wrap(requestBuffer, (int) length);
        } catch (MalformedRequestException e) {
            log.error("malformed request from the kernel: {}", e.getMessage());
            refuseUnreadable(fd);
            return;
        }
        if (tap != null) {
            tap.requestRead(current.bytes());
        }
        int replyLength = dispatcher.dispatch(current, replyBuffer, dirents);
        if (replyLength > 0) {
            send(fd, dispatcher, replyLength, current);
        }
    }

    /** A request whose header we could not trust still has its unique id; answer so no caller hangs. */
    private void refuseUnreadable(int fd) {
        if (length < Wire.InHeader.NODEID) {
            return;
        }
        long unique = Wire.u64(requestBuffer, Wire.InHeader.UNIQUE);
        Wire.putOutHeader(replyBuffer, Wire.OutHeader.SIZE, -Errno.EIO, unique);
        try {
            Libc.write(fd, replyBuffer, Wire.OutHeader.SIZE);
        } catch (SysException e) {
            log.warn("the kernel refused the EIO answer to unique {}: {}", unique, e.getMessage());
        }
    }

    private void send(int fd, RequestDispatcher dispatcher, int replyLength, FuseRequest answered) {
        try {
            Libc.write(fd, replyBuffer, replyLength);
        } catch (SysException e) {
            switch (e.errno()) {
                case ENOENT -> dispatcher.replyNotDelivered(answered, replyBuffer, replyLength);
                // The connection is gone; the next read reports it.
                case ENODEV, ECONNABORTED -> { }
                default -> log.error("the kernel refused the reply to {} (unique {}, {} bytes): {}",
                        Opcode.name(answered.opcode()), answered.unique(), replyLength, e.getMessage());
            }
        }
    }
}
