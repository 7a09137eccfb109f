package dev.sqlitesuperfs.sealed;

import dev.sqlitesuperfs.anchor.Anchor;
import dev.sqlitesuperfs.crypto.Sealer;
import dev.sqlitesuperfs.store.CommitSeals;
import dev.sqlitesuperfs.store.CommitState;
import dev.sqlitesuperfs.store.NamespaceStore;
import java.io.IOException;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A namespace's commit numbers against its freshness anchor. Each transaction stores its number
 * with a seal only the key holder can make ({@link Sealer#commitSeal}); the anchor, kept outside
 * PostgreSQL, records the newest number this machine saw committed. Opening compares the two
 * ({@link #check}): a database whose sealed number is older than the anchor is a rollback. Every
 * commit advances the anchor after PostgreSQL confirmed it and before anyone is answered
 * ({@link #committed}), so no acknowledged commit can be taken back unnoticed; and because the
 * anchor only ever records numbers PostgreSQL confirmed, no crash (of the mount, of PostgreSQL,
 * or of the connection in the middle of a commit) can leave it ahead of the database.
 */
final class Freshness implements CommitSeals {
    private static final Logger log = LoggerFactory.getLogger(Freshness.class);

    private final Sealer sealer;
    private final String namespace;
    /** Null: no anchor, commits are sealed and nothing else. */
    private final Anchor anchor;
    private final LongAdder failedWrites = new LongAdder();

    private Freshness(Sealer sealer, String namespace, Anchor anchor) {
        this.sealer = sealer;
        this.namespace = namespace;
        this.anchor = anchor;
    }

    /** For a namespace just created: nothing to compare yet. */
    static Freshness forNew(Sealer sealer, String namespace, FreshnessPolicy policy) {
        return new Freshness(sealer, namespace, openAnchor(sealer, namespace, policy));
    }

    /**
     * Checks the stored commit number and its seal against the anchor and returns what seals and
     * records this opening's commits.
     *
     * @param writable a read-only opening compares but never writes the anchor (the namespace's
     *                 writer on this machine, if any, owns it)
     * @throws TamperedException                          if the stored seal is not the number's
     * @throws SealedNamespaceException.RolledBack        if the database is older than the anchor
     * @throws SealedNamespaceException.AnchorUnavailable if the anchor cannot be read or written
     */
    static Freshness check(NamespaceStore store, Sealer sealer, String namespace, FreshnessPolicy policy,
                           boolean writable) {
        CommitState state = store.commitState();
        long stored = state.lastCommit();
        if (state.seal() != null && !sealer.commitSealMatches(stored, state.seal())) {
            throw new TamperedException("namespace " + namespace + ": the seal of its last commit number (" + stored
                    + ") does not match; the meta row was changed outside sqlitesuperfs");
        }
        Anchor anchor = openAnchor(sealer, namespace, policy);
        if (anchor == null) {
            return new Freshness(sealer, namespace, null);
        }
        try {
            long anchored = anchor.recorded();
            // A number without a seal (format 4, before any commit of format 5) proves nothing.
            long proven = state.seal() != null ? stored : 0;
            if (proven < anchored) {
                String what = state.seal() != null ? "its last commit is number " + stored
                        : "its last commit (number " + stored + ") carries no seal";
                if (!policy.acceptRollback()) {
                    throw new SealedNamespaceException.RolledBack("namespace " + namespace + " was rolled back: " + what
                            + ", but this machine saw commit " + anchored + " (anchor " + anchor.describe()
                            + "); mount with --accept-rollback only if the database was restored on purpose");
                }
                if (writable) {
                    anchor.rebase(proven);
                }
                log.warn("namespace {}: accepted a rollback from commit {} to {} (--accept-rollback); anchor {} set back",
                        namespace, anchored, stored, anchor.describe());
            } else if (writable && proven > anchored) {
                anchor.advance(proven);
            }
            return new Freshness(sealer, namespace, anchor);
        } catch (IOException e) {
            anchor.close();
            throw unavailable(namespace, anchor.describe(), e);
        } catch (RuntimeException e) {
            anchor.close();
            throw e;
        }
    }

    private static Anchor openAnchor(Sealer sealer, String namespace, FreshnessPolicy policy) {
        if (policy.anchors() == null) {
            return null;
        }
        try {
            return policy.anchors().open(sealer.anchorId());
        } catch (IOException e) {
            throw unavailable(namespace, policy.anchors().directory().toString(), e);
        }
    }

    private static SealedNamespaceException.AnchorUnavailable unavailable(String namespace, String where,
                                                                          IOException e) {
        String why = e instanceof java.nio.file.FileSystemException f
                ? f.getClass().getSimpleName().replace("Exception", "") + " " + f.getFile()
                        + (f.getReason() != null ? " (" + f.getReason() + ")" : "")
                : e.getMessage();
        return new SealedNamespaceException.AnchorUnavailable("namespace " + namespace
                + ": the freshness anchor at " + where + " cannot be used: " + why
                + "; choose a directory with --anchor-dir (or keep none with --no-anchor)");
    }

    @Override
    public byte[] seal(long number) {
        return sealer.commitSeal(number);
    }

    @Override
    public void committed(long number) {
        if (anchor == null) {
            return;
        }
        try {
            anchor.advance(number);
        } catch (IOException | RuntimeException e) {
            // The commit stands; what is lost is only this machine's proof of it against a later
            // rollback. Said loudly, once per run of failures.
            failedWrites.increment();
            if (failedWrites.sum() == 1) {
                log.error("namespace {}: the freshness anchor {} could not record commit {}: {}; a rollback to"
                        + " before it would go unnoticed", namespace, anchor.describe(), number, e.toString());
            }
            return;
        }
        if (failedWrites.sum() != 0) {
            failedWrites.reset();
            log.info("namespace {}: the freshness anchor records commits again (commit {})", namespace, number);
        }
    }

    /** The newest commit number the anchor holds, or -1 without an anchor. */
    long anchored() {
        return anchor == null ? -1 : anchor.recorded();
    }

    void close() {
        if (anchor != null) {
            anchor.close();
        }
    }
}
