package dev.sqlitesuperfs.store;

import static dev.sqlitesuperfs.store.StoreFixtures.file;
import static dev.sqlitesuperfs.store.StoreFixtures.name;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sqlitesuperfs.testing.TestPostgres;
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

    private static ChangeSet entry(long ino, String entryName) {
        return new ChangeSet().putInode(file(ino, 1, 0)).putEntry(1, name(entryName), ino);
    }

    static void terminateWriter(NamespaceName ns) throws InterruptedException {
        String application = "sqlitesuperfs:" + ns + ":writer";
        Boolean terminated = TestPostgres.query(
                "SELECT bool_and(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = ?", application);
        assertThat(terminated).isTrue();
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (TestPostgres.<Long>query("SELECT count(*) FROM pg_stat_activity WHERE application_name = ?", application) > 0) {
            assertThat(System.nanoTime()).as("writer backend gone in time").isLessThan(deadline);
            Thread.sleep(10);
        }
    }
}
