package dev.sqlitesuperfs.store;

import static dev.sqlitesuperfs.store.StoreFixtures.file;
import static dev.sqlitesuperfs.store.StoreFixtures.name;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sqlitesuperfs.localpg.LocalPostgres;
import dev.sqlitesuperfs.localpg.StopMode;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A server of its own, since these tests stop and restart it. */
class StoreOutageTest {

    @TempDir
    static Path stateDir;
    static LocalPostgres server;

    @BeforeAll
    static void startServer() {
        server = LocalPostgres.start(stateDir);
    }

    @AfterAll
    static void stopServer() {
        server.stopServer(StopMode.FAST);
        server.release();
    }

    @Test
    void commitsThatReturnedSurviveServerCrashesAndTheStoreKeepsWorking() throws Exception {
        try (PgNamespaceStore store = StoreFixtures.createdStore(server.config())) {
            Set<Long> committed = ConcurrentHashMap.newKeySet();
            List<Throwable> failures = new CopyOnWriteArrayList<>();
            AtomicBoolean stop = new AtomicBoolean();
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                long base = 2 + t * 1_000_000L;
                threads.add(Thread.ofPlatform().start(() -> {
                    for (long ino = base; !stop.get(); ino++) {
                        try {
                            // Plain block inserts: a commit applied twice would fail on the primary key.
                            store.commit(new ChangeSet().putInode(file(ino, 1, 100)).putEntry(1, name("f" + ino), ino)
                                    .putBlocks(ino, 0, List.of(StoreFixtures.block(ino, 0, 1))));
                            committed.add(ino);
                        } catch (Throwable e) {
                            failures.add(e);
                        }
                    }
                }));
            }
            threads.add(Thread.ofPlatform().start(() -> {
                while (!stop.get()) {
                    try {
                        store.inode(1).orElseThrow();
                    } catch (Throwable e) {
                        failures.add(e);
                    }
                }
            }));

            awaitCommits(committed, 100);
            server.stopServer(StopMode.IMMEDIATE);
            server.startServer();
            awaitCommits(committed, committed.size() + 100);
            // The other kind of outage: every backend killed under a running server.
            try (Connection admin = server.config().withApplicationName("admin").dataSource("").getConnection();
                 Statement statement = admin.createStatement()) {
                statement.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        + " WHERE application_name LIKE 'sqlitesuperfs:%'");
            }
            awaitCommits(committed, committed.size() + 100);
            stop.set(true);
            for (Thread thread : threads) {
                thread.join();
            }

            assertThat(failures).isEmpty();
            List<Long> stored = store.entries(1).stream().map(DirEntryRecord::ino).toList();
            assertThat(stored).containsAll(committed);
            for (long ino : committed) {
                assertThat(store.blocks(ino, 0, 1)).hasSize(1);
            }
            assertThat(store.check()).isEmpty();
            store.commit(new ChangeSet().putInode(file(9, 1, 0)).putEntry(1, name("after"), 9));
            assertThat(store.inode(9)).isPresent();
        }
    }

    @Test
    void callsFailAsUnavailableWhileTheServerStaysDownAndWorkAgainWhenItReturns() {
        DatabaseConfig config = server.config().withRetryTimeout(Duration.ofSeconds(2));
        try (PgNamespaceStore store = StoreFixtures.createdStore(config)) {
            store.commit(new ChangeSet().putInode(file(2, 1, 0)).putEntry(1, name("before"), 2));
            server.stopServer(StopMode.FAST);
            try {
                assertThatThrownBy(() -> store.commit(new ChangeSet().putInode(file(3, 1, 0)).putEntry(1, name("down"), 3)))
                        .isInstanceOf(StoreException.Unavailable.class)
                        .hasMessageContaining("unavailable for longer than 2 s");
                assertThatThrownBy(() -> store.inode(2))
                        .isInstanceOf(StoreException.Unavailable.class)
                        .hasMessageContaining("unavailable for longer than 2 s");
            } finally {
                server.startServer();
            }
            store.commit(new ChangeSet().putInode(file(4, 1, 0)).putEntry(1, name("after"), 4));
            // The same store works again, without being opened anew; its read pool may need more
            // than its 2 s timeout to connect again on a busy machine, so a read is tried until it does.
            assertThat(onceServing(() -> store.entries(1))).extracting(e -> new String(e.name()))
                    .containsExactly("after", "before");
            assertThat(store.check()).isEmpty();
        }
    }

    /** {@code read}'s result once it stops failing as unavailable (for at most two minutes). */
    private static <T> T onceServing(java.util.function.Supplier<T> read) {
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        while (true) {
            try {
                return read.get();
            } catch (StoreException.Unavailable e) {
                assertThat(System.nanoTime()).as("serving again: %s", e.getMessage()).isLessThan(deadline);
            }
        }
    }

    private static void awaitCommits(Set<Long> committed, int atLeast) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
        while (committed.size() < atLeast) {
            assertThat(System.nanoTime()).as("commits keep landing").isLessThan(deadline);
            Thread.sleep(10);
        }
    }
}
