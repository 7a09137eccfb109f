package dev.sqlitesuperfs.anchor;

import java.io.IOException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * What every kept anchor shares: the number only goes up (but for {@link #rebase}), one write at a
 * time, and a write covers every caller who asked before it started, so that commits finishing
 * together share one write.
 */
abstract class RecordedNumber implements Anchor {
    private final ReentrantLock writing = new ReentrantLock();
    /** The highest number asked for. */
    private final AtomicLong wanted = new AtomicLong();
    private volatile long recorded;

    /** Takes what the anchor holds when it is opened. */
    final void opened(long number) {
        recorded = number;
        wanted.set(number);
    }

    /**
     * Records {@code number} durably (with {@code rebase}, even if lower) and returns the number
     * recorded after it. Called by one thread at a time.
     */
    abstract long write(long number, boolean rebase) throws IOException;

    @Override
    public final long recorded() {
        return recorded;
    }

    @Override
    public final void advance(long number) throws IOException {
        wanted.accumulateAndGet(number, Math::max);
        if (number <= recorded) {
            return;
        }
        writing.lock();
        try {
            if (number <= recorded) {
                return; // a write that started after this caller asked covered it
            }
            long asked = wanted.get();
            long after = write(asked, false);
            if (after < asked) {
                throw new IOException(describe() + " recorded " + after + " when asked for " + asked);
            }
            recorded = after;
        } finally {
            writing.unlock();
        }
    }

    @Override
    public final void rebase(long number) throws IOException {
        writing.lock();
        try {
            long after = write(number, true);
            if (after != number) {
                throw new IOException(describe() + " recorded " + after + " when set back to " + number);
            }
            wanted.set(number);
            recorded = number;
        } finally {
            writing.unlock();
        }
    }
}
