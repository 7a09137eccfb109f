package dev.sqlitesuperfs.fs;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Stores, for every namespace of a process, written data and deferred changes that no fsync has
 * stored within its write-back delay, so that a program that never syncs still loses at most that
 * much on a crash (like a local filesystem's periodic commit).
 *
 * <p>One thread looks at every namespace each tick; a namespace with something due is written back
 * by the executor, never twice at once. A standalone mount runs the write-back on that thread (one
 * thread, as before there were hosts); a host runs each on a virtual thread, so that a namespace
 * whose server is slow delays only its own write-back.
 */
final class WriteBackScheduler implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(WriteBackScheduler.class);

    private final long tickMs;
    private final Executor runner;
    private final Set<WriteBuffer> buffers = ConcurrentHashMap.newKeySet();
    private final Set<WriteBuffer> busy = ConcurrentHashMap.newKeySet();
    private final Thread thread;
    private volatile boolean running = true;

    WriteBackScheduler(long tickMs, Executor runner) {
        this.tickMs = tickMs;
        this.runner = runner;
        this.thread = Thread.ofPlatform().daemon().name("write-back").unstarted(this::run);
    }

    /** The tick for a namespace alone: half its delay, from 0.1 to 1 s. */
    static long tickFor(long delayNs) {
        return Math.max(100, Math.min(1000, delayNs / 2_000_000));
    }

    synchronized void register(WriteBuffer buffer) {
        buffers.add(buffer);
        if (thread.getState() == Thread.State.NEW) {
            thread.start();
        }
    }

    /** Stops looking at {@code buffer} and waits (10 s at most) for its write-back in progress. */
    void unregister(WriteBuffer buffer) {
        buffers.remove(buffer);
        long deadline = System.nanoTime() + 10_000_000_000L;
        synchronized (busy) {
            while (busy.contains(buffer) && deadline - System.nanoTime() > 0) {
                try {
                    busy.wait(100);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    int namespaces() {
        return buffers.size();
    }

    @Override
    public void close() {
        running = false;
        thread.interrupt();
        if (thread.getState() != Thread.State.NEW && Thread.currentThread() != thread) {
            try {
                thread.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void run() {
        while (running) {
            try {
                Thread.sleep(tickMs);
            } catch (InterruptedException e) {
                if (!running) {
                    return;
                }
            }
            long now = System.nanoTime();
            for (WriteBuffer b : buffers) {
                if (!running) {
                    return;
                }
                if (b.writeBackDue(now) && busy.add(b)) {
                    try {
                        runner.execute(() -> writeBack(b, now));
                    } catch (RuntimeException e) {
                        done(b);
                        log.warn("write-back could not start: {}", e.toString());
                    }
                }
            }
        }
    }

    private void writeBack(WriteBuffer b, long now) {
        try {
            if (buffers.contains(b)) {
                b.writeBackOverdue(now);
            }
        } catch (RuntimeException e) {
            log.warn("write-back failed: {}", e.toString());
        } finally {
            done(b);
        }
    }

    private void done(WriteBuffer b) {
        synchronized (busy) {
            busy.remove(b);
            busy.notifyAll();
        }
    }
}
