package dev.sqlitesuperfs.store;

import static dev.sqlitesuperfs.store.StoreFixtures.blocks;
import static dev.sqlitesuperfs.store.StoreFixtures.dir;
import static dev.sqlitesuperfs.store.StoreFixtures.file;
import static dev.sqlitesuperfs.store.StoreFixtures.meta;
import static dev.sqlitesuperfs.store.StoreFixtures.name;
import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.testing.TestPostgres;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/**
 * Cross-tenant group commit: namespaces sharing a writer lane commit in one PostgreSQL
 * transaction when they commit at once, and a tenant whose part fails (its epoch lost, a statement
 * that fails on its rows, a commit whose answer is lost) fails or recovers alone, its neighbours'
 * commits applied exactly once. Each test holds the lane itself until every tenant's commit waits
 * on it as a ride, so the sharing does not depend on timing: when it lets go, one tenant takes the
 * lane and carries all the others.
 */
class SharedLaneTest {
    private static final int TENANTS = 6;
    private static final int BLOCKS = 3;
    private static final long BULK_PAUSE_NANOS = 1_000_000;

    @Test
    void tenantsCommittingAtOnceShareOneTransaction() throws Exception {
        try (Tenants tenants = new Tenants(TestPostgres.config().withApplicationName("ssfs-sharedlane"))) {
            Map<Integer, CompletableFuture<CommitResult>> results = tenants.commitTogether(2, t -> { });
            for (int i = 0; i < TENANTS; i++) {
                assertThat(results.get(i).join().nblocks(2, -1)).isEqualTo(BLOCKS);
                tenants.assertCommittedOnce(i, 2);
                StoreMetrics m = tenants.stores.get(i).metrics();
                assertThat(m.transactions()).as("tenant %d's transactions", i).isEqualTo(1);
                assertThat(m.sharedTransactions()).as("tenant %d's shared transactions", i).isEqualTo(1);
                tenants.seals.get(i).assertHeardOnlyTheCommitStored(tenants.stores.get(i));
            }
        }
    }

    @Test
    void aTenantWhosePartFailsFailsAloneAndTheOthersCommitOnce() throws Exception {
        try (Tenants tenants = new Tenants(TestPostgres.config().withApplicationName("ssfs-sharedlane"))) {
            int damaged = 1;
            int fenced = 4;
            // A row the statement cannot write: the tenant's blocks table refuses every insert.
            TestPostgres.execute("CREATE FUNCTION " + tenants.schema(damaged) + ".refuse() RETURNS trigger"
                    + " LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'damaged'; END $$");
            TestPostgres.execute("CREATE TRIGGER refuse BEFORE INSERT ON " + tenants.schema(damaged) + ".blocks"
                    + " FOR EACH ROW EXECUTE FUNCTION " + tenants.schema(damaged) + ".refuse()");
            // Another process took the namespace over: its epoch is no longer this one's.
            TestPostgres.execute("UPDATE " + tenants.schema(fenced) + ".meta SET mount_epoch = mount_epoch + 1");
            Map<Integer, CompletableFuture<CommitResult>> results = tenants.commitTogether(2, t -> { });
            for (int i = 0; i < TENANTS; i++) {
                CompletableFuture<CommitResult> r = results.get(i);
                if (i == damaged) {
                    assertThat(r).failsWithin(60, TimeUnit.SECONDS).withThrowableOfType(Exception.class)
                            .havingCause().isInstanceOf(StoreException.class).withMessageContaining("SQLState P0001");
                    assertThat(StoreFixtures.rowCount(tenants.stores.get(i).namespace(), "blocks", 2)).isZero();
                    assertThat(tenants.seals.get(i).heard).as("no commit to hear of").isEmpty();
                } else if (i == fenced) {
                    assertThat(r).failsWithin(60, TimeUnit.SECONDS).withThrowableOfType(Exception.class)
                            .havingCause().isInstanceOf(StoreException.Fenced.class);
                    assertThat(StoreFixtures.rowCount(tenants.stores.get(i).namespace(), "blocks", 2)).isZero();
                    assertThat(tenants.seals.get(i).heard).as("no commit to hear of").isEmpty();
                } else {
                    assertThat(r.join().nblocks(2, -1)).isEqualTo(BLOCKS);
                    tenants.assertCommittedOnce(i, 2);
                    tenants.seals.get(i).assertHeardOnlyTheCommitStored(tenants.stores.get(i));
                }
            }
            // The others write on, shared or not.
            Map<Integer, CompletableFuture<CommitResult>> next = tenants.commitTogether(3, t -> { });
            for (int i = 0; i < TENANTS; i++) {
                if (i != damaged && i != fenced) {
                    assertThat(next.get(i).join().nblocks(3, -1)).isEqualTo(BLOCKS);
                    tenants.assertCommittedOnce(i, 3);
                }
            }
        }
    }

    /**
     * The shared transaction's COMMIT goes through but its answer never arrives: every tenant in
     * it finds its own commit number in its namespace's meta on the next connection, and none
     * applies its changes a second time (its blocks would then be counted twice).
     */
    @Test
    void aSharedCommitWhoseAnswerWasLostIsAppliedOnceForEveryTenant() throws Exception {
        try (FaultyProxy proxy = new FaultyProxy(TestPostgres.config().endpoints().getFirst().port());
             Tenants tenants = new Tenants(LostCommitTest.throughProxy(proxy).withApplicationName("ssfs-sharedlane"))) {
            Map<Integer, CompletableFuture<CommitResult>> results = tenants.commitTogether(2,
                    t -> proxy.arm("COMMIT", false));
            for (int i = 0; i < TENANTS; i++) {
                assertThat(results.get(i).join().nblocks(2, -1)).isEqualTo(BLOCKS);
                tenants.assertCommittedOnce(i, 2);
                assertThat(tenants.stores.get(i).metrics().transactions()).as("tenant %d's transactions", i)
                        .isEqualTo(1);
                // A fresh namespace's first commit is number 1; doing it again would store number 2.
                assertThat(TestPostgres.queryLong("SELECT last_commit FROM " + tenants.schema(i) + ".meta"))
                        .as("tenant %d's last commit number", i).isEqualTo(1);
                tenants.seals.get(i).assertHeardOnlyTheCommitStored(tenants.stores.get(i));
            }
            assertThat(proxy.fired()).isTrue();
        }
    }

    /**
     * A large write (COPY) takes the server's lane for large writes: it commits while its own
     * lane is held by someone else, so its neighbours there never wait behind it. When the answer
     * to its COMMIT is lost, it is applied once all the same, and the namespace commits on.
     */
    @Test
    void aLargeWriteTakesTheBulkLaneAndIsAppliedOnceWhenItsAnswerIsLost() throws Exception {
        try (FaultyProxy proxy = new FaultyProxy(TestPostgres.config().endpoints().getFirst().port());
             Tenants tenants = new Tenants(LostCommitTest.throughProxy(proxy).withApplicationName("ssfs-sharedlane"))) {
            PgNamespaceStore store = tenants.stores.getFirst();
            int large = CommitWriter.COPY_MIN_BLOCKS + 1;
            WriterLane lane = tenants.server.laneFor(store.namespace());
            lane.acquire();
            try {
                proxy.arm("COMMIT", false);
                CommitResult result = CompletableFuture.supplyAsync(() -> store.commit(new ChangeSet()
                        .putInode(file(2, 1, (long) large * StoreFixtures.BLOCK_SIZE)).putEntry(1, name("large"), 2)
                        .putBlocks(2, 0, blocks(2, 0, large, 1))), Thread::startVirtualThread).get(60, TimeUnit.SECONDS);
                assertThat(result.nblocks(2, -1)).isEqualTo(large);
                assertThat(proxy.fired()).isTrue();
            } finally {
                lane.release();
            }
            assertThat(store.inode(2).orElseThrow().nblocks()).isEqualTo(large);
            assertThat(StoreFixtures.rowCount(store.namespace(), "blocks", 2)).isEqualTo(large);
            assertThat(TestPostgres.queryLong("SELECT last_commit FROM " + tenants.schema(0) + ".meta"))
                    .as("committed once").isEqualTo(1);
            store.commit(new ChangeSet().putInode(file(3, 1, 0)).putEntry(1, name("small"), 3));
            assertThat(TestPostgres.queryLong("SELECT last_commit FROM " + tenants.schema(0) + ".meta")).isEqualTo(2);
            assertThat(store.check()).isEmpty();
        }
    }

    /**
     * A large write on the bulk lane pauses after each piece while another lane is held (here: by
     * the test), and goes through without a pause when nobody else commits; it is stored whole
     * either way.
     */
    @Test
    void aLargeWriteYieldsToOtherCommitsAndOnlyThen() throws Exception {
        try (Tenants tenants = new Tenants(TestPostgres.config())) {
            PgNamespaceStore store = tenants.stores.getFirst();
            BulkPacer pacer = tenants.server.bulkLane().pacer();
            int large = 4 * BulkPacer.PIECE_BYTES / StoreFixtures.BLOCK_SIZE;
            store.commit(new ChangeSet().putInode(file(2, 1, (long) large * StoreFixtures.BLOCK_SIZE))
                    .putEntry(1, name("alone"), 2).putBlocks(2, 0, fullBlocks(large)));
            assertThat(pacer.pauses()).as("pauses with nobody else committing").isZero();

            WriterLane lane = tenants.server.laneFor(tenants.stores.get(1).namespace());
            lane.acquire();
            try {
                CompletableFuture.runAsync(() -> store.commit(new ChangeSet()
                        .putInode(file(3, 1, (long) large * StoreFixtures.BLOCK_SIZE)).putEntry(1, name("beside"), 3)
                        .putBlocks(3, 0, fullBlocks(large))), Thread::startVirtualThread).get(60, TimeUnit.SECONDS);
            } finally {
                lane.release();
            }
            // 4 pieces of data and a little more for the rows' framing: a pause after each full piece
            assertThat(pacer.pauses()).as("pauses while another lane is held").isBetween(3L, 4L);
            assertThat(StoreFixtures.rowCount(store.namespace(), "blocks", 3)).isEqualTo(large);
            assertThat(store.check()).isEmpty();
        }
    }

    /** {@code n} blocks of a whole block's bytes each, from index 0. */
    private static List<SealedBlock> fullBlocks(int n) {
        List<SealedBlock> list = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            byte[] data = new byte[StoreFixtures.BLOCK_SIZE];
            java.util.Arrays.fill(data, (byte) i);
            list.add(new SealedBlock(i, data));
        }
        return list;
    }

    /** {@value #TENANTS} namespaces open on one server with a single writer lane and a lane for large writes. */
    private static final class Tenants implements AutoCloseable {
        final PgServer server;
        final List<PgNamespaceStore> stores = new ArrayList<>();
        /** What each tenant's key holder heard of its commits. */
        final List<LostCommitTest.RecordingSeals> seals = new ArrayList<>();

        Tenants(DatabaseConfig config) {
            server = PgServer.shared(config, 1, true, 2, BULK_PAUSE_NANOS);
            for (int i = 0; i < TENANTS; i++) {
                PgNamespaceStore store = server.open(NamespaceName.parse(TestPostgres.freshNamespace()), false);
                stores.add(store);
                store.create(meta(), dir(1, 2));
                LostCommitTest.RecordingSeals heard = new LostCommitTest.RecordingSeals();
                seals.add(heard);
                store.sealCommits(heard);
                store.startWriting();
            }
        }

        String schema(int tenant) {
            return stores.get(tenant).namespace().quoted();
        }

        /**
         * Holds the lane while every tenant commits a file {@code ino} of {@value #BLOCKS} blocks,
         * runs {@code beforeRelease} once all of them wait on it, then lets go.
         */
        Map<Integer, CompletableFuture<CommitResult>> commitTogether(long ino, Consumer<Tenants> beforeRelease)
                throws InterruptedException {
            WriterLane lane = server.laneFor(stores.getFirst().namespace());
            Map<Integer, CompletableFuture<CommitResult>> results = new java.util.HashMap<>();
            lane.acquire();
            try {
                for (int i = 0; i < TENANTS; i++) {
                    PgNamespaceStore store = stores.get(i);
                    results.put(i, CompletableFuture.supplyAsync(() -> store.commit(new ChangeSet()
                            .putInode(file(ino, 1, (long) BLOCKS * StoreFixtures.BLOCK_SIZE))
                            .putEntry(1, name("f" + ino), ino).putBlocks(ino, 0, blocks(ino, 0, BLOCKS, 1))),
                            Thread::startVirtualThread));
                }
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                while (lane.rides() < TENANTS - countDone(results) && System.nanoTime() < deadline) {
                    Thread.sleep(5);
                }
                assertThat(lane.rides()).as("commits waiting on the lane").isEqualTo(TENANTS - countDone(results));
                beforeRelease.accept(this);
            } finally {
                lane.release();
            }
            for (CompletableFuture<CommitResult> r : results.values()) {
                try {
                    r.get(60, TimeUnit.SECONDS);
                } catch (java.util.concurrent.ExecutionException | CompletionException e) {
                    // the caller looks at each result
                } catch (java.util.concurrent.TimeoutException e) {
                    throw new AssertionError("a commit did not end within 60 s", e);
                }
            }
            return results;
        }

        private static int countDone(Map<Integer, CompletableFuture<CommitResult>> results) {
            return (int) results.values().stream().filter(CompletableFuture::isDone).count();
        }

        void assertCommittedOnce(int tenant, long ino) {
            PgNamespaceStore store = stores.get(tenant);
            assertThat(store.inode(ino).orElseThrow().nblocks()).as("tenant %d's block count", tenant).isEqualTo(BLOCKS);
            assertThat(StoreFixtures.rowCount(store.namespace(), "blocks", ino)).isEqualTo(BLOCKS);
            assertThat(store.check()).isEmpty();
        }

        @Override
        public void close() {
            for (PgNamespaceStore store : stores) {
                store.close();
            }
            server.close();
        }
    }
}
