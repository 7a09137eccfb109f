package dev.sqlitesuperfs.fs;

import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A bounded cache of clean plaintext blocks, keyed by (inode, block index). Least recently used
 * blocks go first. Split into independently locked segments so that request threads rarely wait
 * on each other. A cached array holds the block's stored bytes (shorter than a block for the last
 * block of a file); callers must treat cached arrays as read-only.
 */
final class BlockCache {
    private static final int SEGMENTS = 16;

    private record Key(long ino, long idx) {}

    private final Segment[] segments = new Segment[SEGMENTS];

    BlockCache(long capacityBytes) {
        long perSegment = Math.max(0, capacityBytes / SEGMENTS);
        for (int i = 0; i < SEGMENTS; i++) {
            segments[i] = new Segment(perSegment);
        }
    }

    byte[] get(long ino, long idx) {
        Key key = new Key(ino, idx);
        return segment(key).get(key);
    }

    void put(long ino, long idx, byte[] data) {
        Key key = new Key(ino, idx);
        segment(key).put(key, data);
    }

    /** Drops every cached block of {@code ino} with index {@code >= fromIdx}. */
    void invalidate(long ino, long fromIdx) {
        for (Segment s : segments) {
            s.invalidate(ino, fromIdx);
        }
    }

    private Segment segment(Key key) {
        long h = key.ino() * 0x9E3779B97F4A7C15L + key.idx();
        return segments[(int) ((h ^ (h >>> 29)) & (SEGMENTS - 1))];
    }

    private static final class Segment {
        private final ReentrantLock lock = new ReentrantLock();
        private final LinkedHashMap<Key, byte[]> map = new LinkedHashMap<>(64, 0.75f, true);
        private final long capacity;
        private long bytes;

        Segment(long capacity) {
            this.capacity = capacity;
        }

        byte[] get(Key key) {
            lock.lock();
            try {
                return map.get(key);
            } finally {
                lock.unlock();
            }
        }

        void put(Key key, byte[] data) {
            if (data.length > capacity) {
                return;
            }
            lock.lock();
            try {
                byte[] old = map.put(key, data);
                bytes += data.length - (old == null ? 0 : old.length);
                Iterator<Map.Entry<Key, byte[]>> it = map.entrySet().iterator();
                while (bytes > capacity && it.hasNext()) {
                    bytes -= it.next().getValue().length;
                    it.remove();
                }
            } finally {
                lock.unlock();
            }
        }

        void invalidate(long ino, long fromIdx) {
            lock.lock();
            try {
                Iterator<Map.Entry<Key, byte[]>> it = map.entrySet().iterator();
                while (it.hasNext()) {
                    Map.Entry<Key, byte[]> e = it.next();
                    if (e.getKey().ino() == ino && e.getKey().idx() >= fromIdx) {
                        bytes -= e.getValue().length;
                        it.remove();
                    }
                }
            } finally {
                lock.unlock();
            }
        }
    }
}
