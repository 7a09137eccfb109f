package dev.sqlitesuperfs.fs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sqlitesuperfs.fuse.Errno;
import dev.sqlitesuperfs.fuse.FileLock;
import dev.sqlitesuperfs.fuse.FuseException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The locks of a follower and the gate between readers' transactions and steps to newer commits. */
class PosixLocksTest {
    private static final long DB = 2;
    private static final long SHM = 5;
    private static final long PENDING = 0x40000000L;

    private final PosixLocks locks = new PosixLocks();
    /** Threads of their own: both tasks below block, which a shared pool of one thread would not run side by side. */
    private final ExecutorService threads = Executors.newCachedThreadPool();

    @AfterEach
    void stopThreads() {
        threads.shutdownNow();
    }

    private static FileLock read(long start, long end) {
        return new FileLock(start, end, FileLock.READ, 7);
    }

    private static FileLock unlock(long start, long end) {
        return new FileLock(start, end, FileLock.UNLOCK, 7);
    }

    @Test
    void aTransactionLastsFromTheFirstLockToTheLastUnlockOfItsRanges() throws Exception {
        // SQLite's SHARED lock in rollback-journal modes: PENDING, then the shared range, PENDING let go
        locks.set(DB, 1, read(PENDING, PENDING), true);
        locks.set(DB, 1, read(PENDING + 2, PENDING + 511), true);
        locks.set(DB, 1, unlock(PENDING, PENDING), true);
        assertThat(locks.inTransaction()).isTrue();
        // an unlock in the middle splits the range; what is left still counts
        locks.set(DB, 1, unlock(PENDING + 100, PENDING + 100), true);
        assertThat(locks.inTransaction()).isTrue();
        locks.set(DB, 1, unlock(0, FileLock.TO_END), true);
        assertThat(locks.inTransaction()).isFalse();
    }

    @Test
    void locksOnAWalDatabaseDoNotCountAndCloseLetsGo() throws Exception {
        locks.set(DB, 1, read(PENDING + 2, PENDING + 511), false);
        assertThat(locks.inTransaction()).isFalse();
        locks.set(SHM, 1, read(123, 123), true);
        assertThat(locks.inTransaction()).isTrue();
        locks.releaseAll(SHM, 1);
        assertThat(locks.inTransaction()).isFalse();
    }

    @Test
    void aStepWaitsForTransactionsAndHoldsNewOnesBackUntilItEnds() throws Exception {
        locks.set(SHM, 1, read(123, 123), true);
        CompletableFuture<Boolean> step = CompletableFuture.supplyAsync(() -> locks.awaitQuiet(() -> false), threads);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!locks.stepping() && System.nanoTime() < deadline) {
            Thread.onSpinWait();
        }
        assertThat(locks.stepping()).isTrue();
        // an owner inside a transaction goes on; one starting a transaction waits for the step
        locks.set(DB, 1, read(PENDING + 2, PENDING + 511), true);
        CompletableFuture<Void> starting = CompletableFuture.runAsync(() -> {
            try {
                locks.set(SHM, 2, read(123, 123), true);
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        }, threads);
        assertThat(step).isNotDone();
        locks.releaseAll(SHM, 1);
        locks.releaseAll(DB, 1);
        assertThat(step.get(10, TimeUnit.SECONDS)).isTrue();
        assertThat(locks.inTransaction()).isFalse();
        assertThat(starting).isNotDone();
        locks.reopen(false);
        starting.get(10, TimeUnit.SECONDS);
        assertThat(locks.inTransaction()).isTrue();
    }

    @Test
    void noTransactionStartsOverAHotJournal() {
        locks.reopen(true);
        long started = System.nanoTime();
        assertThatThrownBy(() -> locks.set(DB, 3, read(PENDING, PENDING), true))
                .isInstanceOfSatisfying(FuseException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EAGAIN));
        assertThat(System.nanoTime() - started).as("waited for a better state first")
                .isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(PosixLocks.START_WAIT_MILLIS));
    }

    @Test
    void aTestReportsOnlyLocksInTheWay() throws Exception {
        locks.set(SHM, 1, read(120, 127), true);
        assertThat(locks.test(SHM, 2, read(123, 123)).type()).isEqualTo(FileLock.UNLOCK);
        FileLock found = locks.test(SHM, 2, new FileLock(128, 128, FileLock.WRITE, 9));
        assertThat(found.type()).as("nothing on the DMS byte").isEqualTo(FileLock.UNLOCK);
        found = locks.test(SHM, 2, new FileLock(125, 130, FileLock.WRITE, 9));
        assertThat(found).isEqualTo(new FileLock(120, 127, FileLock.READ, 7));
        assertThat(locks.test(SHM, 1, new FileLock(125, 130, FileLock.WRITE, 9)).type())
                .as("an owner's own locks are never in its way").isEqualTo(FileLock.UNLOCK);
    }
}
