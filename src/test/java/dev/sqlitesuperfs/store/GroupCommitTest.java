package dev.sqlitesuperfs.store;

import static dev.sqlitesuperfs.store.StoreFixtures.blocks;
import static dev.sqlitesuperfs.store.StoreFixtures.dir;
import static dev.sqlitesuperfs.store.StoreFixtures.file;
import static dev.sqlitesuperfs.store.StoreFixtures.meta;
import static dev.sqlitesuperfs.store.StoreFixtures.name;
import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.testing.TestPostgres;
import dev.sqlitesuperfs.testing.TransactionCountingProxy;
import java.sql.Connection;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

class GroupCommitTest {

    private static final int THREADS = 16;
    private static final int COMMITS_PER_THREAD = 25;

    /**
     * The transactions are counted by a proxy between the store and PostgreSQL: exactly those of
     * the commits, none of autovacuum's, and without waiting for the server's statistics.
     */
    @Test
    void concurrentCommitsAllLandInFewerTransactionsThanChangeSets() throws Exception {
        NamespaceName ns = NamespaceName.parse(TestPostgres.freshNamespace());
        try (TransactionCountingProxy proxy = new TransactionCountingProxy(TestPostgres.server().port())) {
            DatabaseConfig config = proxy.config(TestPostgres.config());
            try (PgNamespaceStore store = PgNamespaceStore.open(config, ns, false)) {
                store.create(meta(), dir(1, 2));
            }
            long transactions;
            try (PgNamespaceStore store = PgNamespaceStore.open(config, ns, false);
                 ExecutorService pool = Executors.newFixedThreadPool(THREADS)) {
                store.startWriting();
                long before = proxy.transactions();
                List<Future<?>> futures = new ArrayList<>();
                for (int t = 0; t < THREADS; t++) {
                    int thread = t;
                    futures.add(pool.submit(() -> {
                        for (int i = 0; i < COMMITS_PER_THREAD; i++) {
                            long ino = 2 + thread * 1000L + i;
                            CommitResult result = store.commit(new ChangeSet()
                                    .putInode(file(ino, 1, 2L * StoreFixtures.BLOCK_SIZE))
                                    .putEntry(1, name("f" + ino), ino)
                                    .putBlocks(ino, 0, blocks(ino, 0, 2, 1)));
                            assertThat(result.nblocks(ino, -1)).isEqualTo(2);
                        }
                    }));
                }
                for (Future<?> f : futures) {
                    f.get();
                }
                transactions = proxy.transactions() - before;
            }
            int changeSets = THREADS * COMMITS_PER_THREAD;
            System.out.println("group commit: " + changeSets + " change sets in " + transactions + " transactions");
            assertThat(transactions).isPositive().isLessThan(changeSets);

            try (PgNamespaceStore store = PgNamespaceStore.open(config, ns, true)) {
                assertThat(store.entries(1)).hasSize(changeSets);
                assertThat(store.usage()).isEqualTo(new Usage(changeSets + 1, 2L * changeSets));
                assertThat(store.check()).isEmpty();
            }
        }
    }

    @Test
    void aBadChangeSetInAGroupFailsAloneAndTheOthersCommitOnce() throws Exception {
        try (PgNamespaceStore store = StoreFixtures.createdStore();
             ExecutorService pool = Executors.newFixedThreadPool(THREADS)) {
            String metaTable = store.namespace().quoted() + ".meta";
            List<CompletableFuture<CommitResult>> results = new ArrayList<>();
            try (Connection blocker = TestPostgres.connect(); Statement statement = blocker.createStatement()) {
                // Hold the metadata row so the writer stalls on its first group while the rest queue up.
                blocker.setAutoCommit(false);
                statement.execute("SELECT * FROM " + metaTable + " FOR UPDATE");
                results.add(CompletableFuture.supplyAsync(() -> store.commit(goodSet(2)), pool));
                awaitQueued(store, 0);
                for (int i = 0; i < THREADS - 1; i++) {
                    long ino = 3 + i;
                    ChangeSet set = i == 7
                            ? new ChangeSet().putInode(file(ino, 1, 0)).putEntry(424242, name("secret-name"), ino)
                            : goodSet(ino);
                    results.add(CompletableFuture.supplyAsync(() -> store.commit(set), pool));
                }
                awaitQueued(store, THREADS - 1);
                blocker.rollback();
            }
            int failed = 0;
            for (int i = 0; i < results.size(); i++) {
                CompletableFuture<CommitResult> result = results.get(i);
                if (i == 8) {
                    assertThat(result).failsWithin(java.time.Duration.ofSeconds(60))
                            .withThrowableOfType(java.util.concurrent.ExecutionException.class)
                            .havingCause()
                            .isExactlyInstanceOf(StoreException.class)
                            .withMessageContaining("SQLState 23503")
                            .withMessageContaining("foreign key violation")
                            .withMessageContaining("dirents_parent_fkey")
                            .withMessageNotContaining("424242")
                            .withMessageNotContaining("secret-name");
                    failed++;
                } else {
                    assertThat(result.get().nblocks(i + 2, -1)).isEqualTo(3);
                }
            }
            assertThat(failed).isEqualTo(1);
            assertThat(store.inode(10)).isEmpty();
            assertThat(store.entries(1)).hasSize(THREADS - 1);
            assertThat(store.check()).isEmpty();
        }
    }

    private static ChangeSet goodSet(long ino) {
        return new ChangeSet()
                .putInode(file(ino, 1, 3L * StoreFixtures.BLOCK_SIZE))
                .putEntry(1, name("f" + ino), ino)
                // Plain inserts: applying this change set twice would fail on the primary key.
                .putBlocks(ino, 0, blocks(ino, 0, 3, 1));
    }

    private static void awaitQueued(PgNamespaceStore store, int queued) throws InterruptedException {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (store.metrics().queueDepth() < queued || (queued == 0 && !writerWaitsForLock())) {
            assertThat(System.nanoTime()).as("commits queued in time").isLessThan(deadline);
            Thread.sleep(5);
        }
    }

    private static boolean writerWaitsForLock() {
        Long waiting = TestPostgres.query("SELECT count(*) FROM pg_stat_activity"
                + " WHERE application_name LIKE '%:writer' AND wait_event_type = 'Lock'");
        return waiting > 0;
    }
}
