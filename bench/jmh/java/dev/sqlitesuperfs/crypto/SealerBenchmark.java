package dev.sqlitesuperfs.crypto;

import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/** Sealing and opening one block, as every write-back and every read from storage does. */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class SealerBenchmark {

    @Param({"4096", "65536"})
    int blockSize;

    private SecretKey key;
    private Sealer sealer;
    private byte[] plain;
    private byte[] sealed;
    private byte[] dest;
    private long idx;

    @Setup(Level.Trial)
    public void setUp() {
        key = SecretKey.random();
        sealer = new Sealer(key, UUID.randomUUID(), 1, blockSize);
        plain = new byte[blockSize];
        ThreadLocalRandom.current().nextBytes(plain);
        sealed = sealer.sealBlock(7, 3, plain, 0, blockSize);
        dest = new byte[blockSize];
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        sealer.close();
        key.close();
    }

    @Benchmark
    public byte[] seal() {
        return sealer.sealBlock(7, idx++, plain, 0, blockSize);
    }

    @Benchmark
    public int open() throws IntegrityException {
        return sealer.openBlock(7, 3, sealed, dest, 0);
    }
}
