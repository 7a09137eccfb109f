package dev.sqlitesuperfs.fs;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Group;
import org.openjdk.jmh.annotations.GroupThreads;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;

/**
 * The plaintext block cache under contention: gets of cached blocks, puts that evict, and both at
 * once (three getting threads, one putting). The cache holds {@code blocks} 4 KiB blocks; gets
 * ask for those, puts range over twice as many, so every put past the start evicts.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class BlockCacheBenchmark {

    private static final int BLOCK = 4096;

    @Param({"65536"})
    int blocks;

    private BlockCache cache;
    private byte[] data;

    /** Each thread's own random sequence of block numbers. */
    @State(Scope.Thread)
    public static class Cursor {
        private long state = System.nanoTime() | 1;

        int next(int bound) {
            state ^= state << 13;
            state ^= state >>> 7;
            state ^= state << 17;
            return (int) Long.remainderUnsigned(state, bound);
        }
    }

    @Setup(Level.Trial)
    public void setUp() {
        // 16 segments, each evicting on its own: room for a little more than `blocks` in all.
        cache = new BlockCache((long) blocks * BLOCK * 9 / 8);
        data = new byte[BLOCK];
        for (int i = 0; i < blocks; i++) {
            cache.put(i / 1024, i % 1024, data);
        }
    }

    @Benchmark
    @Threads(4)
    public byte[] get(Cursor cursor) {
        int i = cursor.next(blocks);
        return cache.get(i / 1024, i % 1024);
    }

    @Benchmark
    @Threads(4)
    public void put(Cursor cursor) {
        int i = cursor.next(2 * blocks);
        cache.put(i / 1024, i % 1024, data);
    }

    @Benchmark
    @Group("mixed")
    @GroupThreads(3)
    public byte[] mixedGet(Cursor cursor) {
        return get(cursor);
    }

    @Benchmark
    @Group("mixed")
    @GroupThreads(1)
    public void mixedPut(Cursor cursor) {
        put(cursor);
    }
}
