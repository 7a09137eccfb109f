package dev.sqlitesuperfs.store;

import static dev.sqlitesuperfs.store.StoreFixtures.dir;
import static dev.sqlitesuperfs.store.StoreFixtures.file;
import static dev.sqlitesuperfs.store.StoreFixtures.meta;
import static dev.sqlitesuperfs.store.StoreFixtures.name;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sqlitesuperfs.testing.TestPostgres;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/**
 * Many namespaces over one server's connections, as a host opens them: however many namespaces,
 * the process holds the lock session, its lanes and its read pool, and the namespaces commit
 * concurrently without mixing their rows; a namespace open on one server is busy for another.
 */
class PgServerTest {
    static final int NAMESPACES = 24;
    static final int COMMITS = 20;

    @Test
    void manyNamespacesCommitConcurrentlyOverBoundedConnections() throws Exception {
        DatabaseConfig config = TestPostgres.config().withApplicationName("ssfs-servertest");
        List<PgNamespaceStore> stores = new ArrayList<>();
        try (PgServer server = PgServer.shared(config, 2, true, 3, 0)) {
            for (int i = 0; i < NAMESPACES; i++) {
                PgNamespaceStore store = server.open(NamespaceName.parse(TestPostgres.freshNamespace()), false);
                stores.add(store);
                store.create(meta(), dir(1, 2));
                store.startWriting();
            }
            ExecutorService pool = Executors.newFixedThreadPool(8);
            try {
                List<Future<?>> done = new ArrayList<>();
                for (PgNamespaceStore store : stores) {
                    done.add(pool.submit(() -> {
                        for (int c = 0; c < COMMITS; c++) {
                            long ino = 2 + c;
                            store.commit(new ChangeSet().putInode(file(ino, 1, 0))
                                    .putEntry(1, name(store.namespace().value() + "-" + c), ino));
                        }
                        return null;
                    }));
                }
                for (Future<?> f : done) {
                    f.get();
                }
            } finally {
                pool.shutdown();
            }
            for (PgNamespaceStore store : stores) {
                assertThat(store.entries(1)).hasSize(COMMITS)
                        .allSatisfy(e -> assertThat(new String(e.name())).startsWith(store.namespace().value() + "-"));
                assertThat(store.check()).isEmpty();
            }
            long connections = TestPostgres.<Long>query(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'ssfs-servertest%'");
            assertThat(connections).as("connections of %d namespaces", NAMESPACES)
                    .isLessThanOrEqualTo(server.maxConnections()).isGreaterThanOrEqualTo(1 + 2);
            for (PgNamespaceStore store : stores) {
                store.close();
            }
        }
        assertThat(TestPostgres.<Long>query(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'ssfs-servertest%'"))
                .as("every connection closed with the server").isZero();
    }

    @Test
    void aNamespaceOpenOnOneServerIsBusyForAnotherUntilItIsClosed() {
        NamespaceName ns = NamespaceName.parse(TestPostgres.freshNamespace());
        try (PgServer first = PgServer.shared(TestPostgres.config(), 1, false, 1, 0);
             PgServer second = PgServer.shared(TestPostgres.config(), 1, false, 1, 0)) {
            PgNamespaceStore store = first.open(ns, false);
            store.create(meta(), dir(1, 2));
            store.startWriting();
            assertThatThrownBy(() -> second.open(ns, true)).isInstanceOf(StoreException.NamespaceBusy.class);
            assertThatThrownBy(() -> PgNamespaceStore.open(TestPostgres.config(), ns, true))
                    .isInstanceOf(StoreException.NamespaceBusy.class);
            PgNamespaceStore other = first.open(NamespaceName.parse(TestPostgres.freshNamespace()), false);
            other.close();
            assertThatThrownBy(() -> second.open(ns, true)).as("closing a neighbour keeps this one's lock")
                    .isInstanceOf(StoreException.NamespaceBusy.class);
            store.close();
            try (PgNamespaceStore again = second.open(ns, false)) {
                again.startWriting();
                again.commit(new ChangeSet().putInode(file(2, 1, 0)).putEntry(1, name("from-second"), 2));
            }
        }
    }
}
