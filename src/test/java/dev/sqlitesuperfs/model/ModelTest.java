package dev.sqlitesuperfs.model;

import static org.assertj.core.api.Assertions.fail;

import dev.sqlitesuperfs.model.ModelRun.Mismatch;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Seeded random operations applied to the mount and to a directory on local disk side by side,
 * compared after every step. A difference is shrunk to a short sequence and reported with the
 * command that replays it.
 *
 * <p>{@code -Dmodel.seed=N} fixes the seed (random and printed otherwise), {@code -Dmodel.ops=N}
 * the number of operations, {@code -Dmodel.shrinkSeconds=N} the time spent shrinking.
 */
class ModelTest {
    private static final int DEFAULT_SEEDS = 4;
    private static final int DEFAULT_OPS_PER_SEED = 800;
    /** The long run uses fresh namespaces of this many operations each, so that a failure shrinks in reasonable time. */
    private static final int LONG_RUN_SEGMENT = 10_000;

    @Test
    @Timeout(value = 20, unit = TimeUnit.MINUTES)
    void randomOperationsAgreeWithLocalDisk() {
        int ops = Integer.getInteger("model.ops", DEFAULT_OPS_PER_SEED);
        for (long seed : seeds(DEFAULT_SEEDS)) {
            check(seed, ops);
        }
    }

    /**
     * 100,000 operations in the slow suite (15 to 20 minutes on 2 busy cores);
     * conformance/model-test.sh asks it for a million.
     */
    @Test
    @Tag("slow")
    void longRunAgreesWithLocalDisk() {
        long total = Long.getLong("model.ops", 100_000);
        long seed = seeds(1).getFirst();
        long started = System.nanoTime();
        long done = 0;
        for (int segment = 0; done < total; segment++) {
            int ops = (int) Math.min(LONG_RUN_SEGMENT, total - done);
            check(seed + segment, ops);
            done += ops;
            System.out.printf("model: %d of %d operations agreed (seeds %d..%d), %d s%n", done, total, seed,
                    seed + segment, (System.nanoTime() - started) / 1_000_000_000L);
        }
    }

    private static List<Long> seeds(int count) {
        Long fixed = Long.getLong("model.seed");
        if (fixed != null) {
            return List.of(fixed);
        }
        List<Long> seeds = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            seeds.add(ThreadLocalRandom.current().nextLong(1, Long.MAX_VALUE / 2));
        }
        return seeds;
    }

    private static void check(long seed, int count) {
        List<String> options = ModelRun.mountOptionsFor(seed);
        List<Op> all = new OpGenerator(seed).next(count);
        String keep = System.getProperty("model.keep");
        List<Integer> positions = keep == null
                ? IntStream.range(0, count).boxed().toList()
                : Shrinker.parseRanges(keep);
        System.out.println("model: seed " + seed + ", " + positions.size() + " operations, mount options " + options);
        Shrinker shrinker = new Shrinker(Duration.ofSeconds(Long.getLong("model.shrinkSeconds", 180)), options, all);
        Optional<Mismatch> mismatch;
        long started = System.nanoTime();
        try (ModelRun run = new ModelRun(options)) {
            mismatch = run.run(shrinker.ops(positions));
            System.out.printf("model: seed %d took %d ms (%s)%n", seed, (System.nanoTime() - started) / 1_000_000,
                    run.timeSpent());
            System.out.println("model: outcomes " + run.outcomeCounts());
        }
        if (mismatch.isEmpty()) {
            return;
        }
        StringBuilder report = new StringBuilder();
        report.append("model: seed ").append(seed).append(" (mount options ").append(options).append(") failed at ")
                .append(mismatch.get()).append('\n');
        System.out.println(report);
        Shrinker.Shrunk shrunk = shrinker.shrink(positions, mismatch.get());
        report.append("shrunk in ").append(shrunk.replays()).append(" replays to ").append(shrunk.kept().size())
                .append(" operations, failing at ").append(shrunk.mismatch()).append(":\n");
        for (String line : StateComparison.numbered(shrinker.ops(shrunk.kept()))) {
            report.append(line).append('\n');
        }
        report.append("rerun the whole seed: mvn -B test -Dtest=ModelTest#randomOperationsAgreeWithLocalDisk")
                .append(" -Dmodel.seed=").append(seed).append(" -Dmodel.ops=").append(count).append('\n');
        report.append("rerun the shrunk sequence: mvn -B test -Dtest=ModelTest#randomOperationsAgreeWithLocalDisk")
                .append(" -Dmodel.seed=").append(seed).append(" -Dmodel.ops=").append(count)
                .append(" -Dmodel.keep=").append(Shrinker.ranges(shrunk.kept())).append('\n');
        System.out.println(report);
        fail(report.toString());
    }
}
