package dev.sqlitesuperfs.sys;

import static dev.sqlitesuperfs.sys.Downcalls.callState;
import static dev.sqlitesuperfs.sys.Downcalls.errno;
import static dev.sqlitesuperfs.sys.Downcalls.failing;
import static dev.sqlitesuperfs.sys.Downcalls.linkageFailure;
import static dev.sqlitesuperfs.sys.Downcalls.plain;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Linux C library calls through FFM. Every call that can fail returns its result or throws
 * {@link SysException} with the errno the call left; the errno is captured by the linker right
 * after the call, so nothing the JVM does in between can overwrite it.
 *
 * <p>Struct layouts used here (msghdr, cmsghdr, iovec, rlimit) are the LP64 Linux ones, shared by
 * x86_64 and arm64.
 *
 * <p>Reinterpreting C pointers is a restricted FFM method; this class is where the project takes
 * that responsibility (native access is enabled at launch), hence the suppression. Linking is
 * {@link Downcalls}'s.
 */
@SuppressWarnings("restricted")
public final class Libc {
    public static final int O_RDONLY = 0;
    public static final int O_WRONLY = 1;
    public static final int O_RDWR = 2;
    public static final int O_CREAT = 0100;
    public static final int O_TRUNC = 01000;
    public static final int O_NONBLOCK = 04000;
    public static final int O_DIRECTORY = 0200000;
    public static final int O_CLOEXEC = 02000000;
    public static final int O_PATH = 010000000;

    public static final long MS_RDONLY = 1;
    public static final long MS_NOSUID = 2;
    public static final long MS_NODEV = 4;
    public static final long MS_NOATIME = 1024;

    public static final int MNT_FORCE = 1;
    public static final int MNT_DETACH = 2;
    public static final int UMOUNT_NOFOLLOW = 8;

    public static final int AF_UNIX = 1;
    public static final int SOCK_STREAM = 1;
    public static final int SOCK_CLOEXEC = O_CLOEXEC;

    public static final int RLIMIT_CORE = 4;
    public static final long RLIM_INFINITY = -1L;

    public static final int SIGTERM = 15;

    public static final int PR_GET_DUMPABLE = 3;
    public static final int PR_SET_DUMPABLE = 4;

    private static final int EINTR = 4;
    private static final int SOL_SOCKET = 1;
    private static final int SCM_RIGHTS = 1;
    private static final int MSG_CMSG_CLOEXEC = 0x40000000;

    private static final MethodHandle OPEN = failing("open",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), Linker.Option.firstVariadicArg(2));
    private static final MethodHandle CLOSE = failing("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle READ = failing("read",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle WRITE = failing("write",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle MOUNT = failing("mount",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS));
    private static final MethodHandle UMOUNT2 = failing("umount2", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle SOCKETPAIR = failing("socketpair",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle RECVMSG = failing("recvmsg",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle WAITPID = failing("waitpid",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle SYNCFS = failing("syncfs", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle SETRLIMIT = failing("setrlimit",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle GETRLIMIT = failing("getrlimit",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle PRCTL = failing("prctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG),
            Linker.Option.firstVariadicArg(1));

    // The posix_spawn family reports failure through its return value, not errno.
    private static final MethodHandle SPAWN_FILE_ACTIONS_INIT = plain("posix_spawn_file_actions_init",
            FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle SPAWN_FILE_ACTIONS_DESTROY = plain("posix_spawn_file_actions_destroy",
            FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle SPAWN_FILE_ACTIONS_ADDDUP2 = plain("posix_spawn_file_actions_adddup2",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
    private static final MethodHandle SPAWN_FILE_ACTIONS_ADDOPEN = plain("posix_spawn_file_actions_addopen",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
    private static final MethodHandle POSIX_SPAWNP = plain("posix_spawnp",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));

    private static final MethodHandle SIGNAL = failing("signal", FunctionDescriptor.of(ADDRESS, JAVA_INT, ADDRESS));
    private static final MethodHandle GETUID = plain("getuid", FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle GETEUID = plain("geteuid", FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle GETGID = plain("getgid", FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle GETEGID = plain("getegid", FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle STRERROR = plain("strerror", FunctionDescriptor.of(ADDRESS, JAVA_INT));
    private static final MethodHandle GETPAGESIZE = plain("getpagesize", FunctionDescriptor.of(JAVA_INT));

    /** glibc's posix_spawn_file_actions_t is 80 bytes on LP64; the slack costs nothing. */
    private static final long SPAWN_FILE_ACTIONS_SIZE = 128;
    private static final long MSGHDR_SIZE = 56;
    private static final long CMSG_HEADER_SIZE = 16;
    private static final long CMSG_SPACE_ONE_FD = 24;

    /** A soft and a hard resource limit; {@link #RLIM_INFINITY} means unlimited. */
    public record ResourceLimit(long soft, long hard) {}

    private Libc() {}

    public static int open(String path, int flags) throws SysException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = callState();
            int fd = (int) OPEN.invokeExact(state, arena.allocateFrom(path), flags, 0);
            if (fd < 0) {
                throw new SysException("open(" + path + ")", errno(state));
            }
            return fd;
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw linkageFailure("open", t);
        }
    }

    public static void close(int fd) throws SysException {
        MemorySegment state = callState();
        int result;
        try {
            result = (int) CLOSE.invokeExact(state, fd);
        } catch (Throwable t) {
            throw linkageFailure("close", t);
        }
        if (result < 0) {
            throw new SysException("close(" + fd + ")", errno(state));
        }
    }

    /** Reads up to {@code count} bytes (at most the segment's size) into {@code buffer}. */
    public static long read(int fd, MemorySegment buffer, long count) throws SysException {
        checkCount(buffer, count);
        MemorySegment state = callState();
        long result;
        try {
            result = (long) READ.invokeExact(state, fd, buffer, count);
        } catch (Throwable t) {
            throw linkageFailure("read", t);
        }
        if (result < 0) {
            throw new SysException("read(" + fd + ")", errno(state));
        }
        return result;
    }

    /** Writes the first {@code count} bytes of {@code buffer}. */
    public static long write(int fd, MemorySegment buffer, long count) throws SysException {
        checkCount(buffer, count);
        MemorySegment state = callState();
        long result;
        try {
            result = (long) WRITE.invokeExact(state, fd, buffer, count);
        } catch (Throwable t) {
            throw linkageFailure("write", t);
        }
        if (result < 0) {
            throw new SysException("write(" + fd + ")", errno(state));
        }
        return result;
    }

    public static void mount(String source, Path target, String fsType, long flags, String data)
            throws SysException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = callState();
            int result = (int) MOUNT.invokeExact(state, arena.allocateFrom(source),
                    arena.allocateFrom(target.toString()), arena.allocateFrom(fsType), flags,
                    arena.allocateFrom(data));
            if (result < 0) {
                throw new SysException("mount(" + target + ")", errno(state));
            }
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw linkageFailure("mount", t);
        }
    }

    public static void umount2(Path target, int flags) throws SysException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = callState();
            int result = (int) UMOUNT2.invokeExact(state, arena.allocateFrom(target.toString()), flags);
            if (result < 0) {
                throw new SysException("umount2(" + target + ")", errno(state));
            }
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw linkageFailure("umount2", t);
        }
    }

    /** Returns the two connected descriptors. */
    public static int[] socketpair(int domain, int type, int protocol) throws SysException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = callState();
            MemorySegment fds = arena.allocate(JAVA_INT, 2);
            int result = (int) SOCKETPAIR.invokeExact(state, domain, type, protocol, fds);
            if (result < 0) {
                throw new SysException("socketpair", errno(state));
            }
            return new int[] {fds.getAtIndex(JAVA_INT, 0), fds.getAtIndex(JAVA_INT, 1)};
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw linkageFailure("socketpair", t);
        }
    }

    /**
     * Receives one message carrying a descriptor (SCM_RIGHTS) on a Unix socket. The received
     * descriptor is close-on-exec. Returns -1 when the peer closed the socket without sending one.
     */
    public static int receiveFd(int socket) throws SysException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = callState();
            MemorySegment data = arena.allocate(1);
            MemorySegment iov = arena.allocate(16, 8);
            iov.set(ADDRESS, 0, data);
            iov.set(JAVA_LONG, 8, data.byteSize());
            MemorySegment control = arena.allocate(CMSG_SPACE_ONE_FD, 8);
            MemorySegment msg = arena.allocate(MSGHDR_SIZE, 8);
            msg.set(ADDRESS, 16, iov);
            msg.set(JAVA_LONG, 24, 1);
            msg.set(ADDRESS, 32, control);
            msg.set(JAVA_LONG, 40, control.byteSize());
            long received;
            while (true) {
                received = (long) RECVMSG.invokeExact(state, socket, msg, MSG_CMSG_CLOEXEC);
                if (received >= 0) {
                    break;
                }
                int errno = errno(state);
                if (errno != EINTR) {
                    throw new SysException("recvmsg(" + socket + ")", errno);
                }
            }
            long controlLength = msg.get(JAVA_LONG, 40);
            if (received == 0 || controlLength < CMSG_HEADER_SIZE + JAVA_INT.byteSize()) {
                return -1;
            }
            int level = control.get(JAVA_INT, 8);
            int type = control.get(JAVA_INT, 12);
            if (level != SOL_SOCKET || type != SCM_RIGHTS) {
                return -1;
            }
            return control.get(JAVA_INT, CMSG_HEADER_SIZE);
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw linkageFailure("recvmsg", t);
        }
    }

    /**
     * Starts {@code command} (found on PATH) with exactly {@code environment}, and returns its pid.
     * The listed descriptors stay open in the child even when they are close-on-exec here (they
     * stay close-on-exec in this process, so no other child inherits them). When
     * {@code stderrFile} is not null the child's stderr goes to that file, truncated first.
     */
    public static int spawn(List<String> command, Map<String, String> environment, int[] inheritedFds,
            Path stderrFile) throws SysException {
        if (command.isEmpty()) {
            throw new IllegalArgumentException("command must name a program");
        }
        String program = command.getFirst();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment actions = arena.allocate(SPAWN_FILE_ACTIONS_SIZE, 8);
            check("posix_spawn_file_actions_init", (int) SPAWN_FILE_ACTIONS_INIT.invokeExact(actions));
            try {
                for (int fd : inheritedFds) {
                    // dup2 of a descriptor onto itself clears close-on-exec in the child only.
                    check("posix_spawn_file_actions_adddup2",
                            (int) SPAWN_FILE_ACTIONS_ADDDUP2.invokeExact(actions, fd, fd));
                }
                if (stderrFile != null) {
                    check("posix_spawn_file_actions_addopen", (int) SPAWN_FILE_ACTIONS_ADDOPEN.invokeExact(
                            actions, 2, arena.allocateFrom(stderrFile.toString()), O_WRONLY | O_CREAT | O_TRUNC,
                            0600));
                }
                MemorySegment pid = arena.allocate(JAVA_INT);
                MemorySegment argv = stringArray(arena, command);
                MemorySegment envp = stringArray(arena, environment.entrySet().stream()
                        .map(e -> e.getKey() + "=" + e.getValue()).toList());
                int error = (int) POSIX_SPAWNP.invokeExact(pid, arena.allocateFrom(program), actions,
                        MemorySegment.NULL, argv, envp);
                if (error != 0) {
                    throw new SysException("posix_spawnp(" + program + ")", error);
                }
                return pid.get(JAVA_INT, 0);
            } finally {
                int ignored = (int) SPAWN_FILE_ACTIONS_DESTROY.invokeExact(actions);
            }
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw linkageFailure("posix_spawnp", t);
        }
    }

    /** Waits for the child to end and returns its raw wait status (see {@link #exitCode}). */
    public static int waitpid(int pid) throws SysException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = callState();
            MemorySegment status = arena.allocate(JAVA_INT);
            while (true) {
                int result = (int) WAITPID.invokeExact(state, pid, status, 0);
                if (result >= 0) {
                    return status.get(JAVA_INT, 0);
                }
                int errno = errno(state);
                if (errno != EINTR) {
                    throw new SysException("waitpid(" + pid + ")", errno);
                }
            }
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw linkageFailure("waitpid", t);
        }
    }

    /** The exit code of a wait status, or 128 + the signal number when the child was killed. */
    public static int exitCode(int waitStatus) {
        int signal = waitStatus & 0x7f;
        return signal == 0 ? (waitStatus >> 8) & 0xff : 128 + signal;
    }

    public static void syncfs(int fd) throws SysException {
        MemorySegment state = callState();
        int result;
        try {
            result = (int) SYNCFS.invokeExact(state, fd);
        } catch (Throwable t) {
            throw linkageFailure("syncfs", t);
        }
        if (result < 0) {
            throw new SysException("syncfs(" + fd + ")", errno(state));
        }
    }

    public static int getuid() {
        return identity(GETUID, "getuid");
    }

    public static int geteuid() {
        return identity(GETEUID, "geteuid");
    }

    public static int getgid() {
        return identity(GETGID, "getgid");
    }

    public static int getegid() {
        return identity(GETEGID, "getegid");
    }

    /** The size of a memory page, the unit of mlock. */
    public static int getpagesize() {
        return identity(GETPAGESIZE, "getpagesize");
    }

    public static void setrlimit(int resource, ResourceLimit limit) throws SysException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = callState();
            MemorySegment rlimit = arena.allocate(JAVA_LONG, 2);
            rlimit.setAtIndex(JAVA_LONG, 0, limit.soft());
            rlimit.setAtIndex(JAVA_LONG, 1, limit.hard());
            int result = (int) SETRLIMIT.invokeExact(state, resource, rlimit);
            if (result < 0) {
                throw new SysException("setrlimit(" + resource + ")", errno(state));
            }
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw linkageFailure("setrlimit", t);
        }
    }

    public static ResourceLimit getrlimit(int resource) throws SysException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = callState();
            MemorySegment rlimit = arena.allocate(JAVA_LONG, 2);
            int result = (int) GETRLIMIT.invokeExact(state, resource, rlimit);
            if (result < 0) {
                throw new SysException("getrlimit(" + resource + ")", errno(state));
            }
            return new ResourceLimit(rlimit.getAtIndex(JAVA_LONG, 0), rlimit.getAtIndex(JAVA_LONG, 1));
        } catch (SysException e) {
            throw e;
        } catch (Throwable t) {
            throw linkageFailure("getrlimit", t);
        }
    }

    /** prctl with one argument (the remaining ones 0), for options such as {@link #PR_SET_DUMPABLE}. */
    public static int prctl(int option, long argument) throws SysException {
        MemorySegment state = callState();
        int result;
        try {
            result = (int) PRCTL.invokeExact(state, option, argument, 0L, 0L, 0L);
        } catch (Throwable t) {
            throw linkageFailure("prctl", t);
        }
        if (result < 0) {
            throw new SysException("prctl(" + option + ")", errno(state));
        }
        return result;
    }

    /**
     * signal(sig, SIG_DFL): gives {@code signal} back its default action, whatever the process
     * inherited (an ignored signal stays ignored across exec, and the JVM then leaves it alone).
     */
    public static void defaultSignalAction(int signal) throws SysException {
        MemorySegment state = callState();
        MemorySegment previous;
        try {
            previous = (MemorySegment) SIGNAL.invokeExact(state, signal, MemorySegment.NULL);
        } catch (Throwable t) {
            throw linkageFailure("signal", t);
        }
        if (previous.address() == -1L) {
            throw new SysException("signal(" + signal + ")", errno(state));
        }
    }

    /** The C library's description of an errno, such as "No such file or directory". */
    public static String strerror(int errno) {
        try {
            MemorySegment text = (MemorySegment) STRERROR.invokeExact(errno);
            return text.reinterpret(Integer.MAX_VALUE).getString(0);
        } catch (Throwable t) {
            throw linkageFailure("strerror", t);
        }
    }

    private static MemorySegment stringArray(Arena arena, List<String> strings) {
        MemorySegment array = arena.allocate(ADDRESS, strings.size() + 1L);
        for (int i = 0; i < strings.size(); i++) {
            array.setAtIndex(ADDRESS, i, arena.allocateFrom(strings.get(i)));
        }
        array.setAtIndex(ADDRESS, strings.size(), MemorySegment.NULL);
        return array;
    }

    private static void check(String call, int error) throws SysException {
        if (error != 0) {
            throw new SysException(call, error);
        }
    }

    private static void checkCount(MemorySegment buffer, long count) {
        if (count < 0 || count > buffer.byteSize()) {
            throw new IndexOutOfBoundsException("count " + count + " outside buffer of " + buffer.byteSize());
        }
    }

    private static int identity(MethodHandle handle, String name) {
        try {
            return (int) handle.invokeExact();
        } catch (Throwable t) {
            throw linkageFailure(name, t);
        }
    }
}
