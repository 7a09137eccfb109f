package dev.sqlitesuperfs.cli;

import dev.sqlitesuperfs.sys.Libc;
import dev.sqlitesuperfs.sys.SysException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;

/**
 * SIGINT, SIGTERM and SIGHUP as requests to unmount: the handler replaces the JVM's default (which
 * would exit with 128+signal after running shutdown hooks), so a clean stop exits with 0.
 *
 * <p>A signal that the process inherited as ignored (an ignored signal stays ignored across exec)
 * gets no handler from the JVM, and none from {@link Signal#handle} either. For SIGINT and SIGHUP
 * that is kept: a shell ignores SIGINT in what it starts in the background ({@code cmd &} in a
 * script), so that a Ctrl-C meant for the foreground spares it, and {@code nohup} ignores SIGHUP so
 * that a closed terminal does; that is the caller's choice, and such a mount stops on SIGTERM,
 * {@code sqlitesuperfs unmount} or umount. SIGTERM is taken back ({@link #takeTermination}): it is
 * how {@code kill}, a service manager or a test harness asks a daemon to stop, and a mount deaf to
 * it could only be killed, losing what it had not stored yet.
 */
final class Signals {
    private static final int SIGTERM_BIT = 1 << (Libc.SIGTERM - 1);

    private Signals() {}

    /**
     * If SIGTERM was inherited as ignored, gives it back the JVM's own handling (exit 143 after the
     * shutdown hooks) until {@link #onTermination} replaces that. Called first thing by mount,
     * before anything is opened or mounted.
     */
    static void takeTermination() {
        if ((ignoredSignals() & SIGTERM_BIT) == 0) {
            return;
        }
        try {
            Libc.defaultSignalAction(Libc.SIGTERM);
        } catch (SysException e) {
            LoggerFactory.getLogger(Signals.class).warn("SIGTERM was ignored when this process started and stays"
                    + " so ({}); stop the mount with `sqlitesuperfs unmount` or umount", e.getMessage());
            return;
        }
        Signal.handle(new Signal("TERM"), s -> System.exit(128 + s.getNumber()));
        LoggerFactory.getLogger(Signals.class).debug("SIGTERM was ignored when this process started; it ends the"
                + " mount cleanly all the same");
    }

    static void onTermination(Runnable action) {
        AtomicBoolean started = new AtomicBoolean();
        Runnable once = () -> {
            if (started.compareAndSet(false, true)) {
                Thread.ofPlatform().name("unmount-on-signal").start(action);
            }
        };
        for (String name : new String[] {"INT", "TERM", "HUP"}) {
            if (Signal.handle(new Signal(name), s -> once.run()) == sun.misc.SignalHandler.SIG_IGN) {
                LoggerFactory.getLogger(Signals.class).debug("SIG{} was ignored when this process started and stays"
                        + " ignored", name);
            }
        }
    }

    /** The signals this process ignores, as the bit mask of /proc/self/status (bit n-1: signal n). */
    static long ignoredSignals() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("SigIgn:")) {
                    return Long.parseUnsignedLong(line.substring("SigIgn:".length()).trim(), 16);
                }
            }
        } catch (IOException | NumberFormatException e) {
            LoggerFactory.getLogger(Signals.class).debug("cannot read the ignored signals: {}", e.getMessage());
        }
        return 0;
    }
}
