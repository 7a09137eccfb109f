package dev.sqlitesuperfs.anchor;

import java.io.IOException;

/**
 * One namespace's freshness record: the newest commit number recorded. Never lowered except by
 * {@link #rebase}. Thread-safe.
 */
public interface Anchor extends AutoCloseable {

    /** The newest commit number recorded, or 0 when nothing was recorded yet. */
    long recorded();

    /**
     * Records {@code number} durably if it is newer than what is recorded; returns once it is
     * (a crash afterwards still finds it). Concurrent callers share one write where they can.
     */
    void advance(long number) throws IOException;

    /** Records {@code number} even if it is older (after a deliberate restore of the database). */
    void rebase(long number) throws IOException;

    /** Where the record is kept, for messages. */
    String describe();

    @Override
    void close();
}
