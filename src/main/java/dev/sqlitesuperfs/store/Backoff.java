package dev.sqlitesuperfs.store;

import java.time.Duration;

/** Exponential back-off between retries of a transient failure: 10 ms, doubling, at most 1 s. */
final class Backoff {

    static final Duration FIRST = Duration.ofMillis(10);
    static final Duration LONGEST = Duration.ofSeconds(1);

    private long nextMillis = FIRST.toMillis();
    private int attempts;

    /** Sleeps for the next interval, but never past {@code deadlineNanos} (a {@link System#nanoTime()}). */
    void pause(long deadlineNanos) {
        attempts++;
        long untilDeadline = Math.max(0, (deadlineNanos - System.nanoTime()) / 1_000_000);
        long millis = Math.min(nextMillis, Math.max(1, untilDeadline));
        nextMillis = Math.min(nextMillis * 2, LONGEST.toMillis());
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StoreException("interrupted while waiting to retry a database call", e);
        }
    }

    int attempts() {
        return attempts;
    }

    void reset() {
        nextMillis = FIRST.toMillis();
        attempts = 0;
    }
}
