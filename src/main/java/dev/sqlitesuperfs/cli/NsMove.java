package dev.sqlitesuperfs.cli;

import dev.sqlitesuperfs.anchor.Anchors;
import dev.sqlitesuperfs.fleet.Fleet;
import dev.sqlitesuperfs.store.NamespaceMove;
import dev.sqlitesuperfs.store.NamespaceName;
import dev.sqlitesuperfs.store.NamespaceStore;
import dev.sqlitesuperfs.store.PgNamespaceStore;
import dev.sqlitesuperfs.store.Placement;
import dev.sqlitesuperfs.store.StoreException;
import java.io.PrintStream;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code sqlitesuperfs ns move NAMESPACE --to SERVER --fleet FILE}: moves a namespace that is not
 * mounted to another server of its fleet. Copies it ({@link NamespaceMove#copy}), checks the copy
 * as {@code fsck --verify} does (every row against its authenticator, with the key, and the commit
 * number against this machine's anchor), switches over, and drops the old copy. Each step is its
 * own transaction and leaves one authoritative copy; a rerun after a failure or a kill looks at
 * what each server holds and goes on from there: it finishes a move that switched over, and redoes
 * one that did not. A mounted namespace is refused (exit 4): unmount it, move it, mount it again.
 */
final class NsMove {
    /**
     * Fault injection for the tests: the name of a step after which the move stops and waits to be
     * killed (copied, verified, switched, activated). Never set outside tests.
     */
    static final String HALT_AFTER = "SQLITESUPERFS_MOVE_HALT_AFTER";

    private NsMove() {}

    /** What a finished move did; {@code rows} and {@code bytes} are 0 when only an earlier move's end was done. */
    record Result(String from, String to, long rows, long bytes, double seconds, long freedBytes, boolean already) {}

    static Result run(Fleet fleet, NamespaceName name, String to, PassphraseSource passphrases, Anchors anchors,
                      Map<String, String> env, PrintStream progress) {
        Fleet.Server target = fleet.server(to);
        String halt = env.get(HALT_AFTER);
        Map<Fleet.Server, Placement> seen = fleet.survey(name, false);
        // an earlier move that switched over is finished first, whatever it moved to
        for (Map.Entry<Fleet.Server, Placement> e : seen.entrySet()) {
            if (e.getValue().copy() == Placement.Copy.MOVED) {
                Result finished = finish(fleet, name, e.getKey(), fleet.server(e.getValue().peer()), target, halt,
                        progress);
                if (finished != null) {
                    return finished;
                }
                seen = fleet.survey(name, false);
            }
        }
        Fleet.Server source = seen.entrySet().stream().filter(e -> e.getValue().copy() == Placement.Copy.CURRENT)
                .map(Map.Entry::getKey).findFirst().orElse(null);
        if (source == null) {
            // no copy is current: the same answer as a mount would get
            fleet.locate(name);
            throw new StoreException.NoSuchNamespace("namespace " + name + " is on no server of the fleet ("
                    + fleet.names() + ")");
        }
        for (Map.Entry<Fleet.Server, Placement> e : seen.entrySet()) {
            if (e.getValue().copy() == Placement.Copy.INCOMING) {
                discardLeftover(name, source, e.getKey(), e.getValue(), progress);
            }
        }
        if (source.equals(target)) {
            progress.println("namespace " + name + " is on server " + target + " already");
            return new Result(source.name(), target.name(), 0, 0, 0, 0, true);
        }
        progress.println("moving namespace " + name + " from server " + source + " to server " + target);
        long started = System.nanoTime();
        try (NamespaceMove move = NamespaceMove.start(name, source.name(), source.config(), target.name(),
                target.config())) {
            NamespaceMove.Figures copied = move.copy((table, bytes) -> progress.println("  copying " + table + ": "
                    + NsReport.size(bytes) + " so far"));
            double copySeconds = (System.nanoTime() - started) / 1e9;
            progress.println(String.format(Locale.ROOT, "copied %d rows (%s) in %.1f s, %.1f MiB/s", copied.rows(),
                    NsReport.size(copied.bytes()), copySeconds, copied.bytes() / 1048576.0 / copySeconds));
            haltIf(halt, "copied", progress);
            List<String> problems;
            try (NamespaceStore copy = PgNamespaceStore.openIncomingCopy(target.config(), name)) {
                problems = Fsck.problems(copy, name, passphrases, anchors);
            }
            if (!problems.isEmpty()) {
                problems.forEach(progress::println);
                move.discardIncoming();
                throw new CliException(ExitCode.INCONSISTENT, "the copy of namespace " + name + " on server " + target
                        + " failed its check (" + problems.size() + " problem(s), above); it was dropped and the"
                        + " namespace stays on server " + source + " (run fsck --verify there)");
            }
            progress.println("checked the copy with the key: consistent, every row authentic");
            haltIf(halt, "verified", progress);
            move.switchOver();
            progress.println("switched over: namespace " + name + " is served from server " + target);
            haltIf(halt, "switched", progress);
            move.activate();
            haltIf(halt, "activated", progress);
            long freed = move.freeSource();
            progress.println("dropped the old copy on server " + source + " (" + NsReport.size(freed) + " freed)");
            return new Result(source.name(), target.name(), copied.rows(), copied.bytes(),
                    (System.nanoTime() - started) / 1e9, freed, false);
        }
    }

    /**
     * Finishes the move that left {@code from} marked moved to {@code to}: activates the new copy if
     * it is still incoming, drops the old one. Returns the result when that move went where this
     * one was asked to go (nothing more to do), null when the namespace is to move on.
     */
    private static Result finish(Fleet fleet, NamespaceName name, Fleet.Server from, Fleet.Server to,
                                 Fleet.Server wanted, String halt, PrintStream progress) {
        progress.println("finishing an earlier move of namespace " + name + " from server " + from + " to server " + to);
        try (NamespaceMove move = NamespaceMove.start(name, from.name(), from.config(), to.name(), to.config())) {
            Placement there = move.targetPlacement();
            if (there.copy() == Placement.Copy.INCOMING) {
                move.activate();
                progress.println("switched over: namespace " + name + " is served from server " + to);
                haltIf(halt, "activated", progress);
            } else if (there.copy() != Placement.Copy.CURRENT) {
                throw new StoreException("namespace " + name + " on server " + from + " is marked moved to server " + to
                        + ", which holds " + there + " of it; the namespace's current copy is lost (restore it from"
                        + " a backup of server " + to + ")");
            }
            long freed = move.freeSource();
            progress.println("dropped the old copy on server " + from + " (" + NsReport.size(freed) + " freed)");
            if (to.equals(wanted)) {
                return new Result(from.name(), to.name(), 0, 0, 0, freed, false);
            }
            return null;
        }
    }

    /**
     * Drops a copy an earlier move made on {@code server} and did not switch to. While this command
     * holds the lock of the namespace's current copy (on {@code current}), no move can be using it:
     * every move starts from the current copy and holds its lock, and an incoming copy becomes the
     * namespace only through its source's switch-over.
     */
    private static void discardLeftover(NamespaceName name, Fleet.Server current, Fleet.Server server,
                                        Placement placement, PrintStream progress) {
        try (NamespaceMove move = NamespaceMove.start(name, current.name(), current.config(), server.name(),
                server.config())) {
            move.discardIncoming();
        }
        progress.println("dropped the unfinished copy an earlier move left on server " + server + " (" + placement
                + ")");
    }

    private static void haltIf(String halt, String step, PrintStream progress) {
        if (!step.equals(halt)) {
            return;
        }
        progress.println("halted after " + step + " (" + HALT_AFTER + ")");
        progress.flush();
        while (true) {
            try {
                Thread.sleep(60_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new CliException(ExitCode.INTERNAL, "interrupted while halted after " + step);
            }
        }
    }
}
