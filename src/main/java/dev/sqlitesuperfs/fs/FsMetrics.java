package dev.sqlitesuperfs.fs;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;

/**
 * What one namespace's filesystem counts for its operator: bytes read and written by programs,
 * block cache hits and misses, tampering refused, errors answered (by errno) and how long each
 * fsync took. Counting is a few uncontended adds per request; reading is for a metrics scrape.
 */
public final class FsMetrics {
    /** Upper bounds, in seconds, of the fsync latency histogram's buckets (then +Inf). */
    public static final double[] FSYNC_BUCKETS = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5};
    private static final int MAX_ERRNO = 133;

    private final LongAdder bytesRead = new LongAdder();
    private final LongAdder bytesWritten = new LongAdder();
    private final LongAdder tamperEvents = new LongAdder();
    private final AtomicLongArray errors = new AtomicLongArray(MAX_ERRNO + 1);
    private final LongAdder[] fsyncBuckets = new LongAdder[FSYNC_BUCKETS.length + 1];
    private final LongAdder fsyncNanos = new LongAdder();
    private final BlockCache.Tenant cache;

    FsMetrics(BlockCache.Tenant cache) {
        this.cache = cache;
        for (int i = 0; i < fsyncBuckets.length; i++) {
            fsyncBuckets[i] = new LongAdder();
        }
    }

    void read(long bytes) {
        bytesRead.add(bytes);
    }

    void written(long bytes) {
        bytesWritten.add(bytes);
    }

    void tampered() {
        tamperEvents.increment();
    }

    void error(int errno) {
        errors.incrementAndGet(errno > 0 && errno <= MAX_ERRNO ? errno : 0);
    }

    void fsync(long nanos) {
        fsyncNanos.add(nanos);
        double seconds = nanos / 1e9;
        int bucket = 0;
        while (bucket < FSYNC_BUCKETS.length && seconds > FSYNC_BUCKETS[bucket]) {
            bucket++;
        }
        fsyncBuckets[bucket].increment();
    }

    public long bytesRead() {
        return bytesRead.sum();
    }

    public long bytesWritten() {
        return bytesWritten.sum();
    }

    public long cacheHits() {
        return cache.hits();
    }

    public long cacheMisses() {
        return cache.misses();
    }

    /** Reads and commits refused because what storage returned failed authentication. */
    public long tamperEvents() {
        return tamperEvents.sum();
    }

    /** Requests answered with an error, by errno (0: an errno out of range); only errnos seen. */
    public Map<Integer, Long> errors() {
        Map<Integer, Long> seen = new TreeMap<>();
        for (int i = 0; i < errors.length(); i++) {
            long n = errors.get(i);
            if (n != 0) {
                seen.put(i, n);
            }
        }
        return seen;
    }

    /** fsync calls per bucket of {@link #FSYNC_BUCKETS}, not cumulative; the last is past the largest bound. */
    public long[] fsyncBuckets() {
        long[] counts = new long[fsyncBuckets.length];
        for (int i = 0; i < counts.length; i++) {
            counts[i] = fsyncBuckets[i].sum();
        }
        return counts;
    }

    /** Total time spent in fsync, in seconds. */
    public double fsyncSeconds() {
        return fsyncNanos.sum() / 1e9;
    }
}
