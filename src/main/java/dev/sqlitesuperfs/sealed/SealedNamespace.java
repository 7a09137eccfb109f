package dev.sqlitesuperfs.sealed;

import dev.sqlitesuperfs.crypto.KdfParams;
import dev.sqlitesuperfs.crypto.KdfStrength;
import dev.sqlitesuperfs.crypto.Passphrase;
import dev.sqlitesuperfs.crypto.Sealer;
import dev.sqlitesuperfs.crypto.SecretKey;
import dev.sqlitesuperfs.store.InodeRecord;
import dev.sqlitesuperfs.store.NamespaceMeta;
import dev.sqlitesuperfs.store.NamespaceStore;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The way into a namespace's sealed storage, and the whole life of its key: a namespace is created
 * here, opened here (its data key unwrapped with the passphrase, its format checked, and upgraded
 * where that needs nobody's word), given a new passphrase, explicitly upgraded and audited here.
 * Nothing else makes a {@link Sealer} or unwraps a key.
 *
 * <p>An instance is an opened namespace: the data key, the sealer made from it, and the
 * {@link SealedStore} the filesystem works on. {@link #close()} zeroes the key. It does not own
 * the {@link NamespaceStore}: whoever opened the store closes it, after this.
 *
 * <p>The passphrase is asked for through a {@link PassphrasePrompt}, and only once it is needed:
 * a namespace that does not exist, has another block size, or needs no key for what is asked is
 * answered without one. Refusals are {@link SealedNamespaceException}s and
 * {@link TamperedException}; the store's own exceptions (busy, unreachable) pass through.
 */
public final class SealedNamespace implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(SealedNamespace.class);
    /** A new namespace's root directory: drwxr-xr-x. */
    private static final int ROOT_MODE = 0040755;

    /** Whether an opened namespace may be written. */
    public enum Access {
        /** Nothing is written, not even a key check or an upgrade. */
        READ_ONLY,
        /** The store becomes the namespace's writer once the namespace is open. */
        WRITABLE
    }

    /** Where the passphrase comes from; called at most once per passphrase needed. */
    @FunctionalInterface
    public interface PassphrasePrompt {
        /**
         * The passphrase, owned (and closed) by the caller of this method.
         *
         * @param chosenNow the passphrase is being chosen (it creates a namespace or replaces the
         *                  old one), so a prompt on a terminal should ask for it twice
         */
        Passphrase obtain(boolean chosenNow);
    }

    /**
     * How a namespace is made: its block size, its key derivation cost, the owner of its root, the
     * quota stored with it (0 for none), and whether its names and symlink targets are sealed.
     */
    public record NewNamespace(int blockSize, KdfStrength kdfStrength, int rootUid, int rootGid, long quotaBytes,
            boolean sealNames) {
        /** A namespace whose names are stored as they are. */
        public NewNamespace(int blockSize, KdfStrength kdfStrength, int rootUid, int rootGid, long quotaBytes) {
            this(blockSize, kdfStrength, rootUid, rootGid, quotaBytes, false);
        }
    }

    private final String name;
    private final NamespaceMeta meta;
    private final SecretKey dataKey;
    private final Sealer sealer;
    private final SealedStore sealed;
    /** How long deriving (or making) the key took: a host reports a mount's own time apart from it. */
    private long keyNanos;
    /** This opening's commit seals and anchor; null until opened or created. */
    private Freshness freshness;

    /** Takes {@code dataKey} over: it is closed here if the sealer cannot be made, else by {@link #close()}. */
    private SealedNamespace(NamespaceStore store, String name, NamespaceMeta meta, SecretKey dataKey) {
        try {
            this.sealer = NamespaceKey.sealer(dataKey, meta);
        } catch (RuntimeException e) {
            dataKey.close();
            throw e;
        }
        this.name = name;
        this.meta = meta;
        this.dataKey = dataKey;
        this.sealed = new SealedStore(store, sealer, name, meta.sealNames());
    }

    // ------------------------------------------------------------------ opened namespaces

    /**
     * Creates namespace {@code name} in {@code store} (where it must not exist yet): a fresh UUID,
     * salt and data key wrapped under {@code passphrase}, and a root directory with its
     * authenticator, in one transaction. Returns it opened and writable.
     */
    public static SealedNamespace create(NamespaceStore store, String name, NewNamespace spec, Passphrase passphrase) {
        return create(store, name, spec, passphrase, FreshnessPolicy.NONE);
    }

    /** {@link #create}, its commits recorded in the anchor {@code freshness} names. */
    public static SealedNamespace create(NamespaceStore store, String name, NewNamespace spec, Passphrase passphrase,
            FreshnessPolicy freshness) {
        long start = System.nanoTime();
        NamespaceKey.Opened created = NamespaceKey.create(spec.blockSize(), spec.kdfStrength(), spec.sealNames(),
                passphrase);
        NamespaceMeta meta = created.meta().withQuota(spec.quotaBytes());
        SealedNamespace opened = new SealedNamespace(store, name, meta, created.dataKey());
        opened.keyNanos = System.nanoTime() - start;
        try {
            // The anchor first: a machine that cannot keep one refuses before anything is created.
            opened.freshness = Freshness.forNew(opened.sealer, name, freshness);
            long now = System.currentTimeMillis() * 1_000_000L;
            InodeRecord root = new InodeRecord(1, ROOT_MODE, spec.rootUid(), spec.rootGid(), 2, 0, 0, 0, now, now, now);
            store.create(meta, SealedStore.authenticatedRoot(opened.sealer, root));
            opened.freshness.start(store);
            opened.sealed.useCommitRecord(opened.freshness);
            log.info("created namespace {} (block size {}{})", name, spec.blockSize(),
                    spec.sealNames() ? ", names sealed" : "");
            store.sealCommits(opened.freshness);
            store.startWriting();
            return opened;
        } catch (RuntimeException e) {
            opened.close();
            throw e;
        }
    }

    /**
     * Opens the existing namespace {@code name}, as a mount does. In this order: it must exist and,
     * unless {@code blockSize} is 0, have that block size; the passphrase must open its key (a
     * writable opening stores a key check where there is none, now that the passphrase has proved
     * the key material genuine); a namespace of format 3 is checked and upgraded when writable
     * (see {@link SealedUpgrade#run}) and refused when read-only; formats 1 and 2 are refused, as
     * only an explicit {@link #upgrade} may vouch for them. A writable store then starts writing.
     *
     * @throws SealedNamespaceException.Mismatch if it does not exist, differs, or needs an upgrade
     *                                           this opening may not do
     * @throws TamperedException                 if a format 3 namespace does not check out
     */
    public static SealedNamespace open(NamespaceStore store, String name, Access access, int blockSize,
            PassphrasePrompt passphrases) {
        return open(store, name, access, blockSize, passphrases, FreshnessPolicy.NONE);
    }

    /**
     * {@link #open}, checked against the freshness anchor {@code freshness} names: a database older
     * than the anchor is refused ({@link SealedNamespaceException.RolledBack}) unless the policy
     * accepts it, and a writable opening records every commit there.
     */
    public static SealedNamespace open(NamespaceStore store, String name, Access access, int blockSize,
            PassphrasePrompt passphrases, FreshnessPolicy freshness) {
        NamespaceMeta meta = store.meta().orElseThrow(() -> access == Access.READ_ONLY
                ? new SealedNamespaceException.Mismatch("namespace " + name
                        + " does not exist; a read-only mount cannot create it")
                : missing(name));
        return openExisting(store, name, meta, access, blockSize, passphrases, freshness);
    }

    /**
     * Opens namespace {@code name} writable as {@link #open} does, or creates it as {@code ifMissing}
     * says when it does not exist (asking for the passphrase as one being chosen).
     *
     * @param blockSize the block size an existing namespace must have, or 0 for any
     */
    public static SealedNamespace openOrCreate(NamespaceStore store, String name, int blockSize,
            NewNamespace ifMissing, PassphrasePrompt passphrases) {
        return openOrCreate(store, name, blockSize, ifMissing, passphrases, FreshnessPolicy.NONE);
    }

    /** {@link #openOrCreate} with the freshness anchor {@code freshness} names (see {@link #open}). */
    public static SealedNamespace openOrCreate(NamespaceStore store, String name, int blockSize,
            NewNamespace ifMissing, PassphrasePrompt passphrases, FreshnessPolicy freshness) {
        NamespaceMeta meta = store.meta().orElse(null);
        if (meta != null) {
            if (ifMissing.sealNames() && !meta.sealNames()) {
                throw new SealedNamespaceException.Mismatch("namespace " + name + " exists and stores its names as"
                        + " they are; --seal-names applies only to a namespace being created");
            }
            return openExisting(store, name, meta, Access.WRITABLE, blockSize, passphrases, freshness);
        }
        try (Passphrase passphrase = passphrases.obtain(true)) {
            return create(store, name, ifMissing, passphrase, freshness);
        }
    }

    private static SealedNamespace openExisting(NamespaceStore store, String name, NamespaceMeta meta, Access access,
            int blockSize, PassphrasePrompt passphrases, FreshnessPolicy freshness) {
        if (blockSize != 0 && blockSize != meta.blockSize()) {
            throw new SealedNamespaceException.Mismatch("namespace " + name + " has block size " + meta.blockSize()
                    + "; --block-size " + blockSize + " does not match");
        }
        SealedNamespace opened = unlock(store, name, meta, passphrases, access == Access.WRITABLE);
        try {
            if (store.needsSealingUpgrade()) {
                opened.upgradeCheckedFormat(store, access);
            }
            opened.freshness = checkCaughtUp(store, opened.sealer, name, freshness, access == Access.WRITABLE);
            opened.sealed.useCommitRecord(opened.freshness);
            if (access == Access.WRITABLE) {
                store.sealCommits(opened.freshness);
                store.startWriting();
                opened.freshness.recheckAfterLock(store, freshness);
            }
            return opened;
        } catch (RuntimeException e) {
            opened.close();
            throw e;
        }
    }

    /**
     * {@link Freshness#check}; for a follower (read-only, beside the writer, perhaps on a standby
     * that applies the writer's commits a moment after they are acknowledged), a database older
     * than the anchor may be one still catching up: it is looked at again in a newer snapshot
     * until it is not older, for at most the store's {@link NamespaceStore#catchUpTimeout}.
     */
    private static Freshness checkCaughtUp(NamespaceStore store, Sealer sealer, String name, FreshnessPolicy policy,
            boolean writable) {
        long deadline = System.nanoTime() + store.catchUpTimeout().toNanos();
        boolean told = false;
        while (true) {
            try {
                return Freshness.check(store, sealer, name, policy, writable);
            } catch (SealedNamespaceException.RolledBack e) {
                if (System.nanoTime() - deadline >= 0) {
                    throw e;
                }
                if (!told) {
                    log.info("namespace {}: the server does not show the newest commit this machine saw yet;"
                            + " waiting up to {} s for it to catch up", name, store.catchUpTimeout().toSeconds());
                    told = true;
                }
                try {
                    Thread.sleep(100);
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    throw e;
                }
                store.renewSnapshot();
            }
        }
    }

    /**
     * Brings a namespace of format 3 to the current format, which checks what it reseals and so
     * needs nobody's word; older formats need {@link #upgrade}.
     */
    private void upgradeCheckedFormat(NamespaceStore store, Access access) {
        int from = store.formatVersion();
        if (from < 3) {
            throw new SealedNamespaceException.Mismatch("namespace " + name + " was written by an older version"
                    + " whose metadata is not authenticated; run `sqlitesuperfs upgrade " + name + "` once, when you"
                    + " trust the database's current contents, then mount it");
        }
        if (access == Access.READ_ONLY) {
            throw new SealedNamespaceException.Mismatch("namespace " + name + " has format " + from
                    + ", which a read-only mount cannot upgrade; mount it once without --read-only (or run"
                    + " `sqlitesuperfs upgrade " + name + "`)");
        }
        SealedUpgrade.run(store, sealer, name, step -> log.debug("namespace {}: upgrade: {}", name, step));
        log.info("namespace {}: checked and upgraded from format {} to {}", name, from, store.formatVersion());
    }

    /**
     * A follower's step (a read-only mount beside the namespace's writer, opened on a store that
     * follows it, see {@link NamespaceStore#renewSnapshot}): from now on every read sees the
     * writer's newest commit, whose seal must prove what it shows (see {@link Freshness#follow}).
     * Returns the inodes that commit changed since the last step (empty if there was none); what
     * was known of them is forgotten, so the filesystem must load them again. Call it while no
     * read runs.
     */
    public Set<Long> followWriter() {
        NamespaceStore store = sealed.store;
        store.renewSnapshot();
        Set<Long> changed = freshness.follow(store);
        for (Long ino : changed) {
            sealed.forget(ino);
        }
        return changed;
    }

    /** The commit a follower serves: the one its last step (or its opening) checked. */
    public long followedCommit() {
        return freshness.loadedCommit();
    }

    /** The storage the filesystem works on: plaintext in and out, checked as it is read. */
    public SealedStore store() {
        return sealed;
    }

    /** Bytes per block, fixed when the namespace was created. */
    public int blockSize() {
        return meta.blockSize();
    }

    /** Whether names and symlink targets are stored sealed (chosen when the namespace was made). */
    public boolean sealsNames() {
        return meta.sealNames();
    }

    /** The quota stored with the namespace (set by {@code ns create} or {@code ns quota}), 0 for none. */
    public long quotaBytes() {
        return meta.quotaBytes();
    }

    /** Closes the sealer and zeroes the data key; the store stays open. Idempotent. */
    @Override
    public void close() {
        try {
            if (freshness != null) {
                freshness.close();
            }
            sealer.close();
        } finally {
            dataKey.close();
        }
    }

    /** The sealer, for tests that write what only the key holder could (older formats). */
    Sealer sealer() {
        return sealer;
    }

    /** The data key, for tests that check it is zeroed. */
    SecretKey dataKey() {
        return dataKey;
    }

    // ------------------------------------------------------------------ commands on a namespace not mounted

    /**
     * {@code sqlitesuperfs upgrade}: brings namespace {@code name}, which must exist and not be
     * mounted, from an older format to the current one, with the passphrase (a key check is stored
     * where there is none). From format 3 it checks what it reseals; from formats 1 and 2 it vouches
     * for the database's current contents, which is why only this explicit command does that.
     * Returns the format it had, or 0 if it was current (and then asks for no passphrase).
     *
     * @throws TamperedException if a format 3 namespace does not check out (nothing is changed)
     */
    public static int upgrade(NamespaceStore store, String name, PassphrasePrompt passphrases) {
        return upgrade(store, name, passphrases, step -> { });
    }

    /** {@link #upgrade}, telling {@code progress} each step as it is done (nothing if there is nothing to do). */
    public static int upgrade(NamespaceStore store, String name, PassphrasePrompt passphrases,
                              java.util.function.Consumer<String> progress) {
        NamespaceMeta meta = store.meta().orElseThrow(() -> missing(name));
        if (!store.needsSealingUpgrade()) {
            return 0;
        }
        int from = store.formatVersion();
        try (SealedNamespace opened = unlock(store, name, meta, passphrases, true)) {
            progress.accept("opened the key; reading every row in one transaction");
            SealedUpgrade.run(store, opened.sealer, name, progress);
        }
        return from;
    }

    /**
     * The stored namespace's consistency problems (tree shape, link counts, sizes, orphans), one
     * line each; needs no key. See {@link NamespaceStore#check()}.
     */
    public static List<String> check(NamespaceStore store, String name) {
        store.meta().orElseThrow(() -> missing(name));
        return store.check();
    }

    /**
     * {@code sqlitesuperfs fsck --verify}: every inode, entry, attribute, symlink and block of
     * namespace {@code name} checked against the authenticators, as a mount's reads would (see
     * {@link NamespaceAudit}); one line per problem. A namespace whose format predates
     * authentication has nothing to check it against: that is its one line, and no passphrase is
     * asked for. Writes nothing.
     */
    public static List<String> audit(NamespaceStore store, String name, PassphrasePrompt passphrases) {
        return audit(store, name, passphrases, FreshnessPolicy.NONE);
    }

    /**
     * {@link #audit}, the namespace's commit number also compared with the anchor {@code freshness}
     * names (read only: nothing is written to it).
     */
    public static List<String> audit(NamespaceStore store, String name, PassphrasePrompt passphrases,
            FreshnessPolicy freshness) {
        NamespaceMeta meta = store.meta().orElseThrow(() -> missing(name));
        if (store.needsSealingUpgrade()) {
            return List.of("namespace " + name + " predates authenticated metadata: nothing to verify until"
                    + " `sqlitesuperfs upgrade " + name + "`");
        }
        try (SealedNamespace opened = unlock(store, name, meta, passphrases, false)) {
            List<String> problems = new java.util.ArrayList<>();
            try {
                // its commit record first: what every inode is then checked against
                opened.freshness = Freshness.check(store, opened.sealer, name,
                        new FreshnessPolicy(freshness.anchors(), false), false);
                opened.sealed.useCommitRecord(opened.freshness);
            } catch (TamperedException | SealedNamespaceException.RolledBack
                     | SealedNamespaceException.AnchorUnavailable e) {
                problems.add(e.getMessage());
            }
            problems.addAll(new NamespaceAudit(opened.sealed, name, meta.blockSize()).problems());
            return problems;
        }
    }

    /**
     * {@code sqlitesuperfs passwd}: wraps the same data key under a key derived from the passphrase
     * {@code next} gives, with a new salt and the stored cost (or {@code strength}'s, if not null).
     * The current passphrase must open the key first; then key material, key check and metadata
     * checksum change in one transaction, and no block, symlink target or attribute is touched.
     * Any format will do: only the key material changes.
     */
    public static void changePassphrase(NamespaceStore store, String name, PassphrasePrompt current,
            PassphrasePrompt next, KdfStrength strength) {
        NamespaceMeta meta = store.meta().orElseThrow(() -> missing(name));
        KdfParams kdf = strength != null ? KdfParams.generate(strength)
                : KdfParams.withNewSalt(NamespaceKey.kdfParams(meta, name));
        NamespaceMeta replacement;
        try (SealedNamespace opened = unlock(store, name, meta, current, false);
                Passphrase chosen = next.obtain(true)) {
            replacement = NamespaceKey.rewrap(meta, opened.dataKey, kdf, chosen);
        }
        store.replaceKeyMaterial(meta, replacement);
    }

    // ------------------------------------------------------------------ the one way a key is opened

    /**
     * Opens the key of the namespace {@code meta} describes: the stored key derivation parameters
     * are checked before the passphrase is asked for, so damage that shows in them is reported
     * without one.
     */
    private static SealedNamespace unlock(NamespaceStore store, String name, NamespaceMeta meta,
            PassphrasePrompt passphrases, boolean storeKeyCheck) {
        NamespaceKey.kdfParams(meta, name);
        NamespaceKey.Opened opened;
        long start = System.nanoTime();
        try (Passphrase passphrase = passphrases.obtain(false)) {
            opened = NamespaceKey.open(store, meta, passphrase, storeKeyCheck, name);
        }
        SealedNamespace unlocked = new SealedNamespace(store, name, opened.meta(), opened.dataKey());
        unlocked.keyNanos = System.nanoTime() - start;
        return unlocked;
    }

    /** Nanoseconds spent deriving (or making) the namespace's key when it was opened. */
    public long keyNanos() {
        return keyNanos;
    }

    private static SealedNamespaceException.Mismatch missing(String name) {
        return new SealedNamespaceException.Mismatch("namespace " + name + " does not exist");
    }
}
