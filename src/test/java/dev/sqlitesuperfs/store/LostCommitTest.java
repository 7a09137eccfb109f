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

    @Test
    void aCommitWhoseConfirmationWasLostIsNotAppliedAgain() throws Exception {
        try (FaultyProxy proxy = new FaultyProxy(TestPostgres.config().endpoints().getFirst().port());
             PgNamespaceStore store = StoreFixtures.createdStore(throughProxy(proxy))) {
            proxy.arm("COMMIT", false);
            CommitResult result = store.commit(fileWithBlocks(2));
            assertThat(proxy.fired()).isTrue();
            assertThat(result.nblocksDelta(2)).isEqualTo(3);
            assertCommittedOnce(store, 2);
        }
    }

    @Test
    void aTransactionCutOffBeforeCommitIsRunAgain() throws Exception {
        try (FaultyProxy proxy = new FaultyProxy(TestPostgres.config().endpoints().getFirst().port());
             PgNamespaceStore store = StoreFixtures.createdStore(throughProxy(proxy))) {
            // The first command of every commit transaction is the UPDATE that claims it.
            proxy.arm("UPDATE", false);
            CommitResult result = store.commit(fileWithBlocks(2));
            assertThat(proxy.fired()).isTrue();
            assertThat(result.nblocksDelta(2)).isEqualTo(3);
            assertCommittedOnce(store, 2);
        }
    }

    @Test
    void aWriterSessionLeftBehindAHalfOpenConnectionIsEndedAndTheCommitNotRepeated() throws Exception {
        try (FaultyProxy proxy = new FaultyProxy(TestPostgres.config().endpoints().getFirst().port());
             PgNamespaceStore store = StoreFixtures.createdStore(throughProxy(proxy))) {
            proxy.arm("COMMIT", true);
            CommitResult result = store.commit(fileWithBlocks(2));
            assertThat(proxy.fired()).isTrue();
            assertThat(result.nblocksDelta(2)).isEqualTo(3);
            assertCommittedOnce(store, 2);
            store.commit(fileWithBlocks(3));
            assertThat(store.check()).isEmpty();
            assertThatThrownBy(() -> PgNamespaceStore.open(TestPostgres.config(), store.namespace(), true))
                    .isInstanceOf(StoreException.NamespaceBusy.class);
        }
    }

    private static ChangeSet fileWithBlocks(long ino) {
        // Plain inserts of new blocks: a second application would hit the primary key.
        return new ChangeSet().putInode(file(ino, 1, 3L * StoreFixtures.BLOCK_SIZE)).putEntry(1, name("f" + ino), ino)
                .putBlocks(ino, 0, blocks(ino, 0, 3, 1));
    }

    private static void assertCommittedOnce(PgNamespaceStore store, long ino) {
        assertThat(store.inode(ino).orElseThrow().nblocks()).isEqualTo(3);
        assertThat(StoreFixtures.rowCount(store.namespace(), "blocks", ino)).isEqualTo(3);
        assertThat(store.check()).isEmpty();
    }

    private static DatabaseConfig throughProxy(FaultyProxy proxy) {
        DatabaseConfig direct = TestPostgres.config();
        return new DatabaseConfig(List.of(new DatabaseConfig.Endpoint("127.0.0.1", proxy.port())), direct.database(),
                direct.user(), direct.password(), Map.of("sslmode", "disable", "gssEncMode", "disable"),
                direct.applicationName(), direct.readPoolSize(), direct.retryTimeout());
    }
}
