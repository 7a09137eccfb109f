package dev.sqlitesuperfs.store;

import static dev.sqlitesuperfs.store.StoreFixtures.blocks;
import static dev.sqlitesuperfs.store.StoreFixtures.file;
import static dev.sqlitesuperfs.store.StoreFixtures.name;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sqlitesuperfs.testing.TestPostgres;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The connection breaks at the worst moments of a commit: the writer must find out from
 * meta.last_commit whether the transaction committed, and never apply a change set twice.
 */
class LostCommitTest {

    /** Small transactions are one auto-commit statement: the server commits before it confirms. */
    @Test
    void aCommitWhoseConfirmationWasLostIsNotAppliedAgain() throws Exception {
        RecordingSeals seals = new RecordingSeals();
        try (FaultyProxy proxy = new FaultyProxy(TestPostgres.config().endpoints().getFirst().port());
             PgNamespaceStore store = StoreFixtures.createdStore(throughProxy(proxy), seals)) {
            proxy.arm("SELECT", false);
            CommitResult result = store.commit(fileWithBlocks(2, SMALL));
            assertThat(proxy.fired()).isTrue();
            assertThat(result.nblocks(2, -1)).isEqualTo(SMALL);
            assertCommittedOnce(store, 2, SMALL);
            seals.assertHeardOnlyTheCommitStored(store);
        }
    }

    /** Large writes are COPY, the statement, then COMMIT, whose confirmation is lost here. */
    @Test
    void aCopyTransactionWhoseCommitConfirmationWasLostIsNotAppliedAgain() throws Exception {
        RecordingSeals seals = new RecordingSeals();
        try (FaultyProxy proxy = new FaultyProxy(TestPostgres.config().endpoints().getFirst().port());
             PgNamespaceStore store = StoreFixtures.createdStore(throughProxy(proxy), seals)) {
            proxy.arm("COMMIT", false);
            CommitResult result = store.commit(fileWithBlocks(2, LARGE));
            assertThat(proxy.fired()).isTrue();
            assertThat(result.nblocks(2, -1)).isEqualTo(LARGE);
            assertCommittedOnce(store, 2, LARGE);
            seals.assertHeardOnlyTheCommitStored(store);
        }
    }

    @Test
    void aTransactionCutOffBeforeCommitIsRunAgain() throws Exception {
        RecordingSeals seals = new RecordingSeals();
        try (FaultyProxy proxy = new FaultyProxy(TestPostgres.config().endpoints().getFirst().port());
             PgNamespaceStore store = StoreFixtures.createdStore(throughProxy(proxy), seals)) {
            // A large write's transaction starts with the COPY; the connection breaks right after it.
            proxy.arm("COPY", false);
            CommitResult result = store.commit(fileWithBlocks(2, LARGE));
            assertThat(proxy.fired()).isTrue();
            assertThat(result.nblocks(2, -1)).isEqualTo(LARGE);
            assertCommittedOnce(store, 2, LARGE);
            seals.assertHeardOnlyTheCommitStored(store);
        }
    }

    @Test
    void aWriterSessionLeftBehindAHalfOpenConnectionIsEndedAndTheCommitNotRepeated() throws Exception {
        try (FaultyProxy proxy = new FaultyProxy(TestPostgres.config().endpoints().getFirst().port());
             PgNamespaceStore store = StoreFixtures.createdStore(throughProxy(proxy))) {
            proxy.arm("SELECT", true);
            CommitResult result = store.commit(fileWithBlocks(2, SMALL));
            assertThat(proxy.fired()).isTrue();
            assertThat(result.nblocks(2, -1)).isEqualTo(SMALL);
            assertCommittedOnce(store, 2, SMALL);
            store.commit(fileWithBlocks(3, SMALL));
            assertThat(store.check()).isEmpty();
            assertThatThrownBy(() -> PgNamespaceStore.open(TestPostgres.config(), store.namespace(), true))
                    .isInstanceOf(StoreException.NamespaceBusy.class);
        }
    }

    /**
     * The reply to a commit is lost and PostgreSQL stays away past the retry timeout: the caller is
     * told the commit failed, though it went through. Finding that out at the next reconnect, the
     * writer stops writing (memory and storage no longer agree), instead of building on it.
     */
    @Test
    void aCommitReportedAsFailedThatWentThroughStopsTheWriter() throws Exception {
        try (FaultyProxy proxy = new FaultyProxy(TestPostgres.config().endpoints().getFirst().port());
             PgNamespaceStore store = StoreFixtures.createdStore(throughProxy(proxy).withRetryTimeout(
                     java.time.Duration.ofSeconds(2)))) {
            proxy.arm("SELECT", false);
            proxy.refuse(true);
            assertThatThrownBy(() -> store.commit(fileWithBlocks(2, SMALL)))
                    .isInstanceOf(StoreException.Unavailable.class);
            assertThat(proxy.fired()).isTrue();
            assertThat(StoreFixtures.rowCount(store.namespace(), "blocks", 2)).as("it went through").isEqualTo(SMALL);
            proxy.refuse(false);
            assertThatThrownBy(() -> store.commit(fileWithBlocks(3, SMALL)))
                    .isInstanceOf(StoreException.Fenced.class).hasMessageContaining("unmount and mount it again");
            assertThat(store.inode(3)).as("nothing written after").isEmpty();
        }
    }

    private static final int SMALL = 3;
    private static final int LARGE = CommitWriter.COPY_MIN_BLOCKS + 1;

    private static ChangeSet fileWithBlocks(long ino, int count) {
        // Blocks past the stored size: a second application would hit the primary key (COPY) or
        // count them twice.
        return new ChangeSet().putInode(file(ino, 1, (long) count * StoreFixtures.BLOCK_SIZE))
                .putEntry(1, name("f" + ino), ino).putBlocks(ino, 0, blocks(ino, 0, count, 1));
    }

    private static void assertCommittedOnce(PgNamespaceStore store, long ino, int count) {
        assertThat(store.inode(ino).orElseThrow().nblocks()).isEqualTo(count);
        assertThat(StoreFixtures.rowCount(store.namespace(), "blocks", ino)).isEqualTo(count);
        assertThat(store.check()).isEmpty();
    }

    /**
     * Seals each number with its own bytes and records which commits it heard of: the freshness
     * anchor hears exactly the numbers PostgreSQL committed, never one it did not.
     */
    static final class RecordingSeals implements CommitSeals {
        private static final java.util.concurrent.atomic.AtomicLong KEY_HOLDERS = new java.util.concurrent.atomic.AtomicLong();
        final java.util.List<Long> heard = new java.util.concurrent.CopyOnWriteArrayList<>();
        /** Tells this key holder's seals from another's (of the same number). */
        private final long keyHolder = KEY_HOLDERS.incrementAndGet();

        @Override
        public byte[] seal(long number, java.util.Collection<InodeRecord> put, java.util.Collection<Long> deleted) {
            return sealOf(number);
        }

        byte[] sealOf(long number) {
            return java.nio.ByteBuffer.allocate(16).putLong(keyHolder).putLong(number).array();
        }

        @Override
        public void committed(long number) {
            heard.add(number);
        }

        void assertHeardOnlyTheCommitStored(PgNamespaceStore store) {
            CommitState stored = store.commitState();
            assertThat(heard).as("the one commit heard of, once, and it is the one stored")
                    .containsExactly(stored.lastCommit());
            assertThat(stored.seal()).isEqualTo(sealOf(stored.lastCommit()));
        }
    }

    static DatabaseConfig throughProxy(FaultyProxy proxy) {
        DatabaseConfig direct = TestPostgres.config();
        return new DatabaseConfig(List.of(new DatabaseConfig.Endpoint("127.0.0.1", proxy.port())), direct.database(),
                direct.user(), direct.password(), Map.of("sslmode", "disable", "gssEncMode", "disable"),
                direct.applicationName(), direct.readPoolSize(), direct.retryTimeout());
    }
}
