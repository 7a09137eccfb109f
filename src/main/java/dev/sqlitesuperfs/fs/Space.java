package dev.sqlitesuperfs.fs;

import java.util.concurrent.atomic.AtomicLong;

/**
 * The namespace's space, in blocks: the block rows stored, and the rows that written data not yet
 * stored will add, reserved when it is written. A quota bounds their sum: a write that would take
 * it past the quota reserves nothing and fails, so nothing past the quota is ever accepted, however
 * many writers race. A block overwritten in place adds no row and needs no reservation. Truncations
 * free space when they are stored.
 */
final class Space {
    private final long limitBlocks;
    private final AtomicLong stored = new AtomicLong();
    /** Stored plus reserved: what the quota is checked against. */
    private final AtomicLong charged = new AtomicLong();

    /** @param limitBlocks the quota in blocks; 0 for none */
    Space(long limitBlocks) {
        this.limitBlocks = limitBlocks > 0 ? limitBlocks : Long.MAX_VALUE;
    }

    void initStored(long blocks) {
        stored.set(blocks);
        charged.set(blocks);
    }

    /** Reserves {@code blocks} new rows; false, reserving nothing, if that would pass the quota. */
    boolean tryReserve(long blocks) {
        if (blocks <= 0) {
            return true;
        }
        for (;;) {
            long now = charged.get();
            if (now + blocks > limitBlocks || now + blocks < 0) {
                return false;
            }
            if (charged.compareAndSet(now, now + blocks)) {
                return true;
            }
        }
    }

    /** Gives back reservations of written data that will not be stored (cut away, or lost). */
    void release(long blocks) {
        charged.addAndGet(-blocks);
    }

    /**
     * A commit changed the stored rows by {@code delta}, turning {@code reserved} reservations
     * into rows (its truncations make up the rest of the difference).
     */
    void stored(long delta, long reserved) {
        stored.addAndGet(delta);
        charged.addAndGet(delta - reserved);
    }

    long storedBlocks() {
        return stored.get();
    }

    /** Stored and reserved blocks together: what statfs reports as used. */
    long usedBlocks() {
        return charged.get();
    }

    /** Blocks that can still be reserved (Long.MAX_VALUE without a quota). */
    long freeBlocks() {
        return limitBlocks == Long.MAX_VALUE ? Long.MAX_VALUE : Math.max(0, limitBlocks - charged.get());
    }

    boolean limited() {
        return limitBlocks != Long.MAX_VALUE;
    }
}
