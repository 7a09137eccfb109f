package dev.sqlitesuperfs.sys;

import static dev.sqlitesuperfs.sys.Downcalls.callState;
import static dev.sqlitesuperfs.sys.Downcalls.checked;
import static dev.sqlitesuperfs.sys.Downcalls.errno;
import static dev.sqlitesuperfs.sys.Downcalls.failing;
import static dev.sqlitesuperfs.sys.Downcalls.linkageFailure;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * An epoll instance (epoll(7)): a set of descriptors, each registered with the events that matter
 * and a 64-bit token of the caller's choosing, which {@link #await} hands back for each descriptor
 * that became ready. Several threads may wait on one instance at once; the kernel gives each
 * readiness to one of them, and round-robins over ready descriptors when there are more than a
 * caller asked for (epoll_wait(2)).
 *
 * <p>{@code struct epoll_event} is packed on x86_64 (12 bytes, the token at offset 4) and naturally
 * aligned elsewhere (16 bytes, the token at offset 8). Only the two architectures this project
 * runs on are known; on any other {@link #create} refuses rather than guess a layout.
 */
public final class Epoll implements AutoCloseable {
    public static final int EPOLLIN = 0x001;
    public static final int EPOLLERR = 0x008;
    public static final int EPOLLHUP = 0x010;
    /** Report the descriptor once, then not again until {@link #modify} re-arms it. */
    public static final int EPOLLONESHOT = 1 << 30;

    private static final int EPOLL_CLOEXEC = Libc.O_CLOEXEC;
    private static final int EPOLL_CTL_ADD = 1;
    private static final int EPOLL_CTL_DEL = 2;
    private static final int EPOLL_CTL_MOD = 3;
    private static final int F_GETFL = 3;
    private static final int F_SETFL = 4;
    private static final int EINTR = 4;

    private static final ValueLayout.OfLong TOKEN = ValueLayout.JAVA_LONG_UNALIGNED;

    private static final MethodHandle EPOLL_CREATE1 = failing("epoll_create1", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle EPOLL_CTL = failing("epoll_ctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle EPOLL_WAIT = failing("epoll_wait",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
    private static final MethodHandle FCNTL = failing("fcntl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT), Linker.Option.firstVariadicArg(2));

    /** Where a thread builds the one event epoll_ctl reads, so that re-arming allocates nothing. */
    private static final ThreadLocal<MemorySegment> CTL_EVENT =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(16, 8));

    /** The size of {@code struct epoll_event} and where its token (epoll_data_t) sits. */
    record EventLayout(long size, long tokenOffset) {}

    private final int fd;
    private final EventLayout layout;

    private Epoll(int fd, EventLayout layout) {
        this.fd = fd;
        this.layout = layout;
    }

    /**
     * The layout of {@code struct epoll_event} on {@code arch} (a value of the os.arch property).
     *
     * @throws UnsupportedOperationException on an architecture whose layout this class does not know
     */
    static EventLayout eventLayout(String arch) {
        return switch (arch) {
            case "amd64", "x86_64" -> new EventLayout(12, 4);
            case "aarch64" -> new EventLayout(16, 8);
            default -> throw new UnsupportedOperationException("epoll is not supported on architecture " + arch
                    + ": the layout of struct epoll_event is only known for amd64 (x86_64) and aarch64");
        };
    }

    /** A new, empty epoll instance (close-on-exec). */
    public static Epoll create() throws SysException {
        EventLayout layout = eventLayout(System.getProperty("os.arch"));
        int fd = checked("epoll_create1", "epoll_create1",
                state -> (int) EPOLL_CREATE1.invokeExact(state, EPOLL_CLOEXEC));
        return new Epoll(fd, layout);
    }

    /** Room for up to {@code capacity} ready events, for one waiting thread at a time. */
    public ReadyEvents readyEvents(int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity must be at least 1");
        }
        return new ReadyEvents(Arena.ofAuto().allocate(layout.size() * capacity, 8), capacity, layout);
    }

    /** Adds {@code descriptor}, reported with {@code token} when one of {@code events} happens. */
    public void add(int descriptor, int events, long token) throws SysException {
        control(EPOLL_CTL_ADD, "add", descriptor, events, token);
    }

    /** Changes the events and token of {@code descriptor}; re-arms it after an {@link #EPOLLONESHOT} report. */
    public void modify(int descriptor, int events, long token) throws SysException {
        control(EPOLL_CTL_MOD, "modify", descriptor, events, token);
    }

    /** Removes {@code descriptor}; a thread already woken for it may still see its last report. */
    public void remove(int descriptor) throws SysException {
        control(EPOLL_CTL_DEL, "remove", descriptor, 0, 0);
    }

    private void control(int operation, String name, int descriptor, int events, long token) throws SysException {
        MemorySegment event = CTL_EVENT.get();
        event.set(JAVA_INT, 0, events);
        event.set(TOKEN, layout.tokenOffset(), token);
        checked("epoll_ctl", "epoll_ctl(" + name + " " + descriptor + ")",
                state -> (int) EPOLL_CTL.invokeExact(state, fd, operation, descriptor, event));
    }

    /**
     * Waits until a registered descriptor is ready, at most {@code timeoutMillis} (-1: without
     * limit, 0: not at all), and fills {@code ready}.
     *
     * @return how many events {@code ready} now holds; 0 after the timeout or when a signal
     *     interrupted the wait
     */
    public int await(ReadyEvents ready, int timeoutMillis) throws SysException {
        MemorySegment state = callState();
        int count;
        try {
            count = (int) EPOLL_WAIT.invokeExact(state, fd, ready.events, ready.capacity, timeoutMillis);
        } catch (Throwable t) {
            throw linkageFailure("epoll_wait", t);
        }
        if (count < 0) {
            int errno = errno(state);
            if (errno == EINTR) {
                return 0;
            }
            throw new SysException("epoll_wait(" + fd + ")", errno);
        }
        return count;
    }

    /**
     * Sets O_NONBLOCK on {@code descriptor}: reading it then fails with EAGAIN instead of waiting,
     * which is what a descriptor read only after epoll reported it needs, since another reader may
     * have taken what was there.
     */
    public static void setNonBlocking(int descriptor) throws SysException {
        int flags = fcntl(descriptor, F_GETFL, 0, "F_GETFL");
        if ((flags & Libc.O_NONBLOCK) == 0) {
            fcntl(descriptor, F_SETFL, flags | Libc.O_NONBLOCK, "F_SETFL");
        }
    }

    private static int fcntl(int descriptor, int command, int argument, String name) throws SysException {
        return checked("fcntl", "fcntl(" + descriptor + ", " + name + ")",
                state -> (int) FCNTL.invokeExact(state, descriptor, command, argument));
    }

    /** Closes the instance; threads must have stopped waiting on it first. */
    @Override
    public void close() throws SysException {
        Libc.close(fd);
    }

    /** The events one {@link #await} reported, readable until the next call with the same instance. */
    public static final class ReadyEvents {
        private final MemorySegment events;
        private final int capacity;
        private final EventLayout layout;

        private ReadyEvents(MemorySegment events, int capacity, EventLayout layout) {
            this.events = events;
            this.capacity = capacity;
            this.layout = layout;
        }

        /** The event bits ({@link #EPOLLIN}, {@link #EPOLLERR}, ...) of the {@code i}-th report. */
        public int events(int i) {
            return events.get(JAVA_INT, at(i));
        }

        /** The token the {@code i}-th reported descriptor was registered with. */
        public long token(int i) {
            return events.get(TOKEN, at(i) + layout.tokenOffset());
        }

        private long at(int i) {
            if (i < 0 || i >= capacity) {
                throw new IndexOutOfBoundsException("event " + i + " of " + capacity);
            }
            return i * layout.size();
        }
    }
}
