package dev.sqlitesuperfs.fs;

import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Stores written data and deferred namespace changes that no fsync has stored within the
 * write-back delay, so that a program that never syncs still loses at most that much on a crash
 * (like a local filesystem's periodic commit).
 */
final class WriteBack {
    private static final Logger log = LoggerFactory.getLogger(WriteBack.class);

    private final WriteBuffer buffer;
    private final long delayNs;
    private final Thread thread;
    private volatile boolean running = true;

    WriteBack(WriteBuffer buffer, Duration delay) {
        this.buffer = buffer;
        this.delayNs = delay.toNanos();
        this.thread = Thread.ofPlatform().daemon().name("write-back").unstarted(this::run);
    }

    void start() {
        thread.start();
    }

    void stop() {
        running = false;
        thread.interrupt();
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void run() {
        long sleepMs = Math.max(100, Math.min(1000, delayNs / 2_000_000));
        while (running) {
            try {
                Thread.sleep(sleepMs);
            } catch (InterruptedException e) {
                if (!running) {
                    return;
                }
            }
            long cutoff = System.nanoTime() - delayNs;
            long oldestDeferred = buffer.oldestDeferred();
            if (oldestDeferred != 0 && oldestDeferred - cutoff <= 0) {
                try {
                    buffer.storeDeferred();
                } catch (RuntimeException e) {
                    log.debug("write-back of deferred changes failed; they stay queued: {}", e.getMessage());
                }
            }
            for (Node n : buffer.dirtyNodes()) {
                if (!running) {
                    return;
                }
                if (n.dirtySinceNanos != 0 && n.dirtySinceNanos - cutoff <= 0) {
                    try {
                        buffer.storeByNumber(n.ino);
                    } catch (RuntimeException e) {
                        // What could not be stored was given up and is reported to the file's
                        // users (WriteBuffer.storeFailed); a node that failed to load is retried.
                        log.debug("write-back of inode {} failed: {}", n.ino, e.getMessage());
                    } finally {
                        buffer.dropLostPages(false);
                    }
                }
            }
        }
    }
}
