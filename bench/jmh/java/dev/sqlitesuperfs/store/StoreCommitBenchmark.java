package dev.sqlitesuperfs.store;

import dev.sqlitesuperfs.localpg.LocalPostgres;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
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

/**
 * The store's commit of one change set carrying a file's new size and {@code blocks} sealed 4 KiB
 * blocks, against a local PostgreSQL started for the trial (fsync on): {@code overwrite} replaces
 * the same blocks each time (a database file rewritten in place), {@code append} adds new ones (a
 * file growing). One commit is one PostgreSQL transaction, durable when it returns.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class StoreCommitBenchmark {

    private static final int BLOCK = 4096;
    private static final int SEALED = BLOCK + 40;
    private static final int FILE_MODE = 0100644;
    private static final int DIR_MODE = 0040755;

    @Param({"1", "16", "256"})
    int blocks;

    @Param({"overwrite", "append"})
    String pattern;

    private Path stateDir;
    private LocalPostgres postgres;
    private PgNamespaceStore store;
    private long ino;
    private long nextIdx;
    private final List<byte[]> payloads = new ArrayList<>();

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        stateDir = Files.createTempDirectory("sqlitesuperfs-jmh-");
        postgres = LocalPostgres.start(stateDir);
        store = PgNamespaceStore.open(postgres.config(), NamespaceName.parse("jmh_" + Long.toHexString(System.nanoTime())), false);
        store.create(new NamespaceMeta(PgNamespaceStore.FORMAT_VERSION, UUID.randomUUID(), BLOCK, "argon2id13", 3,
                64L << 20, new byte[16], new byte[48], 0), inode(1, DIR_MODE, 2, BLOCK));
        store.startWriting();
        ino = store.allocateInodes().first();
        for (int i = 0; i < blocks; i++) {
            byte[] sealed = new byte[SEALED];
            ThreadLocalRandom.current().nextBytes(sealed);
            payloads.add(sealed);
        }
        store.commit(new ChangeSet().putInode(inode(ino, FILE_MODE, 1, 0))
                .putEntry(1, "file".getBytes(StandardCharsets.UTF_8), ino));
        store.commit(changeSet(0, 0));
        nextIdx = blocks;
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        store.close();
        postgres.release();
        try (Stream<Path> paths = Files.walk(stateDir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    @Benchmark
    public CommitResult commit() {
        if (pattern.equals("append")) {
            long first = nextIdx;
            nextIdx += blocks;
            return store.commit(changeSet(first, first));
        }
        return store.commit(changeSet(0, blocks));
    }

    /** Blocks first..first+blocks-1, of which those from firstNew on are known to be new. */
    private ChangeSet changeSet(long first, long firstNew) {
        List<SealedBlock> list = new ArrayList<>(blocks);
        for (int i = 0; i < blocks; i++) {
            list.add(new SealedBlock(first + i, payloads.get(i)));
        }
        long size = (first + blocks) * BLOCK;
        return new ChangeSet().putInode(inode(ino, FILE_MODE, 1, size)).putBlocks(ino, firstNew, list);
    }

    private static InodeRecord inode(long ino, int mode, int nlink, long size) {
        long now = System.currentTimeMillis() * 1_000_000;
        return new InodeRecord(ino, mode, 0, 0, nlink, size, 0, 0, now, now, now);
    }
}
