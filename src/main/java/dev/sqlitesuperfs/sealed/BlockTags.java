package dev.sqlitesuperfs.sealed;

import dev.sqlitesuperfs.crypto.Sealer;

import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * The Poly1305 tag of every stored block of one file, by block index: what each block read back
 * must end with. 16 bytes per block, kept in chunks of {@value #CHUNK} consecutive indexes (two
 * longs per tag and a presence bit), so a dense file of a million blocks costs about 16 MiB and a
 * sparse one only its chunks. Not thread-safe: its {@link InodeAuth} guards it.
 */
final class BlockTags {
    private static final int SHIFT = 10;
    private static final int CHUNK = 1 << SHIFT;

    private static final class Chunk {
        final long[] tags = new long[2 * CHUNK];
        final long[] present = new long[CHUNK / 64];
        int count;
    }

    private final TreeMap<Long, Chunk> chunks = new TreeMap<>();
    private long count;

    long count() {
        return count;
    }

    boolean contains(long idx) {
        Chunk c = chunks.get(idx >>> SHIFT);
        return c != null && isPresent(c, (int) (idx & (CHUNK - 1)));
    }

    /** Copies the tag of block {@code idx} into {@code dest[at..at+16)}; false if the block is not stored. */
    boolean get(long idx, byte[] dest, int at) {
        Chunk c = chunks.get(idx >>> SHIFT);
        int slot = (int) (idx & (CHUNK - 1));
        if (c == null || !isPresent(c, slot)) {
            return false;
        }
        putLong(dest, at, c.tags[2 * slot]);
        putLong(dest, at + 8, c.tags[2 * slot + 1]);
        return true;
    }

    /** Whether {@code tag[at..at+16)} is the tag of block {@code idx}. */
    boolean matches(long idx, byte[] tag, int at) {
        Chunk c = chunks.get(idx >>> SHIFT);
        int slot = (int) (idx & (CHUNK - 1));
        return c != null && isPresent(c, slot) && c.tags[2 * slot] == getLong(tag, at)
                && c.tags[2 * slot + 1] == getLong(tag, at + 8);
    }

    void put(long idx, byte[] tag, int at) {
        Chunk c = chunks.computeIfAbsent(idx >>> SHIFT, k -> new Chunk());
        int slot = (int) (idx & (CHUNK - 1));
        if (!isPresent(c, slot)) {
            c.present[slot >>> 6] |= 1L << slot;
            c.count++;
            count++;
        }
        c.tags[2 * slot] = getLong(tag, at);
        c.tags[2 * slot + 1] = getLong(tag, at + 8);
    }

    void remove(long idx) {
        Long key = idx >>> SHIFT;
        Chunk c = chunks.get(key);
        int slot = (int) (idx & (CHUNK - 1));
        if (c == null || !isPresent(c, slot)) {
            return;
        }
        c.present[slot >>> 6] &= ~(1L << slot);
        c.count--;
        count--;
        if (c.count == 0) {
            chunks.remove(key);
        }
    }

    /** The smallest stored index {@code >= idx}, or -1. */
    long nextPresent(long idx) {
        for (Map.Entry<Long, Chunk> e : chunks.tailMap(idx >>> SHIFT, true).entrySet()) {
            long base = e.getKey() << SHIFT;
            int from = base >= idx ? 0 : (int) (idx - base);
            for (int slot = from; slot < CHUNK; slot++) {
                if (isPresent(e.getValue(), slot)) {
                    return base + slot;
                }
            }
        }
        return -1;
    }

    /** The smallest index {@code >= idx} with no stored block. */
    long nextAbsent(long idx) {
        long at = idx;
        while (contains(at)) {
            at++;
        }
        return at;
    }

    /** Every stored index {@code >= idx} with its tag, in order; for truncations. */
    Map<Long, byte[]> tailFrom(long idx) {
        Map<Long, byte[]> tail = new HashMap<>();
        for (long i = nextPresent(idx); i >= 0; i = nextPresent(i + 1)) {
            byte[] tag = new byte[Sealer.TAG_BYTES];
            get(i, tag, 0);
            tail.put(i, tag);
        }
        return tail;
    }

    private static boolean isPresent(Chunk c, int slot) {
        return (c.present[slot >>> 6] & (1L << slot)) != 0;
    }

    private static long getLong(byte[] b, int at) {
        long v = 0;
        for (int i = 0; i < 8; i++) {
            v = (v << 8) | (b[at + i] & 0xff);
        }
        return v;
    }

    private static void putLong(byte[] b, int at, long v) {
        for (int i = 7; i >= 0; i--) {
            b[at + i] = (byte) v;
            v >>>= 8;
        }
    }

    @Override
    public String toString() {
        return "BlockTags[" + count + " blocks in " + chunks.size() + " chunks]";
    }
}
