package dev.sqlitesuperfs.crypto;

import java.lang.foreign.Arena;
import java.util.concurrent.locks.LockSupport;

/** Closing shared arenas whose segments other threads may be passing to native code right now. */
final class SharedArenas {

    private static final int SPINS_BEFORE_PARKING = 100;
    private static final long PARK_NANOS = 100_000;

    private SharedArenas() {}

    /**
     * Closes {@code arena} as soon as no downcall holds one of its segments. A shared arena refuses
     * to close while a downcall is using its memory; waiting for that call to finish is the point,
     * because the memory must not be wiped or freed under it. Once closed, every later use of its
     * segments fails with {@link IllegalStateException}.
     */
    static void closeWhenIdle(Arena arena) {
        int attempts = 0;
        while (true) {
            try {
                arena.close();
                return;
            } catch (IllegalStateException inUse) {
                if (!arena.scope().isAlive()) {
                    return;
                }
                if (++attempts < SPINS_BEFORE_PARKING) {
                    Thread.onSpinWait();
                } else {
                    LockSupport.parkNanos(PARK_NANOS);
                }
            }
        }
    }
}
