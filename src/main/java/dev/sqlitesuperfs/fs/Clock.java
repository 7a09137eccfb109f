package dev.sqlitesuperfs.fs;

import java.time.Instant;

/** Wall-clock time in nanoseconds since the epoch, for timestamps. */
final class Clock {
    private Clock() {}

    static long nowNs() {
        Instant now = Instant.now();
        return now.getEpochSecond() * 1_000_000_000L + now.getNano();
    }
}
