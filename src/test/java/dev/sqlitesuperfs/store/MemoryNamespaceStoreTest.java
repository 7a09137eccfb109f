package dev.sqlitesuperfs.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sqlitesuperfs.store.MemoryNamespaceStore.Fault;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * What the memory store does beyond the expectations {@link MemoryStoreContractTest} shares with
 * {@link PgNamespaceStoreTest}, the way {@link PgNamespaceStore} does it: foreign keys, blocks sent
 * as new, deferred changes and their order, groups, injected failures, crash and reopen, and the
 * exact lines of the consistency checks. (No key here: the rows are opaque to the store.)
 */
class MemoryNamespaceStoreTest {
    private static final int DIR = 0040755;
    private static final int FILE = 0100644;

    private final MemoryNamespaceStore store = created();

    private static MemoryNamespaceStore created() {
        MemoryNamespaceStore s = new MemoryNamespaceStore("test");
        s.create(new NamespaceMeta(0, UUID.randomUUID(), 4096, "argon2id13", 2, 1 << 16, new byte[16], new byte[72], 0),
                new InodeRecord(1, DIR, 0, 0, 2, 0, 0, 0, 1, 1, 1));
        s.startWriting();
        return s;
    }

    @AfterEach
    void close() {
        store.close();
    }

    private static byte[] name(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static InodeRecord file(long ino, long size) {
        return new InodeRecord(ino, FILE, 0, 0, 1, size, 999, 0, 1, 1, 1);
    }

    private static List<SealedBlock> blocks(long... idxs) {
        return java.util.Arrays.stream(idxs).mapToObj(i -> new SealedBlock(i, new byte[] {(byte) i, 1, 2})).toList();
    }

    @Test
    void blocksSentAsNewThatAreStoredFailTheCommit() {
        long ino = store.allocateInodes().first();
        store.commit(new ChangeSet().putInode(file(ino, 4096)).putEntry(1, name("f"), ino).putBlocks(ino, 0, blocks(0)));
        assertThatThrownBy(() -> store.commit(new ChangeSet().putBlocks(ino, 0, blocks(0))))
                .isInstanceOf(StoreException.class).hasMessageContaining("sent as new");
        // after a truncation in the same transaction they are new again
        store.commit(new ChangeSet().truncateBlocks(ino, 0).putBlocks(ino, 0, blocks(0)));
        assertThat(store.inode(ino).orElseThrow().nblocks()).isEqualTo(1);
    }

    @Test
    void foreignKeysHoldAtTheEndOfEachTransactionAndAFailedOneChangesNothing() {
        long ino = store.allocateInodes().first();
        assertThatThrownBy(() -> store.commit(new ChangeSet().putEntry(1, name("dangling"), ino)))
                .isInstanceOf(StoreException.class).hasMessageContaining("foreign key");
        // an entry put before its inode, in the same transaction, is fine
        store.commit(new ChangeSet().putEntry(1, name("f"), ino).putInode(file(ino, 0)));
        assertThatThrownBy(() -> store.commit(new ChangeSet().deleteInode(ino).putXattr(1, name("user.a"), new byte[1])))
                .as("an inode deleted while an entry names it").hasMessageContaining("foreign key");
        assertThat(store.inode(ino)).isPresent();
        assertThat(store.xattrs(1)).as("nothing of the failed transaction stays").isEmpty();
        store.commit(new ChangeSet().putXattr(ino, name("user.a"), new byte[1]).putBlocks(ino, 0, blocks(0))
                .deleteEntry(1, name("f")).deleteInode(ino));
        assertThat(store.tables().xattrRows(ino)).as("attributes go with their inode").isEmpty();
        assertThat(store.tables().blocksOf(ino)).as("blocks go with their inode").isEmpty();
    }

    @Test
    void entriesAreAnInnerJoinWithTheChildsModeInByteOrder() {
        long a = store.allocateInodes().first();
        store.commit(new ChangeSet().putInode(file(a, 0)).putEntry(1, new byte[] {(byte) 0xe9}, a)
                .putEntry(1, name("z"), a).putInode(new InodeRecord(1, DIR, 0, 0, 2, 0, 0, 0, 1, 1, 1)));
        store.tamper(rows -> rows.putEntry(1, name("ghost"), 4242, null));
        assertThat(store.entries(1)).extracting(e -> new String(e.name(), StandardCharsets.ISO_8859_1))
                .as("unsigned byte order, and no entry for a missing inode").containsExactly("z", "\u00e9");
        assertThat(store.entries(1)).allSatisfy(e -> assertThat(e.mode()).isEqualTo(FILE));
        assertThat(store.check()).containsExactly("inode " + a + " has nlink 1 but 2 entries name it",
                "entry in directory 1 named 'ghost' points to inode 4242, which does not exist");
    }

    @Test
    void deferredChangesGoWithTheNextCommitInOrderAndNeverAlone() {
        long a = store.allocateInodes().first();
        NamespaceStore.Deferred first = store.defer(new ChangeSet().putInode(file(a, 0)).putEntry(1, name("a"), a));
        NamespaceStore.Deferred second = store.deferAfter(first, new ChangeSet().deleteEntry(1, name("a")).deleteInode(a));
        assertThat(second).as("deferred behind a change still queued").isNotNull();
        assertThat(store.oldestDeferred()).isNotZero();
        assertThat(store.transactions()).isEmpty();
        assertThat(store.commit(new ChangeSet())).as("an empty commit stores nothing").isSameAs(CommitResult.EMPTY);
        assertThat(store.transactions()).isEmpty();

        store.commit(new ChangeSet().putXattr(1, name("user.x"), new byte[1]));
        assertThat(store.transactions()).hasSize(1);
        MemoryNamespaceStore.Transaction tx = store.transactions().getFirst();
        assertThat(tx.parts()).extracting(MemoryNamespaceStore.Part::deferred).containsExactly(true, true, false);
        assertThat(first.stored()).isCompleted();
        assertThat(second.stored()).isCompleted();
        assertThat(store.oldestDeferred()).isZero();
        assertThat(store.deferAfter(first, new ChangeSet().deleteEntry(1, name("a"))))
                .as("the earlier change may be stored now: nothing is deferred behind it").isNull();
        assertThat(store.entries(1)).isEmpty();
    }

    @Test
    void flushDeferredStoresWhatIsQueuedAndNothingOtherwise() {
        store.flushDeferred();
        assertThat(store.transactions()).isEmpty();
        long a = store.allocateInodes().first();
        store.defer(new ChangeSet().putInode(file(a, 0)).putEntry(1, name("a"), a));
        store.flushDeferred();
        assertThat(store.transactions()).hasSize(1);
        assertThat(store.entries(1)).hasSize(1);
    }

    @Test
    void aGroupHoldsAtMost64ChangeSets() {
        long first = store.allocateInodes().first();
        for (int i = 0; i < 70; i++) {
            store.defer(new ChangeSet().putInode(file(first + i % 64, 0)).putEntry(1, name("f" + i), first + i % 64));
        }
        store.flushDeferred();
        assertThat(store.transactions()).extracting(t -> t.parts().size()).containsExactly(64, 7);
    }

    @Test
    void anUnavailableStoreFailsTheCommitAndKeepsDeferredChangesForTheNextOne() {
        long a = store.allocateInodes().first();
        NamespaceStore.Deferred creation = store.defer(new ChangeSet().putInode(file(a, 0)).putEntry(1, name("a"), a));
        store.failNext(1, Fault.UNAVAILABLE);
        assertThatThrownBy(() -> store.commit(new ChangeSet().putXattr(1, name("user.x"), new byte[1])))
                .isInstanceOf(StoreException.Unavailable.class);
        assertThat(creation.stored()).isNotDone();
        assertThat(store.deferAfter(creation, new ChangeSet()))
                .as("once taken into an attempt, it may have been stored").isNull();
        store.flushDeferred();
        assertThat(creation.stored()).isCompleted();
        assertThat(store.entries(1)).hasSize(1);
        assertThat(store.xattrs(1)).as("the failed commit's own changes are not retried").isEmpty();
    }

    @Test
    void aRefusedGroupIsRetriedSetBySetSoThatOnlyTheBadOneFails() {
        store.failNext(Integer.MAX_VALUE, Fault.REFUSED);
        assertThatThrownBy(() -> store.commit(new ChangeSet().putXattr(1, name("user.y"), new byte[1])))
                .isExactlyInstanceOf(StoreException.class);
        store.stopFailing();
        store.commit(new ChangeSet().putXattr(1, name("user.y"), new byte[1]));

        long a = store.allocateInodes().first();
        NamespaceStore.Deferred good = store.defer(new ChangeSet().putInode(file(a, 0)).putEntry(1, name("a"), a));
        store.commit(new ChangeSet().putXattr(1, name("user.x"), new byte[1]));
        assertThat(good.stored()).isCompleted();
    }

    /**
     * A deferred change set refused for good cannot be taken back (whoever deferred it already
     * counts it as made): the writer stops, as CommitWriter does, and the changes queued with it
     * that are good are still stored before it.
     */
    @Test
    void aDeferredChangeRefusedForGoodFencesTheStore() {
        long a = store.allocateInodes().first();
        NamespaceStore.Deferred good = store.defer(new ChangeSet().putInode(file(a, 0)).putEntry(1, name("a"), a));
        NamespaceStore.Deferred bad = store.defer(new ChangeSet().putEntry(1, name("dangling"), 4242));
        assertThatThrownBy(() -> store.commit(new ChangeSet().putXattr(1, name("user.x"), new byte[1])))
                .isInstanceOf(StoreException.Fenced.class);
        assertThat(good.stored()).isCompleted();
        assertThat(bad.stored()).isCompletedExceptionally();
        assertThat(store.entries(1)).extracting(e -> new String(e.name())).containsExactly("a");
        assertThatThrownBy(() -> store.commit(new ChangeSet().putXattr(1, name("user.y"), new byte[1])))
                .isInstanceOf(StoreException.Fenced.class);
    }

    @Test
    void aFencedStoreRefusesEveryLaterChange() {
        store.failNext(1, Fault.FENCED);
        assertThatThrownBy(() -> store.commit(new ChangeSet().putXattr(1, name("user.x"), new byte[1])))
                .isInstanceOf(StoreException.Fenced.class);
        assertThatThrownBy(() -> store.commit(new ChangeSet().putXattr(1, name("user.x"), new byte[1])))
                .isInstanceOf(StoreException.Fenced.class);
        assertThatThrownBy(() -> store.defer(new ChangeSet())).isInstanceOf(StoreException.Fenced.class);
        assertThat(store.inode(1)).as("reads go on").isPresent();
    }

    @Test
    void closeStoresWhatIsDeferredAndACrashLosesIt() {
        long a = store.allocateInodes().first();
        store.defer(new ChangeSet().putInode(file(a, 0)).putEntry(1, name("a"), a));
        store.close();
        MemoryNamespaceStore next = store.reopen();
        assertThat(next.entries(1)).hasSize(1);
        next.startWriting();
        assertThatThrownBy(next::reopen).isInstanceOf(StoreException.NamespaceBusy.class);
        assertThat(next.allocateInodes().first()).as("inode numbers are never handed out twice").isGreaterThan(a);
        next.defer(new ChangeSet().deleteEntry(1, name("a")).deleteInode(a));
        next.crash();
        MemoryNamespaceStore after = next.reopen();
        assertThat(after.entries(1)).hasSize(1);
        after.close();
    }

    @Test
    void theChecksFindWhatTheSqlChecksFind() {
        long f = store.allocateInodes().first();
        long d = f + 1;
        long link = f + 2;
        store.commit(new ChangeSet().putInode(file(f, 4096)).putEntry(1, name("f"), f).putBlocks(f, 0, blocks(0))
                .putInode(new InodeRecord(d, DIR, 0, 0, 2, 0, 0, 0, 1, 1, 1)).putEntry(1, name("d"), d)
                .putInode(new InodeRecord(link, 0120777, 0, 0, 1, 1, 0, 0, 1, 1, 1)).putEntry(d, name("l"), link)
                .putSymlink(link, new byte[] {1})
                .putInode(new InodeRecord(1, DIR, 0, 0, 3, 0, 0, 0, 1, 1, 1)));
        assertThat(store.check()).isEmpty();
        store.tamper(rows -> rows.putBlock(f, 1, new byte[20]).deleteSymlink(link).putBlock(777, 0, new byte[20])
                .deleteEntry(1, name("d")));
        assertThat(store.check()).containsExactly(
                "directory 1 has nlink 3 but should have 2 (2 + its subdirectories)",
                "directory " + d + " is named by 0 entries",
                "inode " + f + " has 1 blocks past its size, the first at index 1",
                "inode 777 does not exist but has 1 blocks",
                "inode " + f + " has nblocks 1 but 2 stored blocks",
                "inode " + d + " is linked but not reachable from the root",
                "inode " + link + " is linked but not reachable from the root",
                "symlink " + link + " has no target");
    }
}
