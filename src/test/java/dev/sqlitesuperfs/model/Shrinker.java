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
 * dropping chunks and single operations while it still fails, within a time budget. It works on
 * positions in the seed's sequence, so that the result replays exactly from the seed plus the list
 * of positions kept ({@code -Dmodel.keep}).
 */
final class Shrinker {
    private final Duration budget;
    private final List<String> mountOptions;
    private final List<Op> all;
    private int replays;

    /** @param all the whole sequence generated from the seed; positions refer to it */
    Shrinker(Duration budget, List<String> mountOptions, List<Op> all) {
        this.budget = budget;
        this.mountOptions = mountOptions;
        this.all = all;
    }

    /** The result: positions (0-based) in the seed's sequence that failed when last replayed, and how. */
    record Shrunk(List<Integer> kept, Mismatch mismatch, int replays) {}

    Shrunk shrink(List<Integer> failing, Mismatch original) {
        Instant deadline = Instant.now().plus(budget);
        List<Integer> best = failing.subList(0, original.step());
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
            // From the end, since late operations depend on early ones more than the reverse; the
            // last operation, the one that fails, stays.
            for (int start = best.size() - 1 - chunk; start >= 0 && Instant.now().isBefore(deadline); start -= chunk) {
                List<Integer> candidate = new ArrayList<>(best.subList(0, start));
                candidate.addAll(best.subList(Math.min(best.size(), start + chunk), best.size()));
                Optional<Mismatch> m = replay(candidate);
                if (m.isPresent()) {
                    best = new ArrayList<>(candidate.subList(0, m.get().step()));
                    bestMismatch = m.get();
                    removedAny = true;
                    start = Math.min(start, best.size() - 1);
                }
            }
            if (chunk == 1 && !removedAny) {
                break;
            }
        }
        return new Shrunk(best, bestMismatch, replays);
    }

    List<Op> ops(List<Integer> positions) {
        return positions.stream().map(all::get).toList();
    }

    private Optional<Mismatch> replay(List<Integer> positions) {
        replays++;
        try (ModelRun run = new ModelRun(mountOptions)) {
            return run.run(ops(positions));
        }
    }

    /** Positions as 1-based ranges, "1-5,9,12-14", the form {@code -Dmodel.keep} takes. */
    static String ranges(List<Integer> positions) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < positions.size(); ) {
            int j = i;
            while (j + 1 < positions.size() && positions.get(j + 1) == positions.get(j) + 1) {
                j++;
            }
            s.append(s.isEmpty() ? "" : ",").append(positions.get(i) + 1);
            if (j > i) {
                s.append('-').append(positions.get(j) + 1);
            }
            i = j + 1;
        }
        return s.toString();
    }

    /** The 0-based positions that {@link #ranges} printed. */
    static List<Integer> parseRanges(String text) {
        List<Integer> positions = new ArrayList<>();
        for (String part : text.split(",")) {
            String[] bounds = part.trim().split("-");
            int from = Integer.parseInt(bounds[0]);
            int to = bounds.length > 1 ? Integer.parseInt(bounds[1]) : from;
            for (int p = from; p <= to; p++) {
                positions.add(p - 1);
            }
        }
        return positions;
    }
}
