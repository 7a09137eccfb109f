package dev.sqlitesuperfs.sealed;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sqlitesuperfs.anchor.AnchorDirectory;
import dev.sqlitesuperfs.crypto.Sealer;
import dev.sqlitesuperfs.crypto.SecretKey;
import dev.sqlitesuperfs.store.ChangeSet;
import dev.sqlitesuperfs.store.CommitState;
import dev.sqlitesuperfs.store.InodeRecord;
import dev.sqlitesuperfs.store.MemoryNamespaceStore;
import dev.sqlitesuperfs.store.NamespaceMeta;
import dev.sqlitesuperfs.store.StoreException;
import dev.sqlitesuperfs.testing.LogCapture;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Commit numbers, their seals and the freshness anchor, on a memory store: a database put back to
 * an earlier commit is refused, an acknowledged commit is always in the anchor, and nothing a
 * crash or a failed commit leaves behind looks like a rollback.
 */
class FreshnessTest {
    static final String NAME = "fresh";

    @TempDir
    Path tmp;

    private final SecretKey key = SecretKey.random();
    private final Sealer sealer = new Sealer(key, UUID.randomUUID(), 5, 4096);
    private MemoryNamespaceStore store = new MemoryNamespaceStore(NAME);
    private Freshness freshness;

    @AfterEach
    void close() {
        if (freshness != null) {
            freshness.close();
        }
        store.close();
        sealer.close();
        key.close();
    }

    private FreshnessPolicy policy(boolean acceptRollback) {
        return new FreshnessPolicy(new AnchorDirectory(tmp.resolve("anchors")), acceptRollback);
    }

    /** A new namespace, written by {@code commits} commits through a store that seals them. */
    private void created(int commits) {
        long now = System.currentTimeMillis() * 1_000_000L;
        store.create(new NamespaceMeta(0, UUID.randomUUID(), 4096, "argon2id13", 2, 1 << 16, new byte[16],
                new byte[72], 0), SealedStore.authenticatedRoot(sealer, new InodeRecord(1, 040755, 0, 0, 2, 0, 0, 0,
                now, now, now)));
        freshness = Freshness.forNew(sealer, NAME, policy(false));
        freshness.start(store);
        store.sealCommits(freshness);
        store.startWriting();
        commit(commits);
    }

    /** {@code n} commits, each recorded in the anchor as a sealed transaction's commit records it. */
    private void commit(int n) {
        for (int i = 0; i < n; i++) {
            store.commit(new ChangeSet().putInode(new InodeRecord(100 + i, 0100644, 0, 0, 1, i, 0, 0, 0, 0, 0)));
            if (freshness != null) {
                freshness.recordCommitted();
            }
        }
    }

    /** Closes this opening and its store; the next store of the namespace is opened, nothing checked yet. */
    private void stopAndReopenStore() {
        freshness.close();
        freshness = null;
        store.close();
        store = store.reopen();
    }

    /** Stops (cleanly, or as a crash) and opens the namespace again as the next mount would. */
    private void reopen(boolean crash, FreshnessPolicy policy) {
        freshness.close();
        freshness = null;
        if (crash) {
            store.crash();
        } else {
            store.close();
        }
        store = store.reopen();
        freshness = Freshness.check(store, sealer, NAME, policy, true);
        store.sealCommits(freshness);
        store.startWriting();
    }

    @Test
    void everyAcknowledgedCommitIsInTheAnchorBeforeItReturns() {
        created(0);
        // a mount's commit: a sealed transaction, whose commit returns once the anchor has it
        SealedStore sealed = sealedStore();
        for (int i = 0; i < 3; i++) {
            sealed.transaction().putInode(file(30 + i, i)).commit();
            assertThat(freshness.anchored()).isEqualTo(store.commitState().lastCommit());
        }
        assertThat(store.commitState().lastCommit()).isEqualTo(3);
        assertThat(freshness.anchored()).isEqualTo(3);
        assertThat(store.commitState().seal()).hasSize(32);
        reopen(false, policy(false));
        commit(2);
        assertThat(freshness.anchored()).isEqualTo(5);
    }

    @Test
    void aDatabasePutBackToAnEarlierCommitIsRefused() {
        created(2);
        MemoryNamespaceStore.Backup backup = store.backup();
        commit(3);
        stopAndReopenStore();
        store.restore(backup);
        assertThatThrownBy(() -> Freshness.check(store, sealer, NAME, policy(false), true))
                .isInstanceOf(SealedNamespaceException.RolledBack.class)
                .hasMessageContaining("namespace " + NAME + " was rolled back: its last commit is number 2, but"
                        + " this machine saw commit 5")
                .hasMessageContaining("--accept-rollback");
        // a read-only opening is refused the same
        assertThatThrownBy(() -> Freshness.check(store, sealer, NAME, policy(false), false))
                .isInstanceOf(SealedNamespaceException.RolledBack.class);
    }

    @Test
    void acceptingARollbackSetsTheAnchorBackAndSaysSo() {
        created(2);
        MemoryNamespaceStore.Backup backup = store.backup();
        commit(3);
        stopAndReopenStore();
        store.restore(backup);
        try (LogCapture log = LogCapture.of(Freshness.class)) {
            freshness = Freshness.check(store, sealer, NAME, policy(true), true);
            assertThat(log.lines()).anySatisfy(l -> assertThat(l).contains("accepted a rollback from commit 5 to 2"));
        }
        assertThat(freshness.anchored()).isEqualTo(2);
        store.sealCommits(freshness);
        store.startWriting();
        commit(1);
        // the next opening, without the option, finds nothing wrong
        reopen(false, policy(false));
        assertThat(freshness.anchored()).isEqualTo(3);
    }

    @Test
    void aSealThatIsNotTheNumbersIsTampering() {
        created(4);
        CommitState state = store.commitState();
        stopAndReopenStore();
        // a higher number with the seal of another: nobody without the key can make a matching one
        store.rollBackCommitState(new CommitState(state.lastCommit() + 10, state.seal()));
        assertThatThrownBy(() -> Freshness.check(store, sealer, NAME, policy(false), true))
                .isInstanceOf(TamperedException.class)
                .hasMessageContaining("its last commit number (14) are not what that commit sealed");
    }

    @Test
    void aNumberWithoutASealProvesNothingOnceTheAnchorHasOne() {
        created(4);
        stopAndReopenStore();
        store.rollBackCommitState(new CommitState(1000, null));
        assertThatThrownBy(() -> Freshness.check(store, sealer, NAME, policy(false), true))
                .isInstanceOf(SealedNamespaceException.RolledBack.class)
                .hasMessageContaining("its last commit (number 1000) carries no seal, but this machine saw commit 4");
        // a machine that never saw the namespace has nothing to compare with
        FreshnessPolicy elsewhere = new FreshnessPolicy(new AnchorDirectory(tmp.resolve("other")), false);
        freshness = Freshness.check(store, sealer, NAME, elsewhere, true);
        assertThat(freshness.anchored()).isZero();
    }

    /** The anchor only records numbers the store confirmed: a crash or a failed commit never puts it ahead. */
    @Test
    void noCrashOrFailedCommitLooksLikeARollback() {
        created(2);
        store.failNext(1, MemoryNamespaceStore.Fault.REFUSED);
        assertThatThrownBy(() -> commit(1)).isInstanceOf(StoreException.class);
        assertThat(freshness.anchored()).isEqualTo(2);
        store.failNext(1, MemoryNamespaceStore.Fault.UNAVAILABLE);
        assertThatThrownBy(() -> commit(1)).isInstanceOf(StoreException.class);
        assertThat(freshness.anchored()).isEqualTo(2);
        commit(1);
        reopen(true, policy(false));
        assertThat(freshness.anchored()).isEqualTo(store.commitState().lastCommit());
        commit(2);
        reopen(true, policy(false));
        reopen(false, policy(false));
    }

    /** A database ahead of the anchor (written from another machine) is fine and recorded; read-only records nothing. */
    @Test
    void aDatabaseAheadOfTheAnchorIsRecordedByAWritableOpeningOnly() {
        created(2);
        stopAndReopenStore();
        // commits from another machine, whose anchor is elsewhere
        Freshness other = Freshness.check(store, sealer, NAME,
                new FreshnessPolicy(new AnchorDirectory(tmp.resolve("other")), false), true);
        store.sealCommits(other);
        store.startWriting();
        commit(5);
        other.close();
        store.close();
        store = store.reopen();
        freshness = Freshness.check(store, sealer, NAME, policy(false), false);
        assertThat(freshness.anchored()).as("read-only: not written").isEqualTo(2);
        freshness.close();
        freshness = Freshness.check(store, sealer, NAME, policy(false), true);
        assertThat(freshness.anchored()).isEqualTo(7);
    }

    @Test
    void anAnchorThatCannotBeKeptRefusesTheOpening() throws Exception {
        Files.writeString(tmp.resolve("anchors"), "not a directory");
        assertThatThrownBy(() -> Freshness.forNew(sealer, NAME, policy(false)))
                .isInstanceOf(SealedNamespaceException.AnchorUnavailable.class)
                .hasMessageContaining("namespace " + NAME + ": the freshness anchor at " + tmp.resolve("anchors"))
                .hasMessageContaining("--anchor-dir");
    }

    // ------------------------------------------------------------------ one inode put back

    /** An empty file {@code ino} of {@code size} bytes, its row authenticated as a mount writes it. */
    private InodeRecord file(long ino, long size) {
        return SealedStore.authenticatedRoot(sealer, new InodeRecord(ino, 0100644, 0, 0, 1, size, 0, 0, 1, 2, 3));
    }

    private void put(InodeRecord r) {
        store.commit(new ChangeSet().putInode(r));
    }

    /** What a mount reads through: the sealed store, checking currency against {@link #freshness}. */
    private SealedStore sealedStore() {
        SealedStore sealed = new SealedStore(store, sealer, NAME);
        sealed.useCommitRecord(freshness);
        return sealed;
    }

    @Test
    void anInodePutBackAsAnEarlierCommitLeftItRefusesTheNextOpening() {
        created(0);
        InodeRecord before = file(10, 0);
        put(before);
        put(file(10, 4096));
        put(file(11, 7));
        stopAndReopenStore();
        // every row of inode 10 as the first commit left it: authentic, but not current
        store.tamper(rows -> rows.putInode(before));
        assertThatThrownBy(() -> Freshness.check(store, sealer, NAME, policy(false), true))
                .isInstanceOf(TamperedException.class)
                .hasMessageContaining("namespace " + NAME + ": its inodes (3) and its last commit number (3) are not"
                        + " what that commit sealed")
                .hasMessageContaining("--accept-rollback");
        // a deleted inode brought back, or one removed, the same
        store.tamper(rows -> rows.putInode(file(10, 4096)));
        store.tamper(rows -> rows.deleteInode(11));
        assertThatThrownBy(() -> Freshness.check(store, sealer, NAME, policy(false), false))
                .isInstanceOf(TamperedException.class);
        // taken as it is on purpose: then the next commit seals it so
        try (LogCapture log = LogCapture.of(Freshness.class)) {
            freshness = Freshness.check(store, sealer, NAME, policy(true), true);
            assertThat(log.lines()).anySatisfy(l -> assertThat(l).contains("taken as it is (--accept-rollback)"));
        }
        store.sealCommits(freshness);
        store.startWriting();
        put(file(12, 1));
        reopen(false, policy(false));
    }

    @Test
    void whileOpenAnInodeRowThatIsNotTheCurrentOneIsRefusedByName() {
        created(0);
        InodeRecord first = file(10, 0);
        put(first);
        InodeRecord second = file(10, 100);
        put(second);
        put(file(11, 1));
        store.commit(new ChangeSet().deleteInode(11));
        SealedStore sealed = sealedStore();
        assertThat(sealed.inode(10).orElseThrow().size()).isEqualTo(100);

        store.tamper(rows -> rows.putInode(first));
        try (LogCapture log = LogCapture.of(SealedStore.class)) {
            assertThatThrownBy(() -> sealed.inode(10)).isInstanceOf(TamperedException.class)
                    .hasMessageContaining("namespace " + NAME + ": inode 10: its row is not the one the last commit"
                            + " left");
            assertThat(log.lines()).anySatisfy(l -> assertThat(l).contains("inode 10: its row is not the one"));
        }
        // brought back after its removal
        store.tamper(rows -> rows.putInode(file(11, 1)));
        assertThatThrownBy(() -> sealed.inodes(new long[] {11})).isInstanceOf(TamperedException.class)
                .hasMessageContaining("inode 11: its row is not the one the last commit left");
        // what is current is still served
        store.tamper(rows -> rows.putInode(second));
        assertThat(sealed.inode(10).orElseThrow().size()).isEqualTo(100);
        // with the damage undone, the namespace is what its last commit (a deletion) sealed
        store.tamper(rows -> rows.deleteInode(11));
        reopen(false, policy(false));
    }

    /** A read may see a commit before the writer heard PostgreSQL confirm it: that row is current too. */
    @Test
    void aRowOfACommitOnItsWayIsCurrent() {
        created(0);
        put(file(10, 0));
        InodeRecord next = file(10, 5);
        freshness.seal(99, java.util.List.of(next), java.util.List.of());
        assertThat(freshness.isCurrent(10, next.auth())).isTrue();
        assertThat(freshness.isCurrent(10, file(10, 6).auth())).isFalse();
        // once a later number is sealed, one never committed is gone
        freshness.seal(100, java.util.List.of(), java.util.List.of());
        assertThat(freshness.isCurrent(10, next.auth())).isFalse();
    }

    /**
     * Another process commits between this opening's check and its taking the lock (it let the
     * namespace go just then): what it committed is read again once the lock is held, so this
     * opening's reads and seals start from it.
     */
    @Test
    void commitsMadeBetweenTheCheckAndTheLockAreTakenIn() {
        created(1);
        stopAndReopenStore();
        Freshness late = Freshness.check(store, sealer, NAME, policy(false), true);
        try {
            Freshness other = Freshness.check(store, sealer, NAME,
                    new FreshnessPolicy(new AnchorDirectory(tmp.resolve("other")), false), true);
            store.sealCommits(other);
            store.startWriting();
            InodeRecord made = file(20, 1);
            put(made);
            other.close();
            assertThat(late.isCurrent(20, made.auth())).isFalse();
            late.recheckAfterLock(store, policy(false));
            assertThat(late.isCurrent(20, made.auth())).isTrue();
            assertThat(late.anchored()).isEqualTo(store.commitState().lastCommit());
        } finally {
            late.close();
        }
    }

    /**
     * A namespace whose last commit carries no seal (written before format 5): its number proves
     * nothing, so it is never recorded, or the next opening would find an unsealed number the
     * anchor claims to have seen (a false alarm).
     */
    @Test
    void anUnsealedNumberIsNeverRecorded() {
        created(2);
        stopAndReopenStore();
        store.rollBackCommitState(new CommitState(9, null)); // as format 4 left it
        FreshnessPolicy fresh = new FreshnessPolicy(new AnchorDirectory(tmp.resolve("fresh")), false);
        freshness = Freshness.check(store, sealer, NAME, fresh, true);
        freshness.recordCommitted(); // an unmount's flush with nothing to commit
        assertThat(freshness.anchored()).isZero();
        freshness.close();
        freshness = Freshness.check(store, sealer, NAME, fresh, true);
        assertThat(freshness.anchored()).isZero();
    }
}
