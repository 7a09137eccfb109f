package dev.sqlitesuperfs.anchor;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An anchor advanced in the background, at most once per interval, instead of before each commit
 * returns ({@code --anchor-interval}): commits no longer wait for it, and what that weakens is
 * said in SECURITY.md (the commits of the last interval before the mount stops uncleanly are not
 * yet recorded, so a rollback to just before them goes unnoticed). {@link #close} records the
 * newest number before it returns, so a clean unmount leaves nothing unrecorded.
 */
public final class BatchedAnchor implements Anchor {
    private static final Logger log = LoggerFactory.getLogger(BatchedAnchor.class);

    private final Anchor inner;
    private final long intervalNanos;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition asked = lock.newCondition();
    /** The newest number asked for (guarded by {@link #lock}). */
    private long wanted;
    private boolean closing;
    private final Thread flusher;

    public BatchedAnchor(Anchor inner, Duration interval) {
        this.inner = inner;
        this.intervalNanos = interval.toNanos();
        this.wanted = inner.recorded();
        this.flusher = Thread.ofVirtual().name("anchor-" + inner.describe()).start(this::flushLoop);
    }

    private void flushLoop() {
        boolean failing = false;
        while (true) {
            long next;
            lock.lock();
            try {
                while (!closing && wanted <= inner.recorded()) {
                    asked.awaitUninterruptibly();
                }
                if (closing) {
                    return;
                }
                next = wanted;
            } finally {
                lock.unlock();
            }
            try {
                inner.advance(next);
                if (failing) {
                    log.info("the freshness anchor {} records commits again (commit {})", inner.describe(), next);
                    failing = false;
                }
            } catch (IOException | RuntimeException e) {
                if (!failing) {
                    log.error("the freshness anchor {} could not record commit {}: {}; trying again", inner.describe(),
                            next, e.toString());
                    failing = true;
                }
            }
            lock.lock();
            try {
                // the interval between writes, cut short only by closing
                long deadline = System.nanoTime() + intervalNanos;
                long left;
                while (!closing && (left = deadline - System.nanoTime()) > 0) {
                    asked.awaitNanos(left);
                }
            } catch (InterruptedException e) {
                return;
            } finally {
                lock.unlock();
            }
        }
    }

    @Override
    public long recorded() {
        return inner.recorded();
    }

    /** Returns at once; the number is recorded within the interval. */
    @Override
    public void advance(long number) {
        lock.lock();
        try {
            if (number > wanted) {
                wanted = number;
                asked.signalAll();
            }
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void rebase(long number) throws IOException {
        lock.lock();
        try {
            wanted = number;
            inner.rebase(number);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public String describe() {
        return inner.describe();
    }

    /** Stops the background writes and records the newest number asked for, then closes the anchor. */
    @Override
    public void close() {
        long last;
        lock.lock();
        try {
            closing = true;
            asked.signalAll();
            last = wanted;
        } finally {
            lock.unlock();
        }
        try {
            flusher.join();
            inner.advance(last);
        } catch (IOException | RuntimeException e) {
            log.error("the freshness anchor {} could not record commit {} at the end: {}", inner.describe(), last,
                    e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            inner.close();
        }
    }
}
