package dev.sqlitesuperfs.fs;

import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A bounded cache of clean plaintext blocks shared by the namespaces of a process, each seeing
 * its own part ({@link Tenant}), keyed by (inode, block index). A cached array holds the block's
 * stored bytes (shorter than a block for the last block of a file); callers treat it as read-only.
 *
 * <p>Fair under pressure: when the cache is full, a namespace that holds more than its share (the
 * capacity over the namespaces holding blocks) makes room from its own blocks, least recently
 * used first; one under its share takes room from the namespace holding the most. So a tenant that
 * streams gigabytes ends up evicting its own blocks, and everyone else's hot blocks stay. A
 * standalone mount is the one tenant and simply has an LRU cache.
 *
 * <p>Each tenant's blocks are split into independently locked segments, so that request threads
 * rarely wait on each other.
 */
final class BlockCache {
    private static final int SEGMENTS = 16;

    private record Key(long ino, long idx) {}

    private final long capacity;
    private final AtomicLong total = new AtomicLong();
    private final Set<Tenant> tenants = ConcurrentHashMap.newKeySet();
    /** Where room was last taken from; looked for again only when it no longer holds more than its share. */
    private volatile Tenant heaviest;

    BlockCache(long capacityBytes) {
        this.capacity = Math.max(0, capacityBytes);
    }

    /** A namespace's part of the cache; {@link Tenant#close} gives its blocks back. */
    Tenant tenant() {
        Tenant t = new Tenant();
        tenants.add(t);
        return t;
    }

    /** Bytes cached, over all tenants. */
    long bytes() {
        return total.get();
    }

    private long fairShare() {
        long holding = 0;
        for (Tenant t : tenants) {
            if (t.bytes.get() > 0) {
                holding++;
            }
        }
        return capacity / Math.max(1, holding);
    }

    /** Evicts until the cache fits, from {@code putter} itself or from the tenant holding the most. */
    private void makeRoom(Tenant putter) {
        while (total.get() > capacity) {
            long share = fairShare();
            Tenant victim = putter.bytes.get() > share ? putter : heaviestOver(share);
            if (victim == null || !victim.evictOne()) {
                if (!putter.evictOne()) {
                    return;
                }
            }
        }
    }

    private Tenant heaviestOver(long share) {
        Tenant known = heaviest;
        if (known != null && known.bytes.get() > share && tenants.contains(known)) {
            return known;
        }
        Tenant most = null;
        for (Tenant t : tenants) {
            if (most == null || t.bytes.get() > most.bytes.get()) {
                most = t;
            }
        }
        heaviest = most;
        return most;
    }

    /** One namespace's cached blocks. */
    final class Tenant {
        private final Segment[] segments = new Segment[SEGMENTS];
        private final AtomicLong bytes = new AtomicLong();
        private final AtomicInteger nextVictim = new AtomicInteger();
        private final LongAdder hits = new LongAdder();
        private final LongAdder misses = new LongAdder();

        private Tenant() {
            for (int i = 0; i < SEGMENTS; i++) {
                segments[i] = new Segment();
            }
        }

        /** Plaintext bytes this tenant has cached. */
        long bytes() {
            return bytes.get();
        }

        byte[] get(long ino, long idx) {
            Key key = new Key(ino, idx);
            byte[] found = segment(key).get(key);
            (found != null ? hits : misses).increment();
            return found;
        }

        /** Lookups answered from the cache. */
        long hits() {
            return hits.sum();
        }

        /** Lookups that found nothing cached (the block was read from storage, or was a hole). */
        long misses() {
            return misses.sum();
        }

        void put(long ino, long idx, byte[] data) {
            if (data.length > capacity) {
                return;
            }
            Key key = new Key(ino, idx);
            segment(key).put(key, data);
            makeRoom(this);
        }

        /** Drops every cached block of {@code ino} with index {@code >= fromIdx}. */
        void invalidate(long ino, long fromIdx) {
            for (Segment s : segments) {
                s.invalidate(ino, fromIdx);
            }
        }

        /** Drops every block of this tenant (its namespace is unmounted). */
        void close() {
            for (Segment s : segments) {
                s.clear();
            }
            tenants.remove(this);
        }

        /** Evicts this tenant's least recently used block of one segment; false if it holds none. */
        private boolean evictOne() {
            for (int tried = 0; tried < SEGMENTS; tried++) {
                Segment s = segments[Math.floorMod(nextVictim.getAndIncrement(), SEGMENTS)];
                if (s.evictEldest()) {
                    return true;
                }
            }
            return false;
        }

        private Segment segment(Key key) {
            long h = key.ino() * 0x9E3779B97F4A7C15L + key.idx();
            return segments[(int) ((h ^ (h >>> 29)) & (SEGMENTS - 1))];
        }

        private final class Segment {
            private final ReentrantLock lock = new ReentrantLock();
            private final LinkedHashMap<Key, byte[]> map = new LinkedHashMap<>(16, 0.75f, true);

            byte[] get(Key key) {
                lock.lock();
                try {
                    return map.get(key);
                } finally {
                    lock.unlock();
                }
            }

            void put(Key key, byte[] data) {
                lock.lock();
                try {
                    byte[] old = map.put(key, data);
                    counted(data.length - (old == null ? 0 : old.length));
                } finally {
                    lock.unlock();
                }
            }

            boolean evictEldest() {
                lock.lock();
                try {
                    Iterator<Map.Entry<Key, byte[]>> it = map.entrySet().iterator();
                    if (!it.hasNext()) {
                        return false;
                    }
                    counted(-it.next().getValue().length);
                    it.remove();
                    return true;
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
                            counted(-e.getValue().length);
                            it.remove();
                        }
                    }
                } finally {
                    lock.unlock();
                }
            }

            void clear() {
                lock.lock();
                try {
                    long held = 0;
                    for (byte[] b : map.values()) {
                        held += b.length;
                    }
                    map.clear();
                    counted(-held);
                } finally {
                    lock.unlock();
                }
            }

            private void counted(long delta) {
                bytes.addAndGet(delta);
                total.addAndGet(delta);
            }
        }
    }
}
