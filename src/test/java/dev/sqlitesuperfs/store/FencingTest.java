package dev.sqlitesuperfs.store;

import static dev.sqlitesuperfs.store.StoreFixtures.file;
import static dev.sqlitesuperfs.store.StoreFixtures.name;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sqlitesuperfs.testing.TestPostgres;
import java.sql.Connection;
import java.sql.Statement;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

class FencingTest {

    @Test
    void aWriterThatLostItsSessionIsFencedOnceAnotherMountHoldsTheNamespace() throws Exception {
        PgNamespaceStore a = StoreFixtures.createdStore();
        NamespaceName ns = a.namespace();
        try {
            a.commit(entry(2, "from-a-before"));
            terminateWriter(ns);

            try (PgNamespaceStore b = PgNamespaceStore.open(TestPostgres.config(), ns, false)) {
                b.startWriting();
                b.commit(entry(3, "from-b"));

                assertThatThrownBy(() -> a.commit(entry(4, "from-a-after")))
                        .isInstanceOf(StoreException.Fenced.class)
                        .hasMessageContaining("taken over by another process");
                assertThatThrownBy(() -> a.commit(entry(5, "from-a-later")))
                        .isInstanceOf(StoreException.Fenced.class);

                b.commit(entry(6, "from-b-later"));
                assertThat(b.entries(1)).extracting(e -> new String(e.name()))
                        .containsExactly("from-a-before", "from-b", "from-b-later");
                assertThat(b.check()).isEmpty();

                a.close();
                // Closing the fenced store must not have let go of b's lock.
                assertThatThrownBy(() -> PgNamespaceStore.open(TestPostgres.config(), ns, true))
                        .isInstanceOf(StoreException.NamespaceBusy.class);
            }
        } finally {
            a.close();
        }
    }

    @Test
    void aWriterThatLostItsSessionIsFencedWhenAnotherMountCameAndWent() throws Exception {
        PgNamespaceStore a = StoreFixtures.createdStore();
        NamespaceName ns = a.namespace();
        try {
            terminateWriter(ns);
            try (PgNamespaceStore b = PgNamespaceStore.open(TestPostgres.config(), ns, false)) {
                b.startWriting();
                b.commit(entry(3, "from-b"));
            }
            assertThatThrownBy(() -> a.commit(entry(4, "from-a")))
                    .isInstanceOf(StoreException.Fenced.class)
                    .hasMessageContaining("mounted by another process");
            // The fenced store gave the lock back at once.
            try (PgNamespaceStore c = PgNamespaceStore.open(TestPostgres.config(), ns, true)) {
                assertThat(c.entries(1)).extracting(e -> new String(e.name())).containsExactly("from-b");
            }
        } finally {
            a.close();
        }
    }

    @Test
    void aWriterThatLostItsSessionWithNobodyElseAroundReconnectsAndKeepsTheLock() throws Exception {
        try (PgNamespaceStore a = StoreFixtures.createdStore()) {
            terminateWriter(a.namespace());
            a.commit(entry(2, "after-reconnect"));
            assertThat(a.entries(1)).hasSize(1);
            assertThatThrownBy(() -> PgNamespaceStore.open(TestPostgres.config(), a.namespace(), false))
                    .isInstanceOf(StoreException.NamespaceBusy.class);
        }
    }

    @Test
    void aDeadlockedCommitIsRetriedOnTheSameSessionWithoutLettingTheLockGo() throws Exception {
        try (PgNamespaceStore store = StoreFixtures.createdStore()) {
            NamespaceName ns = store.namespace();
            store.commit(entry(2, "f"));
            int writerPid = writerPid(ns);
            CompletableFuture<CommitResult> commit;
            try (Connection other = TestPostgres.connect(); Statement statement = other.createStatement()) {
                other.setAutoCommit(false);
                // Only the writer's backend may detect the deadlock, so that the writer is the victim.
                statement.execute("SET LOCAL deadlock_timeout = '10min'");
                statement.execute("SELECT * FROM " + ns.quoted() + ".inodes WHERE ino = 2 FOR UPDATE");
                commit = CompletableFuture.supplyAsync(() -> store.commit(
                        new ChangeSet().putInode(file(2, 1, 123)).putBlocks(2, 0, StoreFixtures.blocks(2, 0, 1, 1))));
                awaitWriterWaitingForALock(ns);
                // Waits for the metadata row the writer holds: a cycle, which the writer's backend breaks.
                statement.execute("SELECT * FROM " + ns.quoted() + ".meta FOR UPDATE");
                other.rollback();
            }
            assertThat(commit.get().nblocks(2, -1)).isEqualTo(1);
            assertThat(store.inode(2).orElseThrow().size()).isEqualTo(123);
            assertThat(writerPid(ns)).isEqualTo(writerPid);
            assertThat(store.check()).isEmpty();
        }
    }

    private static int writerPid(NamespaceName ns) {
        Integer pid = TestPostgres.query("SELECT pid FROM pg_stat_activity WHERE application_name = ?",
                "sqlitesuperfs:" + ns + ":writer");
        return pid;
    }

    private static void awaitWriterWaitingForALock(NamespaceName ns) throws InterruptedException {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (TestPostgres.<Long>query("SELECT count(*) FROM pg_stat_activity WHERE application_name = ?"
                + " AND wait_event_type = 'Lock'", "sqlitesuperfs:" + ns + ":writer") == 0) {
            assertThat(System.nanoTime()).as("writer blocked in time").isLessThan(deadline);
            Thread.sleep(10);
        }
    }

    private static ChangeSet entry(long ino, String entryName) {
        return new ChangeSet().putInode(file(ino, 1, 0)).putEntry(1, name(entryName), ino);
    }

    /**
     * Ends the writer's sessions on the server, as a network partition or a server-side kill would:
     * the writer connection and the session holding the namespace's lock.
     */
    static void terminateWriter(NamespaceName ns) throws InterruptedException {
        for (String role : new String[] {"writer", "lock"}) {
            String application = "sqlitesuperfs:" + ns + ":" + role;
            Boolean terminated = TestPostgres.query(
                    "SELECT bool_and(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = ?",
                    application);
            assertThat(terminated).as("a %s session to end", role).isTrue();
            long deadline = System.nanoTime() + 30_000_000_000L;
            while (TestPostgres.<Long>query("SELECT count(*) FROM pg_stat_activity WHERE application_name = ?",
                    application) > 0) {
                assertThat(System.nanoTime()).as("%s backend gone in time", role).isLessThan(deadline);
                Thread.sleep(10);
            }
        }
    }
}
