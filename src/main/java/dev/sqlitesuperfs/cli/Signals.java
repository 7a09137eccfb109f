package dev.sqlitesuperfs.cli;

import java.util.concurrent.atomic.AtomicBoolean;
import sun.misc.Signal;

/**
 * SIGINT and SIGTERM as requests to unmount: the handler replaces the JVM's default (which would
 * exit with 128+signal after running shutdown hooks), so a clean stop exits with 0.
 */
final class Signals {
    private Signals() {}

    static void onTermination(Runnable action) {
        AtomicBoolean started = new AtomicBoolean();
        Runnable once = () -> {
            if (started.compareAndSet(false, true)) {
                Thread.ofPlatform().name("unmount-on-signal").start(action);
            }
        };
        for (String name : new String[] {"INT", "TERM", "HUP"}) {
            Signal.handle(new Signal(name), s -> once.run());
        }
    }
}
