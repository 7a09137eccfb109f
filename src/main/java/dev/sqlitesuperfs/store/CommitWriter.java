package dev.sqlitesuperfs.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one writer of a store. Callers queue change sets; one of them at a time becomes the leader
 * and commits all that is queued (up to {@link #MAX_GROUP_SETS} sets or {@link #MAX_GROUP_BYTES}
 * of payload) in one transaction, so many concurrent fsyncs cost one PostgreSQL commit, while a
 * lone caller commits in its own thread, without handing over to another one and back.
 *
 * <p>Deferred change sets join the same queue, in order, but nobody waits for them: they go to
 * PostgreSQL with the next commit that somebody waits for (or a flush), never after a later change.
 * So storage always holds a prefix of the changes in the order they were made.
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

    /**
     * Changes waiting in the queue: a commit that a caller waits for, or deferred changes that ride
     * with the next commit (or a flush). Deferred ones have no deadline: they wait as long as it
     * takes, at the head of the queue.
     */
    private final class Pending implements NamespaceStore.Deferred {
        final ChangeSet changes;
        final boolean deferred;
        final long deadline;
        final CompletableFuture<CommitResult> result = new CompletableFuture<>();
        /** Taken into a transaction (guarded by {@link #admission}); it may be stored from then on. */
        boolean taken;

        Pending(ChangeSet changes, boolean deferred) {
            this.changes = changes;
            this.deferred = deferred;
            this.deadline = deferred ? Long.MAX_VALUE : System.nanoTime() + retryTimeout.toNanos();
        }

        @Override
        public CompletableFuture<?> stored() {
            return result;
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
    /** Commits and deferred changes in the order they were made (guarded by {@link #admission}). */
    private final ArrayDeque<Pending> queue = new ArrayDeque<>();
    private final StoreMetrics metrics;
    /** How many entries of {@link #queue} a caller waits for (guarded by {@link #admission}). */
    private int waitedFor;
    /** System.nanoTime() when the oldest deferred entry in the queue arrived, or 0 (guarded). */
    private long deferredSince;
    private final ReentrantLock admission = new ReentrantLock();
    private final Condition work = admission.newCondition();
    /** Whether a caller is committing a group now (guarded by {@link #admission}). */
    private boolean leading;
    private boolean closing;
    /** Set by {@link #close()}: how long deferred changes are still retried (System.nanoTime()). */
    private volatile long closeDeadline;
    private volatile StoreException.Fenced fenced;
    private InFlight inFlight;
    /** A commit of an earlier group whose outcome stayed unknown (see {@link #attempt}). */
    private InFlight inDoubt;
    /** The last refusal of a server that lacks confirmed commits, logged once until a reconnect works. */
    private String behind;
    /** When the writer lost PostgreSQL ({@link System#nanoTime()}), or 0 while connected; for the logs. */
    private long lostSince;

    CommitWriter(WriterSession session, NamespaceName namespace, NamespaceSql sql, Duration retryTimeout, StoreMetrics metrics) {
        this.session = session;
        this.metrics = metrics;
        this.sql = sql;
        this.namespace = namespace;
        this.retryTimeout = retryTimeout;
    }

    /**
     * Queues {@code changes} and waits until they are committed, together with every change
     * deferred before them, or have failed. While no other caller is committing, this one leads:
     * it takes the queue's head as a group and commits it, until its own changes are done.
     */
    CommitResult commit(ChangeSet changes) {
        Pending pending = enqueue(changes, false);
        while (!pending.result.isDone()) {
            List<Pending> group = leadOrWait(pending);
            if (group != null) {
                commitAsLeader(group);
            }
        }
        try {
            return metrics.committed(pending.result.join());
        } catch (CompletionException e) {
            // Rethrown as a new exception so that the caller's stack shows where it waited.
            throw StoreException.rethrownHere(e.getCause());
        }
    }

    /** Queues {@code changes} to be committed with the next commit or flush, in order; see {@link NamespaceStore#defer}. */
    NamespaceStore.Deferred defer(ChangeSet changes) {
        return enqueue(changes, true);
    }

    /** See {@link NamespaceStore#deferAfter}. */
    NamespaceStore.Deferred deferAfter(NamespaceStore.Deferred earlier, ChangeSet changes) {
        admission.lock();
        try {
            if (!(earlier instanceof Pending p) || p.taken) {
                return null;
            }
            Pending later = new Pending(changes, true);
            append(later);
            return later;
        } finally {
            admission.unlock();
        }
    }

    /** Commits every change deferred so far; returns at once when there is none. */
    void flushDeferred() {
        admission.lock();
        try {
            if (deferredSince == 0) {
                return;
            }
        } finally {
            admission.unlock();
        }
        commit(new ChangeSet());
    }

    /** When the oldest change still deferred was made ({@link System#nanoTime()}), or 0 if none is. */
    long oldestDeferred() {
        admission.lock();
        try {
            return deferredSince;
        } finally {
            admission.unlock();
        }
    }

    private Pending enqueue(ChangeSet changes, boolean deferred) {
        StoreException.Fenced lost = fenced;
        if (lost != null) {
            throw new StoreException.Fenced(lost.getMessage());
        }
        Pending pending = new Pending(changes, deferred);
        admission.lock();
        try {
            if (closing) {
                throw new IllegalStateException("the store of namespace " + namespace + " is closed");
            }
            append(pending);
        } finally {
            admission.unlock();
        }
        return pending;
    }

    /** Adds to the queue's tail; the caller holds {@link #admission}. */
    private void append(Pending pending) {
        queue.addLast(pending);
        if (pending.deferred) {
            if (deferredSince == 0) {
                deferredSince = System.nanoTime() | 1;
            }
        } else {
            waitedFor++;
        }
    }

    /** How many commits wait for the writer (for the metrics, and tests that need a group to form). */
    int queued() {
        admission.lock();
        try {
            return waitedFor;
        } finally {
            admission.unlock();
        }
    }

    /**
     * Refuses new changes, commits what is queued (deferred changes included; retried until the
     * retry timeout), and returns once nobody is committing any more.
     */
    void close() {
        admission.lock();
        try {
            closing = true;
            closeDeadline = (System.nanoTime() + retryTimeout.toNanos()) | 1;
        } finally {
            admission.unlock();
        }
        while (true) {
            List<Pending> group;
            admission.lock();
            try {
                while (leading) {
                    work.awaitUninterruptibly();
                }
                if (queue.isEmpty()) {
                    return;
                }
                leading = true;
                group = takeGroup();
            } finally {
                admission.unlock();
            }
            commitAsLeader(group);
        }
    }

    /**
     * Waits while another caller leads; then returns null if {@code pending} is done, or else
     * becomes the leader and returns the group to commit (which {@link #commitAsLeader} ends).
     */
    private List<Pending> leadOrWait(Pending pending) {
        admission.lock();
        try {
            while (leading && !pending.result.isDone()) {
                work.awaitUninterruptibly();
            }
            if (pending.result.isDone()) {
                return null;
            }
            leading = true;
            return takeGroup();
        } finally {
            admission.unlock();
        }
    }

    /**
     * Commits {@code group} as the leader, then lets the next caller lead. A plain commit first
     * offers itself as a ride to whoever holds the writer lane (see {@link LaneRide}); otherwise,
     * or when the ride did not commit it, it holds the lane and commits itself.
     */
    private void commitAsLeader(List<Pending> group) {
        try {
            // Only a host's writer looks at its changes before taking a lane: to take the lane for
            // large writes, or to ride on a lane another namespace holds.
            NetChanges net = session.hasBulkLane() || session.laneBusy() ? NetChanges.of(setsOf(group)) : null;
            boolean large = net != null && session.hasBulkLane() && net.knownNewBlockCount() >= COPY_MIN_BLOCKS;
            LaneRide ride = net == null || large ? null : rideFor(net);
            if (ride == null) {
                session.useBulkLane(large);
                session.acquire();
            } else if (!session.rideOrAcquire(ride)) {
                // Nobody carried it and the lane is this writer's now: the ride's number was never sent.
                session.unusedCommitNumber(ride.number);
            } else if (settleRide(group, ride)) {
                return;
            } else {
                session.acquire();
            }
            try {
                process(group);
            } catch (Throwable t) {
                log.error("Writer of namespace {} failed unexpectedly", namespace, t);
                session.rollbackOrDiscard();
                for (Pending p : group) {
                    p.result.completeExceptionally(new StoreException("commit to namespace " + namespace
                            + " failed unexpectedly: " + t, t));
                }
            } finally {
                session.release();
                session.useBulkLane(false);
            }
        } finally {
            admission.lock();
            try {
                leading = false;
                work.signalAll();
            } finally {
                admission.unlock();
            }
        }
    }

    private static List<ChangeSet> setsOf(List<Pending> group) {
        List<ChangeSet> sets = new ArrayList<>(group.size());
        for (Pending p : group) {
            sets.add(p.changes);
        }
        return sets;
    }

    /**
     * A ride for a group of net changes {@code net} when it can be carried by another namespace's
     * transaction: a plain commit (one statement, no COPY), with nothing of this writer in doubt,
     * while another namespace holds the lane (a standalone mount's lane is never busy when its
     * writer leads); else null. Whether this namespace's state was checked on the lane's current
     * connection is the holder's concern only for what is in doubt, and nothing is.
     */
    private LaneRide rideFor(NetChanges net) {
        if (fenced != null || inFlight != null || inDoubt != null || lostSince != 0 || !session.laneBusy()
                || net.isEmpty() || net.knownNewBlockCount() >= COPY_MIN_BLOCKS) {
            return null;
        }
        return session.ride(session.nextCommitNumber(), net);
    }

    /**
     * Settles {@code group} from its ride's result; false when the ride was not committed and
     * the group must be committed by this writer itself (after checking what is in doubt).
     */
    private boolean settleRide(List<Pending> group, LaneRide ride) {
        switch (ride.result) {
            case LaneRide.Result.Committed c -> {
                metrics.transactions.increment();
                metrics.sharedTransactions.increment();
                session.seals().committed(ride.number);
                CommitResult result = new CommitResult(c.nblocks());
                for (Pending p : group) {
                    p.result.complete(result);
                }
                return true;
            }
            case LaneRide.Result.Fenced f -> {
                // Keeping the lock would block the process that owns the namespace now.
                session.close();
                fence(new StoreException.Fenced("namespace " + namespace + " is now owned by another mount"
                        + " (its owner epoch changed)"));
                settleFenced(group);
                return true;
            }
            case LaneRide.Result.NotCommitted n -> {
                if (n.inDoubt()) {
                    // The shared commit may have gone through: the next attempt checks this
                    // namespace's last commit number against the ride's before writing anything.
                    inFlight = new InFlight(ride.number, ride.net.touchedInodes(), null);
                    session.uncheck();
                }
                return false;
            }
        }
    }

    /** The queue's head: as many entries as fit in one group, in order. Called holding {@link #admission}. */
    private List<Pending> takeGroup() {
        List<Pending> group = new ArrayList<>();
        long bytes = 0;
        Pending next;
        while (group.size() < MAX_GROUP_SETS && (next = queue.peekFirst()) != null
                && (group.isEmpty() || bytes + next.changes.payloadBytes() <= MAX_GROUP_BYTES)) {
            queue.pollFirst();
            next.taken = true;
            if (!next.deferred) {
                waitedFor--;
            }
            group.add(next);
            bytes += next.changes.payloadBytes();
        }
        deferredSince = 0;
        for (Pending p : queue) {
            if (p.deferred) {
                deferredSince = System.nanoTime() | 1;
                break;
            }
        }
        return group;
    }

    /** Puts deferred entries that could not be stored back at the queue's head, in their order. */
    private void requeue(List<Pending> deferred) {
        admission.lock();
        try {
            for (int i = deferred.size() - 1; i >= 0; i--) {
                queue.addFirst(deferred.get(i));
            }
            if (!deferred.isEmpty()) {
                deferredSince = System.nanoTime() | 1;
            }
        } finally {
            admission.unlock();
        }
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
        StoreException described = SqlFailures.describe("commit", namespace, failure);
        if (pending.deferred) {
            // Nobody waits for it, and the mount already counts it as made (a name, a link), and
            // so would every later commit (a directory's digest): storing anything after it would
            // leave storage with changes whose predecessor is missing. Stop writing instead; a new
            // mount reads storage afresh.
            fence(new StoreException.Fenced("deferred changes could not be stored (" + described.getMessage()
                    + "); this mount no longer knows the namespace exactly: unmount and mount it again"));
            pending.result.completeExceptionally(new StoreException.Fenced(fenced.getMessage()));
            return;
        }
        pending.result.completeExceptionally(described);
    }

    /**
     * Commits {@code group} in one transaction, retrying transient failures. Settles every caller
     * except when the transaction fails for a non-transient reason, which it returns.
     */
    private Outcome attempt(List<Pending> group) {
        try {
            return attemptUntilSettled(group);
        } finally {
            // A commit sent but never confirmed, whose callers were told it failed (their retry
            // timeout passed while PostgreSQL was away): it may still have gone through. The next
            // reconnect finds out.
            if (inFlight != null) {
                inDoubt = inFlight;
                // Whichever lane the next commit takes, it checks this one first.
                session.uncheck();
            }
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
                if (!session.checked()) {
                    long lastCommit = session.reconnect();
                    if (lostSince != 0) {
                        log.info("Writer of namespace {} reconnected to PostgreSQL after {} ms", namespace,
                                (System.nanoTime() - lostSince) / 1_000_000);
                        lostSince = 0;
                    }
                    behind = null;
                    InFlight doubted = inDoubt;
                    inDoubt = null;
                    if (doubted != null && doubted.number() == lastCommit) {
                        // Its callers got EIO and kept their memory as it was, but storage has the
                        // changes: this mount's view is no longer exact, and writing on from it
                        // could break the namespace. Stop writing; a remount reads storage again.
                        throw new StoreException.Fenced("a commit reported as failed while PostgreSQL was away"
                                + " had gone through; this mount no longer knows the namespace exactly:"
                                + " unmount and mount it again");
                    }
                    InFlight unsure = inFlight;
                    inFlight = null;
                    if (unsure != null && unsure.number() == lastCommit) {
                        // The commit went through before the connection broke: do not apply it twice.
                        CommitResult result = new CommitResult(unsure.nblocks() != null ? unsure.nblocks()
                                : storedBlockCounts(unsure.touched()));
                        metrics.transactions.increment();
                        session.seals().committed(unsure.number());
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
                    if (e instanceof ServerBehindException && !e.getMessage().equals(behind)) {
                        behind = e.getMessage();
                        log.error(behind);
                    }
                    lastTransient = e;
                    if (SqlFailures.leavesSessionUsable(e) && !connectionClosed()) {
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
                // The statement failed with an answer: nothing of it was committed, nothing is in doubt.
                inFlight = null;
                return new Outcome(e);
            }
        }
    }

    /**
     * The group's transaction: its net changes in one statement, in auto-commit mode (one round
     * trip), or, for a large write, COPY of the new blocks and then the statement in an explicit
     * transaction. Other namespaces' commits waiting on the lane ride along in a plain one
     * ({@link #sharedTransaction}). The caller completes the results once it returns.
     */
    private CommitResult transaction(List<Pending> live) throws SQLException {
        NetChanges net = NetChanges.of(setsOf(live));
        if (net.isEmpty()) {
            return CommitResult.EMPTY;
        }
        WriterStatements statements = session.statements();
        long number = session.nextCommitNumber();
        byte[] seal = session.seals().seal(number, net.inodes.values(), net.deletedInodes);
        Map<Long, Long> nblocks;
        try {
            if (net.knownNewBlockCount() >= COPY_MIN_BLOCKS) {
                nblocks = copyTransaction(statements, number, seal, net);
            } else {
                inFlight = new InFlight(number, net.touchedInodes(), null);
                List<LaneRide> riders = session.takeRiders();
                nblocks = riders.isEmpty() ? ApplyStatement.run(statements, number, session.epoch(), seal, net, Map.of())
                        : sharedTransaction(statements, number, seal, net, riders);
            }
        } catch (StoreException.Fenced e) {
            // Keeping the lock would block the process that owns the namespace now.
            session.close();
            throw new StoreException.Fenced("namespace " + namespace + " is now owned by another mount"
                    + " (its owner epoch changed)");
        }
        inFlight = null;
        metrics.transactions.increment();
        session.seals().committed(number);
        return new CommitResult(nblocks);
    }

    /**
     * This namespace's statement and then each rider's, in one explicit transaction. A rider
     * whose epoch is no longer its own changed nothing and is told so; any failure rolls the
     * whole transaction back, and then this namespace's changes are committed alone while each
     * rider commits its own (so a statement that fails for one tenant fails only that tenant).
     * When the commit's answer is lost, every rider is told its commit is in doubt.
     */
    private Map<Long, Long> sharedTransaction(WriterStatements statements, long number, byte[] seal, NetChanges net,
                                              List<LaneRide> riders) throws SQLException {
        Connection connection = session.connection();
        Map<LaneRide, LaneRide.Result> results = new HashMap<>();
        boolean commitSent = false;
        boolean committed = false;
        boolean riderFailed = false;
        try {
            connection.setAutoCommit(false);
            Map<Long, Long> own = ApplyStatement.run(statements, number, session.epoch(), seal, net, Map.of());
            for (LaneRide ride : riders) {
                try {
                    results.put(ride, new LaneRide.Result.Committed(ApplyStatement.run(session.statementsOf(ride),
                            ride.number, ride.epoch, ride.seal, ride.net, Map.of())));
                } catch (StoreException.Fenced e) {
                    results.put(ride, new LaneRide.Result.Fenced(e));
                } catch (SQLException e) {
                    if (SqlFailures.isTransient(e) || connectionClosed()) {
                        throw e;
                    }
                    // The rider's own failure: its writer meets it again alone and reports it.
                    log.debug("Writer of namespace {}: the commit of namespace {} riding with it failed ({}); each"
                            + " commits alone", namespace, ride.namespace, e.getMessage());
                    riderFailed = true;
                    break;
                }
            }
            if (!riderFailed) {
                commitSent = true;
                connection.commit();
                committed = true;
                connection.setAutoCommit(true);
                metrics.sharedTransactions.increment();
                return own;
            }
        } finally {
            for (LaneRide ride : riders) {
                LaneRide.Result result = committed ? results.get(ride) : new LaneRide.Result.NotCommitted(commitSent);
                session.settle(ride, result);
            }
            if (!committed) {
                if (commitSent) {
                    // The answer to COMMIT was lost: what the server did is unknown, and the
                    // connection cannot be trusted any more.
                    session.discard();
                } else {
                    session.rollbackOrDiscard();
                    restoreAutoCommit();
                }
            }
        }
        // A rider's statement failed: rolled back above (the riders were told to commit alone), so
        // this namespace's changes go alone too, in auto-commit mode.
        return ApplyStatement.run(statements, number, session.epoch(), seal, net, Map.of());
    }

    private void restoreAutoCommit() {
        if (session.isConnected()) {
            try {
                session.connection().setAutoCommit(true);
            } catch (SQLException e) {
                session.discard();
            }
        }
    }

    private Map<Long, Long> copyTransaction(WriterStatements statements, long number, byte[] seal, NetChanges net)
            throws SQLException {
        Connection connection = session.connection();
        connection.setAutoCommit(false);
        boolean done = false;
        try {
            Set<Long> touched = net.touchedInodes();
            Map<Long, Long> copied = BlockCopy.copy(connection, sql.copyBlocks, net.takeKnownNewBlocks(), session.pacer());
            Map<Long, Long> nblocks = ApplyStatement.run(statements, number, session.epoch(), seal, net, copied);
            inFlight = new InFlight(number, touched, nblocks);
            connection.commit();
            connection.setAutoCommit(true);
            done = true;
            return nblocks;
        } finally {
            if (!done) {
                session.rollbackOrDiscard();
                restoreAutoCommit();
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

    /**
     * Fails the callers whose retry timeout has passed; true when nobody waits any more. Deferred
     * changes left without a waiting commit go back to the queue's head for the next one, except
     * when the writer is closing and its own timeout has passed: then they are lost, loudly.
     */
    private boolean expireOverdue(List<Pending> live, SQLException cause) {
        long now = System.nanoTime();
        int before = live.size();
        boolean closingOverdue = closeDeadline != 0 && now - closeDeadline >= 0;
        live.removeIf(p -> {
            if (p.deferred ? !closingOverdue : now - p.deadline < 0) {
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
        if (live.stream().allMatch(p -> p.deferred)) {
            if (closeDeadline != 0) {
                // Closing: keep trying the deferred changes until the close deadline.
                return live.isEmpty();
            }
            requeue(live);
            return true;
        }
        return false;
    }

    private long earliestDeadline(List<Pending> live) {
        long earliest = closeDeadline != 0 ? closeDeadline : System.nanoTime() + retryTimeout.toNanos();
        for (Pending p : live) {
            if (!p.deferred && p.deadline - earliest < 0) {
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
}
