package dev.sqlitesuperfs.fuse;

import dev.sqlitesuperfs.sys.Libc;
import dev.sqlitesuperfs.sys.SysException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One request thread's loop: read a request from /dev/fuse, answer it, write the reply. Owns its
 * buffers, reused for every request: requests are read into one, replies are encoded into the other
 * and leave with a single write.
 */
final class RequestWorker implements Runnable {
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

    private static final int ENOENT = 2;
    private static final int EINTR = 4;
    private static final int EAGAIN = 11;
    private static final int ENODEV = 19;
    private static final int ECONNABORTED = 103;

    private final int fd;
    private final RequestDispatcher dispatcher;
    private final MemorySegment requestBuffer;
    private final MemorySegment replyBuffer;
    private final FuseRequest request = new FuseRequest();
    private final DirentWriter dirents = new DirentWriter();
    private final RequestTap tap;
    private final BooleanSupplier stopping;

    RequestWorker(int fd, RequestDispatcher dispatcher, int maxWrite, Arena arena, RequestTap tap,
            BooleanSupplier stopping) {
        this.fd = fd;
        this.dispatcher = dispatcher;
        this.requestBuffer = arena.allocate(requestBufferSize(maxWrite), 4096);
        this.replyBuffer = arena.allocate(replyBufferSize(maxWrite), 4096);
        this.tap = tap;
        this.stopping = stopping;
    }

    static long requestBufferSize(int maxWrite) {
        return (long) Math.max(maxWrite, XATTR_SIZE_MAX) + REQUEST_OVERHEAD;
    }

    static long replyBufferSize(int maxWrite) {
        return Wire.OutHeader.SIZE + (long) Math.max(maxWrite, MIN_REPLY_BODY);
    }

    @Override
    public void run() {
        while (serveOne() && !stopping.getAsBoolean()) {
            // Each pass answers one request; the stop flag is seen after the request that wakes us.
        }
    }

    /**
     * Reads and answers one request (or handles a harmless read failure).
     *
     * @return false once this thread should stop reading: the connection ended or reading failed
     */
    boolean serveOne() {
        long length;
        try {
            length = Libc.read(fd, requestBuffer, requestBuffer.byteSize());
        } catch (SysException e) {
            return switch (e.errno()) {
                // ENOENT: the request was interrupted and withdrawn before we got it.
                case EINTR, EAGAIN, ENOENT -> true;
                case ENODEV, ECONNABORTED -> false;
                default -> {
                    log.error("reading /dev/fuse failed; this request thread stops", e);
                    yield false;
                }
            };
        }
        FuseRequest current;
        try {
            current = request.wrap(requestBuffer, (int) length);
        } catch (MalformedRequestException e) {
            log.error("malformed request from the kernel: {}", e.getMessage());
            refuseUnreadable(length);
            return true;
        }
        if (tap != null) {
            tap.requestRead(current.bytes());
        }
        int replyLength = dispatcher.dispatch(current, replyBuffer, dirents);
        if (replyLength > 0) {
            send(replyLength, current);
        }
        return true;
    }

    /** A request whose header we could not trust still has its unique id; answer so no caller hangs. */
    private void refuseUnreadable(long length) {
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

    private void send(int length, FuseRequest answered) {
        try {
            Libc.write(fd, replyBuffer, length);
        } catch (SysException e) {
            switch (e.errno()) {
                case ENOENT -> dispatcher.replyNotDelivered(answered, replyBuffer, length);
                // The connection is gone; the next read reports it.
                case ENODEV, ECONNABORTED -> { }
                default -> log.error("the kernel refused the reply to {} (unique {}, {} bytes): {}",
                        Opcode.name(answered.opcode()), answered.unique(), length, e.getMessage());
            }
        }
    }
}
