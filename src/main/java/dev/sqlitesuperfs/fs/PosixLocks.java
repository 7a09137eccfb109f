package dev.sqlitesuperfs.fs;

import dev.sqlitesuperfs.fuse.Errno;
import dev.sqlitesuperfs.fuse.FileLock;
import dev.sqlitesuperfs.fuse.FuseException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The POSIX locks of a read-only mount that follows its namespace's writer, and the gate that
 * keeps a step to a newer commit out of every reader's transaction.
 *
 * <p>SQLite marks its read transactions with locks: in rollback-journal modes a SHARED lock on the
 * database file, taken at the start and let go at the end; in WAL mode, on a read-only mount, a
 * read lock on a byte of the {@code -shm} file (WAL_READ_LOCK(0)) for each transaction, while the
 * database file's SHARED lock stays for the connection's whole life. So a lock counts as a
 * transaction unless it is on a database file in WAL mode ({@code counts} false). A step to a newer
 * commit waits until no counting lock is held ({@link #awaitQuiet}); while it waits or runs, and
 * while the state served holds a hot rollback journal or a half-rewritten WAL (a writer's
 * transaction half stored), an
 * owner that holds no counting lock cannot take one: its request waits (at most
 * {@link #START_WAIT_MILLIS}, then EAGAIN, which SQLite reports as SQLITE_BUSY and its busy
 * handler retries). Owners already inside a transaction are never held up, so a step cannot
 * deadlock with a reader.
 *
 * <p>On a read-only mount every lock is a read lock (a write lock needs a descriptor open for
 * writing, which the kernel refuses before asking), so locks never conflict; write locks are
 * still answered correctly.
 */
final class PosixLocks {
    static final long START_WAIT_MILLIS = 2_000;

    private record Key(long ino, long owner) {}

    /** One owner's locks on one file: disjoint ranges {start, end (inclusive), type}. */
    private static final class Held {
        final List<long[]> ranges = new ArrayList<>();
        int pid;
        boolean counts;
    }

    private final Map<Key, Held> held = new HashMap<>();
    /** Per owner, how many files it holds counting locks on. */
    private final Map<Long, Integer> transactions = new HashMap<>();
    private boolean stepping;
    private boolean unsafeState;

    synchronized FileLock test(long ino, long owner, FileLock wanted) {
        for (Map.Entry<Key, Held> e : held.entrySet()) {
            if (e.getKey().ino() != ino || e.getKey().owner() == owner) {
                continue;
            }
            for (long[] r : e.getValue().ranges) {
                boolean overlaps = r[0] <= wanted.end() && wanted.start() <= r[1];
                if (overlaps && (wanted.type() == FileLock.WRITE || r[2] == FileLock.WRITE)) {
                    return new FileLock(r[0], r[1], (int) r[2], e.getValue().pid);
                }
            }
        }
        return FileLock.none(wanted.start(), wanted.end());
    }

    /**
     * Takes or lets go of a lock. {@code counts}: whether a lock on this file marks a transaction
     * (see the class comment).
     */
    synchronized void set(long ino, long owner, FileLock lock, boolean counts) throws InterruptedException {
        Key key = new Key(ino, owner);
        if (lock.type() == FileLock.UNLOCK) {
            Held h = held.get(key);
            if (h != null) {
                subtract(h.ranges, lock.start(), lock.end());
                if (h.ranges.isEmpty()) {
                    drop(key, h);
                }
            }
            return;
        }
        if (test(ino, owner, lock).type() != FileLock.UNLOCK) {
            throw new FuseException(Errno.EAGAIN);
        }
        if (counts && !transactions.containsKey(owner)) {
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(START_WAIT_MILLIS);
            while (stepping || unsafeState) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new FuseException(Errno.EAGAIN);
                }
                TimeUnit.NANOSECONDS.timedWait(this, left);
            }
        }
        Held h = held.computeIfAbsent(key, k -> new Held());
        subtract(h.ranges, lock.start(), lock.end());
        h.ranges.add(new long[] {lock.start(), lock.end(), lock.type()});
        h.pid = lock.pid();
        if (counts && !h.counts) {
            h.counts = true;
            transactions.merge(owner, 1, Integer::sum);
        }
    }

    /** Lets go of every lock {@code owner} holds on {@code ino} (a descriptor of it was closed). */
    synchronized void releaseAll(long ino, long owner) {
        Key key = new Key(ino, owner);
        Held h = held.get(key);
        if (h != null) {
            drop(key, h);
        }
    }

    private void drop(Key key, Held h) {
        held.remove(key);
        if (h.counts) {
            transactions.computeIfPresent(key.owner(), (o, n) -> n == 1 ? null : n - 1);
            if (transactions.isEmpty()) {
                notifyAll();
            }
        }
    }

    /**
     * Closes the gate to new transactions and waits until none is in progress. Returns false
     * (gate open again) if {@code stop} was set or the thread interrupted meanwhile.
     */
    synchronized boolean awaitQuiet(java.util.function.BooleanSupplier stop) {
        stepping = true;
        try {
            while (!transactions.isEmpty()) {
                if (stop.getAsBoolean()) {
                    reopen(unsafeState);
                    return false;
                }
                wait(100);
            }
            return true;
        } catch (InterruptedException e) {
            reopen(unsafeState);
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** The step is done: new transactions may start, unless the state now served has a hot journal. */
    synchronized void reopen(boolean unsafeState) {
        this.unsafeState = unsafeState;
        stepping = false;
        notifyAll();
    }

    /** Whether a step waits or runs (tests). */
    synchronized boolean stepping() {
        return stepping;
    }

    /** Whether any owner holds a lock that marks a transaction (tests, status). */
    synchronized boolean inTransaction() {
        return !transactions.isEmpty();
    }

    /** Removes {@code [start, end]} from disjoint {@code ranges}, splitting a range it cuts through. */
    private static void subtract(List<long[]> ranges, long start, long end) {
        List<long[]> pieces = new ArrayList<>();
        for (Iterator<long[]> it = ranges.iterator(); it.hasNext(); ) {
            long[] r = it.next();
            if (r[1] < start || end < r[0]) {
                continue;
            }
            it.remove();
            if (r[0] < start) {
                pieces.add(new long[] {r[0], start - 1, r[2]});
            }
            if (end < r[1]) {
                pieces.add(new long[] {end + 1, r[1], r[2]});
            }
        }
        ranges.addAll(pieces);
    }
}
