package dev.sqlitesuperfs.model;

import dev.sqlitesuperfs.model.ModelRun.Mismatch;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Makes a failing sequence short enough to read: first the shortest failing prefix (searched over
 * the length, every answer replayed on a fresh namespace and a fresh reference directory), then
 * dropping chunks and single operations while it still fails, within a time budget.
 */
final class Shrinker {
    private final Duration budget;
    private final List<String> mountOptions;
    private int replays;

    Shrinker(Duration budget, List<String> mountOptions) {
        this.budget = budget;
        this.mountOptions = mountOptions;
    }

    /** The result: a sequence that failed when last replayed, and how it failed. */
    record Shrunk(List<Op> ops, Mismatch mismatch, int replays) {}

    Shrunk shrink(List<Op> failing, Mismatch original) {
        Instant deadline = Instant.now().plus(budget);
        List<Op> best = failing.subList(0, original.step());
        Mismatch bestMismatch = original;

        // Failures need not be monotonic in the prefix length: hi always holds a length seen failing.
        int lo = 1;
        int hi = best.size();
        while (lo < hi && Instant.now().isBefore(deadline)) {
            int mid = (lo + hi) >>> 1;
            Optional<Mismatch> m = replay(best.subList(0, mid));
            if (m.isPresent()) {
                hi = m.get().step();
                bestMismatch = m.get();
            } else {
                lo = mid + 1;
            }
        }
        best = new ArrayList<>(best.subList(0, hi));

        for (int chunk = Math.max(1, best.size() / 2); Instant.now().isBefore(deadline); chunk = Math.max(1, chunk / 2)) {
            boolean removedAny = false;
            // From the end, since late operations depend on early ones more than the reverse.
            for (int start = best.size() - 1 - chunk; start >= 0 && Instant.now().isBefore(deadline); start -= chunk) {
                List<Op> candidate = new ArrayList<>(best.subList(0, start));
                candidate.addAll(best.subList(Math.min(best.size(), start + chunk), best.size()));
                Optional<Mismatch> m = replay(candidate);
                if (m.isPresent()) {
                    best = new ArrayList<>(candidate.subList(0, m.get().step()));
                    bestMismatch = m.get();
                    removedAny = true;
                }
            }
            if (chunk == 1 && !removedAny) {
                break;
            }
        }
        return new Shrunk(best, bestMismatch, replays);
    }

    private Optional<Mismatch> replay(List<Op> ops) {
        replays++;
        try (ModelRun run = new ModelRun(mountOptions)) {
            return run.run(ops);
        }
    }
}
