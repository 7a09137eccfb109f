package dev.sqlitesuperfs.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * How this package links C library functions: the downcall handles, the errno each failing call
 * leaves (captured by the linker right after the call, so nothing the JVM does in between can
 * overwrite it), and the one way a broken downcall is reported. Shared by {@link Libc} and the
 * classes beside it, so that every binding fails the same way.
 *
 * <p>Linking is a restricted FFM method; this class is where the project takes that
 * responsibility (native access is enabled at launch), hence the suppression.
 */
@SuppressWarnings("restricted")
final class Downcalls {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CALL_STATE_LAYOUT = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO =
            CALL_STATE_LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");

    /** One errno capture area per thread, so the hot read/write path allocates nothing. */
    private static final ThreadLocal<MemorySegment> CALL_STATE =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(CALL_STATE_LAYOUT));

    private Downcalls() {}

    /** A handle whose first argument is the errno capture area ({@link #callState()}). */
    static MethodHandle failing(String name, FunctionDescriptor descriptor, Linker.Option... extra) {
        Linker.Option[] options = new Linker.Option[extra.length + 1];
        options[0] = CAPTURE_ERRNO;
        System.arraycopy(extra, 0, options, 1, extra.length);
        return LINKER.downcallHandle(symbol(name), descriptor, options);
    }

    /** A handle for a function that cannot fail or reports failure through its return value. */
    static MethodHandle plain(String name, FunctionDescriptor descriptor) {
        return LINKER.downcallHandle(symbol(name), descriptor);
    }

    static MemorySegment callState() {
        return CALL_STATE.get();
    }

    static int errno(MemorySegment state) {
        return (int) ERRNO.get(state, 0L);
    }

    /** One invocation of a handle from {@link #failing} that returns an int, negative on failure. */
    @FunctionalInterface
    interface IntCall {
        int invoke(MemorySegment callState) throws Throwable;
    }

    /**
     * Invokes {@code call} with this thread's errno capture area.
     *
     * @param function the C function, named when the call itself breaks
     * @param what     the call as a failure names it, with its arguments
     * @return the call's result, never negative
     * @throws SysException with the call's errno when the result is negative
     */
    static int checked(String function, String what, IntCall call) throws SysException {
        MemorySegment state = callState();
        int result;
        try {
            result = call.invoke(state);
        } catch (Throwable t) {
            throw linkageFailure(function, t);
        }
        if (result < 0) {
            throw new SysException(what, errno(state));
        }
        return result;
    }

    /** Invoking a downcall declares Throwable; only unchecked ones can actually arrive here. */
    static RuntimeException linkageFailure(String call, Throwable cause) {
        if (cause instanceof Error error) {
            throw error;
        }
        if (cause instanceof RuntimeException runtime) {
            return runtime;
        }
        return new IllegalStateException("native call " + call + " failed unexpectedly", cause);
    }

    private static MemorySegment symbol(String name) {
        return LINKER.defaultLookup().find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("C library function not found: " + name));
    }
}
