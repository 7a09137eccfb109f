package dev.sqlitesuperfs.model;

import dev.sqlitesuperfs.testing.Posix;
import dev.sqlitesuperfs.testing.CliMount;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.stream.Stream;

/**
 * A fresh namespace and a fresh directory on local disk, and a sequence of operations applied to
 * both, compared after every step. Stops at the first difference.
 */
final class ModelRun implements AutoCloseable {
    /** Steps between comparisons of the whole tree (the touched names are compared after every step). */
    private static final int FULL_COMPARISON_EVERY = 25;
    private static final Path REFERENCE_BASE = Path.of("target", "model-reference").toAbsolutePath();

    /** The first difference: after which step (1-based), which operation, and what differed. */
    record Mismatch(int step, Op op, String description) {
        @Override
        public String toString() {
            return "step " + step + " (" + op + "): " + description;
        }
    }

    /** In a process of its own: the model maps files of the mount (see {@link CliMount}). */
    private final CliMount mount;
    private final Path referenceRoot;
    private final FsSide mountSide;
    private final FsSide referenceSide;
    private final StateComparison compare;
    private boolean mounted = true;
    private long applyingNs;
    private long comparingNs;
    private long remountingNs;
    private long lastApplyNs;
    private final java.util.TreeMap<String, Integer> outcomes = new java.util.TreeMap<>();

    /**
     * Mount options for a seed: the defaults, or settings that push requests past the kernel's
     * caches (no attribute caching), past the mount's own (a tiny block cache, a small write
     * buffer) or through other block sizes, so that more of the code answers.
     */
    static List<String> mountOptionsFor(long seed) {
        return switch ((int) Math.floorMod(seed, 4L)) {
            case 0 -> List.of();
            case 1 -> List.of("--cache-ttl", "0", "--cache-size", "256K", "--write-buffer", "1M", "--writeback-delay", "1");
            case 2 -> List.of("--block-size", "16384", "--cache-ttl", "0");
            default -> List.of("--block-size", "65536", "--cache-size", "1M");
        };
    }

    ModelRun(List<String> mountOptions) {
        try {
            Files.createDirectories(REFERENCE_BASE);
            referenceRoot = Files.createTempDirectory(REFERENCE_BASE, "ref-");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        mount = CliMount.fresh(mountOptions.toArray(String[]::new));
        // The roots start out alike: a temporary directory is private (0700), a namespace's root is not.
        Posix.chmod(referenceRoot, Posix.lstat(mount.root()).mode() & 07777);
        mountSide = new FsSide(mount.root());
        referenceSide = new FsSide(referenceRoot);
        compare = new StateComparison(mountSide, referenceSide);
    }

    /** Applies {@code ops} in order; the first mismatch, or empty if the sides agreed throughout and the namespace checks clean. */
    Optional<Mismatch> run(List<Op> ops) {
        for (int i = 0; i < ops.size(); i++) {
            Op op = ops.get(i);
            Optional<String> difference = step(op);
            if (difference.isEmpty() && (i + 1) % FULL_COMPARISON_EVERY == 0) {
                difference = compare.tree();
            }
            if (difference.isPresent()) {
                return Optional.of(new Mismatch(i + 1, op, difference.get()));
            }
        }
        mountSide.closeAll();
        referenceSide.closeAll();
        Optional<String> end = compare.tree().or(this::remountWithCheck);
        return end.map(d -> new Mismatch(ops.size(), ops.isEmpty() ? new Op.Remount() : ops.getLast(),
                "at the end: " + d));
    }

    /** Where the time went, for tuning the harness: applying operations, comparing, remounting. */
    String timeSpent() {
        return String.format("applying %d ms, comparing %d ms, remounting %d ms", applyingNs / 1_000_000,
                comparingNs / 1_000_000, remountingNs / 1_000_000);
    }

    /** How often each kind of operation succeeded and failed: a run whose operations all fail tests little. */
    String outcomeCounts() {
        return outcomes.toString();
    }

    private static boolean isError(String outcome) {
        return outcome.startsWith("E") || outcome.startsWith("errno") || outcome.equals("not open");
    }

    private Optional<String> step(Op op) {
        if (op instanceof Op.Remount) {
            mountSide.closeAll();
            referenceSide.closeAll();
            long started = System.nanoTime();
            Optional<String> fsck = remountWithCheck();
            remountingNs += System.nanoTime() - started;
            return fsck.or(compare::tree);
        }
        if (op instanceof Op.DropCaches) {
            dropKernelCaches();
            return compare.tree();
        }
        long started = System.nanoTime();
        try {
            return applyAndCompare(op);
        } finally {
            comparingNs += System.nanoTime() - started - lastApplyNs;
        }
    }

    private Optional<String> applyAndCompare(Op op) {
        long started = System.nanoTime();
        byte[] data = dataOf(op);
        String m = mountSide.apply(op, data);
        String r;
        if (op instanceof Op.Fallocate f && (f.mode() & Posix.FALLOC_FL_PUNCH_HOLE) != 0 && m.equals("EOPNOTSUPP")) {
            // The mount does not claim hole punching, which is optional in Linux (many filesystems
            // refuse it); the reference is then left unchanged so the two stay comparable.
            r = m;
        } else {
            r = referenceSide.apply(op, data);
        }
        lastApplyNs = System.nanoTime() - started;
        outcomes.merge(op.getClass().getSimpleName() + (isError(m) ? " failed" : " succeeded"), 1, Integer::sum);
        applyingNs += lastApplyNs;
        if (!m.equals(r)) {
            return Optional.of("mount answered " + m + ", reference " + r);
        }
        for (String path : op.touchedPaths()) {
            Optional<String> d = compare.path(path, op instanceof Op.Utimens);
            if (d.isPresent()) {
                return d;
            }
        }
        return op.touchedSlot() >= 0 ? compare.slot(op.touchedSlot()) : Optional.empty();
    }

    private static void dropKernelCaches() {
        try {
            Files.writeString(Path.of("/proc/sys/vm/drop_caches"), "3");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Unmounts (storing everything), checks the stored namespace, mounts it again. */
    private Optional<String> remountWithCheck() {
        mount.unmount();
        mounted = false;
        List<String> problems = mount.check();
        mount.mount();
        mounted = true;
        return problems.isEmpty() ? Optional.empty() : Optional.of("fsck after unmount: " + problems);
    }

    static byte[] dataOf(Op op) {
        return switch (op) {
            case Op.Write w -> bytes(w.dataSeed(), w.length());
            case Op.MapWrite w -> bytes(w.dataSeed(), w.length());
            case Op.SetXattr x -> bytes(x.dataSeed(), x.length());
            default -> null;
        };
    }

    private static byte[] bytes(long seed, int length) {
        byte[] b = new byte[length];
        new Random(seed).nextBytes(b);
        return b;
    }

    @Override
    public void close() {
        mountSide.closeAll();
        referenceSide.closeAll();
        if (mounted) {
            mount.unmount();
        }
        try (Stream<Path> all = Files.walk(referenceRoot)) {
            for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
                // Modes like 0 or 0444 do not stop root from deleting.
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        mount.close();
    }
}
