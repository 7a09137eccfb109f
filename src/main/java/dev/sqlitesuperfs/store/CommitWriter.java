package dev.sqlitesuperfs.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The single writer thread of a store. Callers queue change sets and wait; the thread takes all
 * that is queued (up to {@link #MAX_GROUP_SETS} sets or {@link #MAX_GROUP_BYTES} of payload) and
 * commits them in one transaction, so many concurrent fsyncs cost one PostgreSQL commit.
 *
 * <p>Every transaction first checks, by updating the metadata row with this owner's epoch, that no
 * other process has taken the namespace. Transient failures are retried on a new connection until
 * each caller's retry timeout; a group that fails for a real reason is split so that only the bad
 * change set fails.
 */
final class CommitWriter {

    private static final Logger log = LoggerFactory.getLogger(CommitWriter.class);

    static final int MAX_GROUP_SETS = 64;
    static final long MAX_GROUP_BYTES = 32L << 20;
    private static final long IDLE_POLL_MILLIS = 200;

    private final class Pending {
        final ChangeSet changes;
        final long deadline = System.nanoTime() + retryTimeout.toNanos();
        final CompletableFuture<CommitResult> result = new CompletableFuture<>();

        Pending(ChangeSet changes) {
            this.changes = changes;
        }
    }

    /**
     * The transaction whose commit was sent but not confirmed: its number (see
     * {@link WriterSession#nextCommitNumber()}), the inodes whose block counts it may change, and
     * those counts if the reply came before the commit (a COPY transaction); null otherwise.
     */
    private record InFlight(long number, Set<Long> touched, Map<Long, Long> nblocks) {}

    /** Writes of at least this many new blocks are streamed with COPY before the statement. */
    static final int COPY_MIN_BLOCKS = 64;

    /** How a group's attempt ended, if it did not settle every caller. */
    private record Outcome(SQLException failure) {
        static final Outcome SETTLED = new Outcome(null);
    }

    private final WriterSession session;
    private final NamespaceSql sql;
    private final NamespaceName namespace;
    private final Duration retryTimeout;
    private final BlockingQueue<Pending> queue = new LinkedBlockingQueue<>();
    private final Object admission = new Object();
    private final Thread thread;
    private boolean closing;
    private volatile StoreException.Fenced fenced;
    private InFlight inFlight;
    /** When the writer lost PostgreSQL ({@link System#nanoTime()}), or 0 while connected; for the logs. */
    private long lostSince;

    CommitWriter(WriterSession session, NamespaceName namespace, NamespaceSql sql, Duration retryTimeout) {
        this.session = session;
        this.sql = sql;
        this.namespace = namespace;
        this.retryTimeout = retryTimeout;
        this.thread = Thread.ofPlatform().name("sqlitesuperfs-writer-" + namespace).daemon(true).unstarted(this::loop);
    }

    void start() {
        thread.start();
    }

    /** Queues {@code changes} and waits until they are committed or have failed. */
    CommitResult commit(ChangeSet changes) {
        StoreException.Fenced lost = fenced;
        if (lost != null) {
            throw new StoreException.Fenced(lost.getMessage());
        }
        Pending pending = new Pending(changes);
        synchronized (admission) {
            if (closing) {
                throw new IllegalStateException("the store of namespace " + namespace + " is closed");
            }
            queue.add(pending);
        }
        try {
            return pending.result.join();
        } catch (CompletionException e) {
            // Rethrown as a new exception so that the caller's stack shows where it waited.
            throw rethrowable(e.getCause());
        }
    }

    /** How many commits wait for the writer (for tests that need a group to form). */
    int queued() {
        return queue.size();
    }

    /** Lets queued commits finish, then stops the thread. */
    void close() {
        synchronized (admission) {
            closing = true;
        }
        boolean interrupted = false;
        while (thread.isAlive()) {
            try {
                thread.join();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private void loop() {
        while (true) {
            Pending first;
            try {
                first = queue.poll(IDLE_POLL_MILLIS, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                continue;
            }
            if (first == null) {
                synchronized (admission) {
                    if (closing && queue.isEmpty()) {
                        return;
                    }
                }
                continue;
            }
            List<Pending> group = takeGroup(first);
            try {
                process(group);
            } catch (Throwable t) {
                log.error("Writer of namespace {} failed unexpectedly", namespace, t);
                session.rollbackOrDiscard();
                for (Pending p : group) {
                    p.result.completeExceptionally(new StoreException("commit to namespace " + namespace
                            + " failed unexpectedly: " + t, t));
                }
            }
        }
    }

    private List<Pending> takeGroup(Pending first) {
        List<Pending> group = new ArrayList<>();
        group.add(first);
        long bytes = first.changes.payloadBytes();
        Pending next;
        while (group.size() < MAX_GROUP_SETS && (next = queue.peek()) != null
                && bytes + next.changes.payloadBytes() <= MAX_GROUP_BYTES) {
            group.add(queue.poll());
            bytes += next.changes.payloadBytes();
        }
        return group;
    }

    private void process(List<Pending> group) {
        Outcome outcome = attempt(group);
        if (outcome.failure() == null) {
            return;
        }
        if (group.size() == 1) {
            fail(group.getFirst(), outcome.failure());
            return;
        }
        // Something in the group is bad: give every change set a transaction of its own.
        for (Pending pending : group) {
            Outcome alone = attempt(List.of(pending));
            if (alone.failure() != null) {
                fail(pending, alone.failure());
            }
        }
    }

    private void fail(Pending pending, SQLException failure) {
        pending.result.completeExceptionally(SqlFailures.describe("commit", namespace, failure));
    }

    /**
     * Commits {@code group} in one transaction, retrying transient failures. Settles every caller
     * except when the transaction fails for a non-transient reason, which it returns.
     */
    private Outcome attempt(List<Pending> group) {
        try {
            return attemptUntilSettled(group);
        } finally {
            // Whatever was unsure about this group no longer matters to the next one.
            inFlight = null;
        }
    }

    private Outcome attemptUntilSettled(List<Pending> group) {
        List<Pending> live = new ArrayList<>(group);
        Backoff backoff = new Backoff();
        SQLException lastTransient = null;
        while (true) {
            if (fenced != null) {
                settleFenced(live);
                return Outcome.SETTLED;
            }
            if (lastTransient != null && expireOverdue(live, lastTransient)) {
                return Outcome.SETTLED;
            }
            try {
                if (!session.isConnected()) {
                    long lastCommit = session.reconnect();
                    if (lostSince != 0) {
                        log.info("Writer of namespace {} reconnected to PostgreSQL after {} ms", namespace,
                                (System.nanoTime() - lostSince) / 1_000_000);
                        lostSince = 0;
                    }
                    InFlight unsure = inFlight;
                    inFlight = null;
                    if (unsure != null && unsure.number() == lastCommit) {
                        // The commit went through before the connection broke: do not apply it twice.
                        CommitResult result = new CommitResult(unsure.nblocks() != null ? unsure.nblocks()
                                : storedBlockCounts(unsure.touched()));
                        for (Pending p : live) {
                            p.result.complete(result);
                        }
                        return Outcome.SETTLED;
                    }
                }
                CommitResult result = transaction(live);
                for (Pending p : live) {
                    p.result.complete(result);
                }
                return Outcome.SETTLED;
            } catch (StoreException.Fenced e) {
                fence(e);
                settleFenced(live);
                return Outcome.SETTLED;
            } catch (SQLException e) {
                if (SqlFailures.isTransient(e) || !session.isConnected() || connectionClosed()) {
                    log.debug("Writer of namespace {}: transient failure (SQLState {}): {}", namespace,
                            e.getSQLState(), e.getMessage());
                    lastTransient = e;
                    if (SqlFailures.isTransactionConflict(e) && !connectionClosed()) {
                        // The session is fine: keep it, and with it the namespace lock.
                        session.rollbackOrDiscard();
                    } else {
                        if (lostSince == 0) {
                            lostSince = System.nanoTime();
                            log.warn("Writer of namespace {} lost PostgreSQL (SQLState {}); reconnecting",
                                    namespace, e.getSQLState());
                        }
                        session.discard();
                    }
                    backoff.pause(earliestDeadline(live));
                    continue;
                }
                session.rollbackOrDiscard();
                return new Outcome(e);
            }
        }
    }

    /**
     * The group's transaction: its net changes in one statement, in auto-commit mode (one round
     * trip), or, for a large write, COPY of the new blocks and then the statement in an explicit
     * transaction. The caller completes the results once it returns.
     */
    private CommitResult transaction(List<Pending> live) throws SQLException {
        List<ChangeSet> sets = new ArrayList<>(live.size());
        for (Pending p : live) {
            sets.add(p.changes);
        }
        NetChanges net = NetChanges.of(sets);
        if (net.isEmpty()) {
            return CommitResult.EMPTY;
        }
        WriterStatements statements = session.statements();
        long number = session.nextCommitNumber();
        Map<Long, Long> nblocks;
        try {
            if (net.knownNewBlockCount() >= COPY_MIN_BLOCKS) {
                nblocks = copyTransaction(statements, number, net);
            } else {
                inFlight = new InFlight(number, net.touchedInodes(), null);
                nblocks = ApplyStatement.run(statements.applyChanges, number, session.epoch(), net, Map.of());
            }
        } catch (StoreException.Fenced e) {
            // Keeping the lock would block the process that owns the namespace now.
            session.discard();
            throw new StoreException.Fenced("namespace " + namespace + " is now owned by another mount"
                    + " (its owner epoch changed)");
        }
        inFlight = null;
        return new CommitResult(nblocks);
    }

    private Map<Long, Long> copyTransaction(WriterStatements statements, long number, NetChanges net)
            throws SQLException {
        Connection connection = session.connection();
        connection.setAutoCommit(false);
        boolean done = false;
        try {
            Set<Long> touched = net.touchedInodes();
            Map<Long, Long> copied = BlockCopy.copy(connection, sql.copyBlocks, net.takeKnownNewBlocks());
            Map<Long, Long> nblocks = ApplyStatement.run(statements.applyChanges, number, session.epoch(), net, copied);
            inFlight = new InFlight(number, touched, nblocks);
            connection.commit();
            connection.setAutoCommit(true);
            done = true;
            return nblocks;
        } finally {
            if (!done) {
                session.rollbackOrDiscard();
                if (session.isConnected()) {
                    try {
                        session.connection().setAutoCommit(true);
                    } catch (SQLException e) {
                        session.discard();
                    }
                }
            }
        }
    }

    /** After a reconnect: the stored block counts of the inodes a committed transaction touched. */
    private Map<Long, Long> storedBlockCounts(Set<Long> inodes) throws SQLException {
        PreparedStatement query = session.statements().nblocksOf;
        query.setObject(1, inodes.stream().mapToLong(Long::longValue).toArray());
        Map<Long, Long> counts = new HashMap<>();
        try (ResultSet rows = query.executeQuery()) {
            while (rows.next()) {
                counts.put(rows.getLong(1), rows.getLong(2));
            }
        }
        return counts;
    }

    private boolean connectionClosed() {
        try {
            return session.connection().isClosed();
        } catch (SQLException | IllegalStateException e) {
            return true;
        }
    }

    /** Fails the callers whose retry timeout has passed; true when none is left. */
    private boolean expireOverdue(List<Pending> live, SQLException cause) {
        long now = System.nanoTime();
        int before = live.size();
        live.removeIf(p -> {
            if (now - p.deadline < 0) {
                return false;
            }
            p.result.completeExceptionally(new StoreException.Unavailable("commit to namespace " + namespace
                    + " failed: PostgreSQL unavailable for longer than " + retryTimeout.toSeconds() + " s", cause));
            return true;
        });
        if (live.size() < before) {
            log.warn("{} commit(s) to namespace {} failed: PostgreSQL unavailable for longer than {} s;"
                    + " the writer keeps trying for later ones", before - live.size(), namespace, retryTimeout.toSeconds());
        }
        return live.isEmpty();
    }

    private long earliestDeadline(List<Pending> live) {
        long earliest = live.getFirst().deadline;
        for (Pending p : live) {
            if (p.deadline - earliest < 0) {
                earliest = p.deadline;
            }
        }
        return earliest;
    }

    private void fence(StoreException.Fenced e) {
        if (fenced == null) {
            fenced = e;
            log.error("Namespace {} is fenced: {}. This process will not write to it again", namespace, e.getMessage());
        }
    }

    private void settleFenced(List<Pending> live) {
        for (Pending p : live) {
            p.result.completeExceptionally(new StoreException.Fenced(fenced.getMessage()));
        }
    }

    private static RuntimeException rethrowable(Throwable cause) {
        return switch (cause) {
            case StoreException.Fenced f -> new StoreException.Fenced(f.getMessage());
            case StoreException.Unavailable u -> new StoreException.Unavailable(u.getMessage(), u.getCause());
            case StoreException s -> new StoreException(s.getMessage(), s);
            case RuntimeException r -> r;
            default -> new StoreException("commit failed: " + cause, cause);
        };
    }
}
