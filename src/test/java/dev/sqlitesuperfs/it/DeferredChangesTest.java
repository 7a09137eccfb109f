package dev.sqlitesuperfs.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.testing.Posix;
import dev.sqlitesuperfs.testing.TestMount;
import dev.sqlitesuperfs.testing.TestPostgres;
import dev.sqlitesuperfs.testing.TransactionCountingProxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * What reaches PostgreSQL when: creations, plain closes and truncations wait for the next fsync
 * (or the write-back delay) and then go in order with it; removing what was stored is durable at
 * once; what was created and removed again before any fsync never reaches storage at all.
 */
class DeferredChangesTest {

    private static final byte[] BLOCK_OF_X = filled(4096, 'x');

    @Test
    void creationsWaitForTheNextSyncAndThenAllGoTogether() throws Exception {
        try (TestMount mount = TestMount.fresh("--writeback-delay", "3600")) {
            for (int i = 0; i < 50; i++) {
                Files.createFile(mount.path("f" + i));
            }
            Files.createDirectory(mount.path("d"));
            assertThat(storedEntries(mount)).as("entries stored before any sync").isZero();
            syncDirectory(mount.root());
            assertThat(storedEntries(mount)).isEqualTo(51);
        }
    }

    @Test
    void closeStoresNothingButFsyncStoresTheDataAndEverythingBefore() throws Exception {
        try (TestMount mount = TestMount.fresh("--writeback-delay", "3600")) {
            Path first = mount.path("first");
            Files.write(first, BLOCK_OF_X);
            Path second = mount.path("second");
            int fd = Posix.open(second, Posix.O_WRONLY | Posix.O_CREAT, 0644);
            try {
                Posix.write(fd, BLOCK_OF_X);
                assertThat(storedEntries(mount)).isZero();
                Posix.fsync(fd);
            } finally {
                Posix.close(fd);
            }
            // fsync of the second file stored it and what came before it (the first's name); the
            // first file's data waits for its own fsync or the write-back delay
            assertThat(storedEntries(mount)).isEqualTo(2);
            assertThat(storedBlocks(mount, Posix.lstat(second).ino())).isEqualTo(1);
            assertThat(storedBlocks(mount, Posix.lstat(first).ino())).isZero();
            mount.remount();
            assertThat(Files.readAllBytes(first)).isEqualTo(BLOCK_OF_X);
            assertThat(Files.readAllBytes(second)).isEqualTo(BLOCK_OF_X);
        }
    }

    @Test
    void theWriteBackDelayStoresWhatNobodySynced() throws Exception {
        try (TestMount mount = TestMount.fresh("--writeback-delay", "1")) {
            Path f = mount.path("unsynced");
            Files.write(f, BLOCK_OF_X);
            long ino = Posix.lstat(f).ino();
            long deadline = System.nanoTime() + 30_000_000_000L;
            while (storedBlocks(mount, ino) == 0 && System.nanoTime() < deadline) {
                Thread.sleep(200);
            }
            assertThat(storedEntries(mount)).isEqualTo(1);
            assertThat(storedBlocks(mount, ino)).isEqualTo(1);
        }
    }

    /**
     * The writer's transactions are counted by a proxy between the mount and PostgreSQL, exactly
     * and at once, not by pg_stat_database: the server reports those counts up to 10 s late (later
     * on a busy machine) and adds autovacuum's own transactions to them. Only the writer's count:
     * what the read pool does (a lookup of an inode the kernel still names, a reservation of inode
     * numbers) stores nothing, and when it happens depends on the kernel and the machine's load.
     */
    @Test
    void removingAStoredFileIsDurableAtOnceAndRemovingAnUnstoredOneNeverReachesStorage() throws Exception {
        try (TransactionCountingProxy proxy = new TransactionCountingProxy(TestPostgres.server().port());
             TestMount mount = TestMount.freshIn(proxy.config(TestPostgres.config()), "--writeback-delay", "3600")) {
            Path stored = mount.path("stored");
            Files.write(stored, BLOCK_OF_X);
            syncFile(stored);
            long beforeRemoval = proxy.writerTransactions();
            long seenBeforeRemoval = proxy.transactions();
            Files.delete(stored);
            assertThat(proxy.writerTransactions() - beforeRemoval)
                    .as("stored transactions of the removal of a stored name; all: %s", proxy.since(seenBeforeRemoval))
                    .isEqualTo(1);
            assertThat(storedEntries(mount)).as("a removal of a stored name is stored before unlink returns").isZero();

            long before = proxy.writerTransactions();
            long seenBefore = proxy.transactions();
            for (int i = 0; i < 20; i++) {
                Path temp = mount.path("temp" + i);
                long released = mount.requestCounts().of("RELEASE");
                Files.write(temp, BLOCK_OF_X);
                // close(2) returns before the kernel's RELEASE reaches the mount: a file the mount
                // still sees open keeps its row, which takes its written data along (a commit)
                long deadline = System.nanoTime() + 30_000_000_000L;
                while (mount.requestCounts().of("RELEASE") == released && System.nanoTime() < deadline) {
                    Thread.sleep(1);
                }
                Files.delete(temp);
            }
            Files.createDirectory(mount.path("kept"));
            syncDirectory(mount.root());
            assertThat(proxy.writerTransactions() - before)
                    .as("the sync's one transaction; all: %s", proxy.since(seenBefore)).isEqualTo(1);
            assertThat(storedEntries(mount)).isEqualTo(1);
            assertThat(TestPostgres.queryLong("SELECT count(*) FROM \"" + mount.namespace() + "\".inodes"))
                    .as("root and kept").isEqualTo(2);
            assertThat(TestPostgres.queryLong("SELECT count(*) FROM \"" + mount.namespace() + "\".blocks"))
                    .as("no block of the removed files").isZero();
        }
    }

    @Test
    void aTruncationIsStoredWithTheNextFsyncAndNeverShowsTheCutBytesAgain() throws Exception {
        try (TestMount mount = TestMount.fresh("--writeback-delay", "3600")) {
            Path f = mount.path("f");
            Files.write(f, filled(3 * 4096, 'a'));
            syncFile(f);
            long ino = Posix.lstat(f).ino();
            Posix.truncate(f, 10);
            assertThat(storedSize(mount, ino)).as("not stored before fsync").isEqualTo(3 * 4096);
            Posix.truncate(f, 8192);
            byte[] expected = new byte[8192];
            Arrays.fill(expected, 0, 10, (byte) 'a');
            assertThat(Files.readAllBytes(f)).isEqualTo(expected);
            syncFile(f);
            assertThat(storedSize(mount, ino)).isEqualTo(8192);
            assertThat(storedBlocks(mount, ino)).as("the cut first block; the rest is a hole").isEqualTo(1);
            mount.remount();
            assertThat(Files.readAllBytes(f)).isEqualTo(expected);
        }
    }

    private static long storedEntries(TestMount mount) {
        return TestPostgres.queryLong("SELECT count(*) FROM \"" + mount.namespace() + "\".dirents");
    }

    private static long storedBlocks(TestMount mount, long ino) {
        return TestPostgres.queryLong("SELECT count(*) FROM \"" + mount.namespace() + "\".blocks WHERE ino = ?", ino);
    }

    private static long storedSize(TestMount mount, long ino) {
        return TestPostgres.queryLong("SELECT size FROM \"" + mount.namespace() + "\".inodes WHERE ino = ?", ino);
    }

    private static void syncFile(Path f) {
        int fd = Posix.open(f, Posix.O_RDONLY, 0);
        try {
            Posix.fsync(fd);
        } finally {
            Posix.close(fd);
        }
    }

    private static void syncDirectory(Path dir) {
        int fd = Posix.open(dir, Posix.O_RDONLY | Posix.O_DIRECTORY, 0);
        try {
            Posix.fsync(fd);
        } finally {
            Posix.close(fd);
        }
    }

    private static byte[] filled(int length, char c) {
        byte[] b = new byte[length];
        Arrays.fill(b, (byte) c);
        return b;
    }
}
