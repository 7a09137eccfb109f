package dev.sqlitesuperfs.sealed;

import dev.sqlitesuperfs.anchor.Anchor;
import dev.sqlitesuperfs.anchor.BatchedAnchor;
import dev.sqlitesuperfs.crypto.Sealer;
import dev.sqlitesuperfs.store.CommitSeals;
import dev.sqlitesuperfs.store.CommitState;
import dev.sqlitesuperfs.store.InodeRecord;
import dev.sqlitesuperfs.store.NamespaceStore;
import dev.sqlitesuperfs.store.StoreException;
import java.io.IOException;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A namespace's commits against rollback. Each transaction stores its number with a seal only
 * the key holder can make ({@link Sealer#commitSeal}) over that number and the namespace's root
 * digest: the XOR of a keyed term of every inode's authenticator ({@link Sealer#addRootTerm}). So
 * the stored inodes must be exactly those the last commit left, and the meta row must name that
 * commit: an inode put back as an earlier commit left it, removed or brought back, and a meta row
 * put back alone, no longer match. Opening checks that ({@link #check}) and keeps every inode's
 * term in memory; an inode row read later that is not the current one is refused by the reads
 * ({@link #isCurrent}, see {@link SealedStore}).
 *
 * <p>The anchor, kept outside PostgreSQL, records the newest number this machine saw committed:
 * a database whose sealed number is older is a rollback of the whole namespace, which no seal can
 * show. Every commit advances it after PostgreSQL confirmed it and before its caller is answered
 * ({@link #recordCommitted}, in the caller's thread, so that tenants sharing a writer lane do not
 * wait for each other's anchors), so no acknowledged commit can be taken back unnoticed; and because it only
 * ever records numbers PostgreSQL confirmed, no crash (of the mount, of PostgreSQL, or of the
 * connection in the middle of a commit) can leave it ahead of the database.
 */
final class Freshness implements CommitSeals, SealedStore.CommitRecord {
    private static final Logger log = LoggerFactory.getLogger(Freshness.class);
    /** Attempts at reading the meta row and the inodes as of one commit while another process writes. */
    private static final int SNAPSHOT_ATTEMPTS = 20;

    private final Sealer sealer;
    private final String namespace;
    /** Null: no anchor, commits are sealed and nothing else. */
    private final Anchor anchor;
    private final LongAdder failedWrites = new LongAdder();

    private final Object lock = new Object();
    /** Each inode's term as the last committed transaction left it (guarded by {@link #lock}). */
    private final Map<Long, byte[]> terms = new HashMap<>();
    /** The XOR of {@link #terms} (guarded). */
    private byte[] root = new byte[Sealer.DIGEST_BYTES];
    /** The commit number {@link #terms} were loaded as of. */
    private long loadedCommit;
    /** The newest commit the store confirmed (guarded). */
    private long lastCommitted;
    /** Transactions sealed but not known to be committed, by number (guarded). */
    private final TreeMap<Long, Sealed> pending = new TreeMap<>();

    /** A sealed transaction: the root after it and the terms it changes (null: inode deleted). */
    private record Sealed(byte[] root, Map<Long, byte[]> terms) {}

    private Freshness(Sealer sealer, String namespace, Anchor anchor) {
        this.sealer = sealer;
        this.namespace = namespace;
        this.anchor = anchor;
    }

    /** For a namespace about to be created: nothing to compare; {@link #start} once it is. */
    static Freshness forNew(Sealer sealer, String namespace, FreshnessPolicy policy) {
        return new Freshness(sealer, namespace, openAnchor(sealer, namespace, policy));
    }

    /** Takes in the inodes of the namespace just created (its root directory). */
    void start(NamespaceStore store) {
        load(store.inodeAuthenticators());
    }

    /**
     * Checks the stored commit number and its seal against the stored inodes and the anchor, and
     * returns what seals and records this opening's commits and checks its reads.
     *
     * @param writable a read-only opening compares but never writes the anchor (the namespace's
     *                 writer on this machine, if any, owns it)
     * @throws TamperedException                          if the stored seal is not that of the
     *                                                    stored number and inodes
     * @throws SealedNamespaceException.RolledBack        if the database is older than the anchor
     * @throws SealedNamespaceException.AnchorUnavailable if the anchor cannot be read or written
     */
    static Freshness check(NamespaceStore store, Sealer sealer, String namespace, FreshnessPolicy policy,
                           boolean writable) {
        Freshness f = new Freshness(sealer, namespace, openAnchor(sealer, namespace, policy));
        try {
            f.verify(store, policy, writable);
            return f;
        } catch (RuntimeException e) {
            f.close();
            throw e;
        }
    }

    /**
     * Once the writer's lock is taken: if another process committed after {@link #check} read the
     * namespace (it let the namespace go in between), reads and checks it again, so that this
     * mount's commits seal what is there.
     */
    void recheckAfterLock(NamespaceStore store, FreshnessPolicy policy) {
        if (store.commitState().lastCommit() != loadedCommit) {
            verify(store, policy, true);
        }
    }

    private void verify(NamespaceStore store, FreshnessPolicy policy, boolean writable) {
        // The anchor's number was read when it was opened, before the state below: a writer beside
        // a read-only opening may commit and advance it meanwhile, and must not look rolled back.
        long anchored = anchor == null ? -1 : anchor.recorded();
        CommitState state = loadAsOfOneCommit(store);
        long stored = state.lastCommit();
        if (state.seal() != null && !sealer.commitSealMatches(stored, root, state.seal())) {
            String what = "namespace " + namespace + ": its inodes (" + terms.size() + ") and its last commit"
                    + " number (" + stored + ") are not what that commit sealed: an inode was put back as an"
                    + " earlier commit left it, removed or brought back, or the meta row was changed";
            if (!policy.acceptRollback()) {
                log.error("{}; refusing to mount it", what);
                throw new TamperedException(what + "; mount with --accept-rollback to take it as it is");
            }
            log.warn("{}; taken as it is (--accept-rollback): the next commit seals it", what);
        }
        if (anchor != null) {
            try {
                compareWithAnchor(state, anchored, policy, writable);
            } catch (IOException e) {
                throw unavailable(namespace, anchor.describe(), e);
            }
        }
    }

    /**
     * The meta row's commit state, with {@link #terms} and {@link #root} loaded as of the same
     * commit: read again until the state is the same before and after the inodes (another process
     * may be committing: this one does not hold the namespace's lock yet).
     */
    private CommitState loadAsOfOneCommit(NamespaceStore store) {
        CommitState before = store.commitState();
        for (int attempt = 1; ; attempt++) {
            load(store.inodeAuthenticators());
            CommitState after = store.commitState();
            if (after.lastCommit() == before.lastCommit() && Arrays.equals(after.seal(), before.seal())) {
                loadedCommit = after.lastCommit();
                synchronized (lock) {
                    // only a sealed number proves anything; an unsealed one (format 4) is never recorded
                    lastCommitted = Math.max(lastCommitted, after.seal() != null ? after.lastCommit() : 0);
                }
                return after;
            }
            if (attempt == SNAPSHOT_ATTEMPTS) {
                throw new StoreException.NamespaceBusy("namespace " + namespace + " is being written by another"
                        + " process (its last commit moved " + SNAPSHOT_ATTEMPTS + " times while it was opened)");
            }
            before = after;
        }
    }

    /**
     * A follower's step to the state its store's snapshot shows now ({@link NamespaceStore#renewSnapshot}):
     * reads every inode's authenticator as of that state and takes them as current only once the
     * commit's seal proves them, the commit is not older than the one followed so far and not
     * older than the anchor (read, never written: the writer owns it). Returns the inodes whose
     * authenticator changed, appeared or went; empty if the snapshot shows the commit already
     * followed. On a failure nothing changes here, so the reads of what changed are refused.
     *
     * @throws TamperedException                   if the seal does not match the inodes
     * @throws SealedNamespaceException.RolledBack if the commit is older than one seen before
     */
    Set<Long> follow(NamespaceStore store) {
        // what this process read or recorded, never ahead of the state below (see verify)
        long anchored = anchor == null ? -1 : anchor.recorded();
        CommitState state = store.commitState();
        long followed;
        synchronized (lock) {
            followed = loadedCommit;
        }
        if (state.lastCommit() == followed) {
            return Set.of();
        }
        if (state.lastCommit() < followed || (state.seal() != null && state.lastCommit() < anchored)) {
            throw new SealedNamespaceException.RolledBack("namespace " + namespace + " went back to commit "
                    + state.lastCommit() + " after this mount had followed it to commit "
                    + Math.max(followed, anchored) + "; the older state is not served");
        }
        Map<Long, byte[]> next = new HashMap<>();
        byte[] nextRoot = new byte[Sealer.DIGEST_BYTES];
        for (Map.Entry<Long, byte[]> e : store.inodeAuthenticators().entrySet()) {
            byte[] term = term(e.getKey(), e.getValue());
            next.put(e.getKey(), term);
            InodeAuth.xor(nextRoot, term);
        }
        if (state.seal() != null && !sealer.commitSealMatches(state.lastCommit(), nextRoot, state.seal())) {
            throw new TamperedException("namespace " + namespace + ": commit " + state.lastCommit()
                    + " does not seal the inodes stored with it (" + next.size() + "); not followed");
        }
        Set<Long> changed = new HashSet<>();
        synchronized (lock) {
            for (Map.Entry<Long, byte[]> e : next.entrySet()) {
                if (!Arrays.equals(terms.get(e.getKey()), e.getValue())) {
                    changed.add(e.getKey());
                }
            }
            for (Long ino : terms.keySet()) {
                if (!next.containsKey(ino)) {
                    changed.add(ino);
                }
            }
            terms.clear();
            terms.putAll(next);
            root = nextRoot;
            loadedCommit = state.lastCommit();
            lastCommitted = Math.max(lastCommitted, state.seal() != null ? state.lastCommit() : 0);
        }
        return changed;
    }

    private void load(Map<Long, byte[]> auths) {
        synchronized (lock) {
            terms.clear();
            root = new byte[Sealer.DIGEST_BYTES];
            for (Map.Entry<Long, byte[]> e : auths.entrySet()) {
                byte[] term = term(e.getKey(), e.getValue());
                terms.put(e.getKey(), term);
                InodeAuth.xor(root, term);
            }
        }
    }

    private byte[] term(long ino, byte[] auth) {
        byte[] term = new byte[Sealer.DIGEST_BYTES];
        sealer.addRootTerm(term, ino, auth == null ? new byte[0] : auth);
        return term;
    }

    private void compareWithAnchor(CommitState state, long anchored, FreshnessPolicy policy, boolean writable)
            throws IOException {
        long stored = state.lastCommit();
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
    }
    private static Anchor openAnchor(Sealer sealer, String namespace, FreshnessPolicy policy) {
        if (policy.anchors() == null) {
            return null;
        }
        try {
            Anchor anchor = policy.anchors().open(sealer.anchorId());
            return policy.anchorInterval().isZero() ? anchor : new BatchedAnchor(anchor, policy.anchorInterval());
        } catch (IOException e) {
            throw unavailable(namespace, policy.anchors().describe(), e);
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
    public byte[] seal(long number, Collection<InodeRecord> put, Collection<Long> deleted) {
        Map<Long, byte[]> changed = new HashMap<>();
        for (InodeRecord r : put) {
            changed.put(r.ino(), term(r.ino(), r.auth()));
        }
        for (Long ino : deleted) {
            changed.put(ino, null);
        }
        byte[] after;
        synchronized (lock) {
            // Numbers sealed before and never committed are gone for good: a number is used once.
            pending.headMap(number).clear();
            after = root.clone();
            for (Map.Entry<Long, byte[]> e : changed.entrySet()) {
                byte[] old = terms.get(e.getKey());
                if (old != null) {
                    InodeAuth.xor(after, old);
                }
                if (e.getValue() != null) {
                    InodeAuth.xor(after, e.getValue());
                }
            }
            pending.put(number, new Sealed(after, changed));
        }
        return sealer.commitSeal(number, after);
    }

    /**
     * The store confirmed commit {@code number}: what it changed becomes the current state. The
     * anchor is written by {@link #recordCommitted}, in the committing thread, outside the lane.
     */
    @Override
    public void committed(long number) {
        synchronized (lock) {
            Sealed done = pending.remove(number);
            if (done != null) {
                for (Map.Entry<Long, byte[]> e : done.terms().entrySet()) {
                    if (e.getValue() == null) {
                        terms.remove(e.getKey());
                    } else {
                        terms.put(e.getKey(), e.getValue());
                    }
                }
                root = done.root();
            }
            pending.headMap(number).clear();
            lastCommitted = Math.max(lastCommitted, number);
        }
    }

    @Override
    public void recordCommitted() {
        if (anchor == null) {
            return;
        }
        long number;
        synchronized (lock) {
            number = lastCommitted;
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

    /**
     * Whether {@code auth} is the authenticator the last commit left inode {@code ino} with, or one
     * a transaction on its way to PostgreSQL gives it (a read may see that commit before this
     * process hears of it).
     */
    @Override
    public boolean isCurrent(long ino, byte[] auth) {
        byte[] term = term(ino, auth);
        synchronized (lock) {
            if (Arrays.equals(terms.get(ino), term)) {
                return true;
            }
            for (Sealed s : pending.values()) {
                if (Arrays.equals(s.terms().get(ino), term)) {
                    return true;
                }
            }
            return false;
        }
    }

    /** The commit whose inodes this opening checked last: at opening, or at a follower's last step. */
    long loadedCommit() {
        synchronized (lock) {
            return loadedCommit;
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
