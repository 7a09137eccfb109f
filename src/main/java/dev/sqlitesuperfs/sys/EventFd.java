package dev.sqlitesuperfs.sys;

import static dev.sqlitesuperfs.sys.Downcalls.checked;
import static dev.sqlitesuperfs.sys.Downcalls.failing;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * An eventfd (eventfd(2)): a kernel counter that is readable while it is above zero. Put in an
 * {@link Epoll} set, it is how one thread wakes the threads waiting there. Non-blocking and
 * close-on-exec.
 */
public final class EventFd implements AutoCloseable {
    private static final int EFD_NONBLOCK = Libc.O_NONBLOCK;
    private static final int EFD_CLOEXEC = Libc.O_CLOEXEC;
    private static final int EAGAIN = 11;

    private static final MethodHandle EVENTFD = failing("eventfd", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));

    /** The 8-byte value read(2) and write(2) on an eventfd take, one per thread. */
    private static final ThreadLocal<MemorySegment> COUNTER =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(JAVA_LONG));

    private final int fd;

    private EventFd(int fd) {
        this.fd = fd;
    }

    public static EventFd create() throws SysException {
        return new EventFd(checked("eventfd", "eventfd",
                state -> (int) EVENTFD.invokeExact(state, 0, EFD_NONBLOCK | EFD_CLOEXEC)));
    }

    /** The descriptor, to register in an {@link Epoll} set. */
    public int fd() {
        return fd;
    }

    /** Adds one to the counter, which makes the descriptor readable. */
    public void signal() throws SysException {
        MemorySegment one = COUNTER.get();
        one.set(JAVA_LONG, 0, 1L);
        Libc.write(fd, one, one.byteSize());
    }

    /** Reads the counter back to zero; returns what it was (0 when nothing had been signalled). */
    public long drain() throws SysException {
        MemorySegment value = COUNTER.get();
        try {
            Libc.read(fd, value, value.byteSize());
        } catch (SysException e) {
            if (e.errno() == EAGAIN) {
                return 0;
            }
            throw e;
        }
        return value.get(JAVA_LONG, 0);
    }

    @Override
    public void close() throws SysException {
        Libc.close(fd);
    }
}
