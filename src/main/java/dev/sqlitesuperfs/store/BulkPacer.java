package dev.sqlitesuperfs.store;

import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;

/**
 * Paces a large write on a host's bulk lane while other namespaces of the server commit. Every
 * commit waits for PostgreSQL to flush its WAL up to the commit record, and with it all the WAL a
 * large COPY wrote before it: a COPY that streams at full speed makes each small commit of its
 * neighbours flush megabytes (and takes the CPU that seals and stores them). So after each piece
 * of {@link #PIECE_BYTES} the COPY pauses for {@code pauseNanos} when a writer lane is held or
 * promised; it goes at full speed when nobody else commits. The transaction stays one: pacing
 * changes when its rows reach the server, never what commits together.
 */
final class BulkPacer {
    static final int PIECE_BYTES = 256 * 1024;
    static final BulkPacer NONE = new BulkPacer(new WriterLane[0], 0);

    private final WriterLane[] neighbours;
    private final long pauseNanos;
    private final LongAdder pauses = new LongAdder();
    /** Bytes sent since the last look at the neighbours; only the lane's holder touches it. */
    private long sinceCheck;

    BulkPacer(WriterLane[] neighbours, long pauseNanos) {
        this.neighbours = neighbours.clone();
        this.pauseNanos = pauseNanos;
    }

    /** {@code bytes} more went to the server; pauses when a piece is complete and others commit. */
    void sent(long bytes) {
        if (pauseNanos == 0) {
            return;
        }
        sinceCheck += bytes;
        if (sinceCheck < PIECE_BYTES) {
            return;
        }
        sinceCheck -= PIECE_BYTES;
        for (WriterLane lane : neighbours) {
            if (lane.busy()) {
                pauses.increment();
                LockSupport.parkNanos(pauseNanos);
                return;
            }
        }
    }

    /** Pauses taken so far (for tests). */
    long pauses() {
        return pauses.sum();
    }
}
