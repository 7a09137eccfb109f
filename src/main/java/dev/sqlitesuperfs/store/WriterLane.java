package dev.sqlitesuperfs.store;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import javax.sql.DataSource;

/**
 * A connection that commits for the namespaces assigned to it, one holder at a time: a
 * namespace's writer holds the lane for the whole of a commit ({@link #acquire}), so its
 * transaction, retries and check of an unconfirmed commit run on one connection, as they would on
 * a connection of its own. A standalone mount has one lane to itself; a host spreads its
 * namespaces over a few, which bounds the connections however many namespaces it serves.
 *
 * <p>While the lane is held, other namespaces' plain commits wait on it as {@link LaneRide}s
 * ({@link #rideOrAcquire}); the holder takes them ({@link #takeRiders}) into its own transaction,
 * so tenants that commit at once share one PostgreSQL transaction. Holders take turns in the
 * order they asked; a rider that nobody carried takes the lane itself once it is free.
 *
 * <p>The connection is tuned for the writer's statements (see {@link #tuned}); each namespace's
 * prepared statements are kept per connection, the most recently used ones first. Each new
 * connection has a new {@link #generation}, so that a namespace can tell that the connection it
 * last checked its state on is gone, whoever replaced it.
 */
final class WriterLane implements AutoCloseable {
    /** Namespaces whose prepared statements a lane keeps; the statements of others are prepared again. */
    private static final int KEPT_STATEMENTS = 256;
    /** The most rides one transaction carries (each a statement, and a round trip, of its own). */
    static final int MAX_RIDERS = 32;

    private final DataSource dataSource;
    private final ReentrantLock state = new ReentrantLock();
    private final Condition changed = state.newCondition();
    /** The thread holding the lane, or null (guarded by {@link #state}). */
    private volatile Thread holder;
    /** Turns of those waiting to hold the lane: the next to hand out, and the one whose turn it is (guarded). */
    private long nextTurn;
    private long turn;
    private final ArrayDeque<LaneRide> riders = new ArrayDeque<>();
    private Connection connection;
    private long generation;
    private final Map<NamespaceName, WriterStatements> statements = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<NamespaceName, WriterStatements> eldest) {
            if (size() <= KEPT_STATEMENTS) {
                return false;
            }
            eldest.getValue().close();
            return true;
        }
    };

    /** Paces large writes on this lane (a host's bulk lane); {@link BulkPacer#NONE} elsewhere. */
    private volatile BulkPacer pacer = BulkPacer.NONE;

    WriterLane(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    /** Waits for this caller's turn and takes the lane; {@link #release} gives it back. */
    void acquire() {
        state.lock();
        try {
            long mine = nextTurn++;
            while (holder != null || turn != mine) {
                changed.awaitUninterruptibly();
            }
            turn++;
            holder = Thread.currentThread();
        } finally {
            state.unlock();
        }
    }

    /**
     * Waits for {@code ride} to be carried by the lane's holder and returns true once it is settled
     * ({@link LaneRide#result}), or takes the lane and returns false when it is free with nobody
     * waiting for a turn (the caller then holds it and commits itself).
     */
    boolean rideOrAcquire(LaneRide ride) {
        state.lock();
        try {
            if (holder == null && turn == nextTurn) {
                nextTurn++;
                turn++;
                holder = Thread.currentThread();
                return false;
            }
            riders.addLast(ride);
            while (ride.result == null && (holder != null || turn != nextTurn || ride.taken)) {
                changed.awaitUninterruptibly();
            }
            if (ride.result != null) {
                return true;
            }
            riders.remove(ride);
            nextTurn++;
            turn++;
            holder = Thread.currentThread();
            return false;
        } finally {
            state.unlock();
        }
    }

    /** Makes large writes on this lane yield to the commits of {@code neighbours} (see {@link BulkPacer}). */
    void paceFor(WriterLane[] neighbours, long pauseNanos) {
        pacer = new BulkPacer(neighbours, pauseNanos);
    }

    BulkPacer pacer() {
        return pacer;
    }

    /** Whether the lane is held or promised to a waiter now (a hint: a plain commit then offers a ride). */
    boolean busy() {
        state.lock();
        try {
            return holder != null || turn != nextTurn;
        } finally {
            state.unlock();
        }
    }

    /** How many rides wait to be carried (for tests that need a shared transaction to form). */
    int rides() {
        state.lock();
        try {
            return riders.size();
        } finally {
            state.unlock();
        }
    }

    /** The rides waiting now, taken by the holder, who must settle each one ({@link #settle}). */
    List<LaneRide> takeRiders() {
        state.lock();
        try {
            requireHeld();
            List<LaneRide> taken = new ArrayList<>();
            while (taken.size() < MAX_RIDERS && !riders.isEmpty()) {
                LaneRide ride = riders.pollFirst();
                ride.taken = true;
                taken.add(ride);
            }
            return taken;
        } finally {
            state.unlock();
        }
    }

    /** Settles a ride taken by {@link #takeRiders}; its writer goes on. */
    void settle(LaneRide ride, LaneRide.Result result) {
        state.lock();
        try {
            ride.result = result;
            changed.signalAll();
        } finally {
            state.unlock();
        }
    }

    void release() {
        state.lock();
        try {
            requireHeld();
            holder = null;
            changed.signalAll();
        } finally {
            state.unlock();
        }
    }

    private void requireHeld() {
        if (holder != Thread.currentThread()) {
            throw new IllegalStateException("the writer lane is used without being held");
        }
    }

    /** The current connection; the caller holds the lane. */
    Connection connection() {
        requireHeld();
        if (connection == null) {
            throw new IllegalStateException("the writer connection is not open");
        }
        return connection;
    }

    boolean isConnected() {
        return connection != null;
    }

    /** Opens the lane's connection ahead of its first commit, if nobody has yet. */
    void connectAhead() throws SQLException {
        acquire();
        try {
            if (!isConnected()) {
                connect();
            }
        } finally {
            release();
        }
    }

    /** Replaces the connection by a new one, in auto-commit mode; the caller holds the lane. */
    void connect() throws SQLException {
        requireHeld();
        discard();
        Connection fresh = tuned(dataSource.getConnection());
        fresh.setAutoCommit(true);
        connection = fresh;
        generation++;
    }

    /** Which connection the lane has: a new one, whoever connected it, has a new generation. The caller holds the lane. */
    long generation() {
        requireHeld();
        return generation;
    }

    /** {@code namespace}'s prepared statements on the current connection; the caller holds the lane. */
    WriterStatements statements(NamespaceName namespace, NamespaceSql sql) throws SQLException {
        WriterStatements kept = statements.get(namespace);
        if (kept == null) {
            kept = new WriterStatements(connection(), sql);
            statements.put(namespace, kept);
        }
        return kept;
    }

    /** Forgets a connection that failed; the server ends its session. */
    void discard() {
        statements.clear();
        if (connection != null) {
            closeQuietly(connection);
            connection = null;
        }
    }

    /** Rolls back the open transaction; a connection that cannot even do that is discarded. */
    void rollbackOrDiscard() {
        if (connection == null) {
            return;
        }
        try {
            // In auto-commit mode a failed statement has rolled itself back.
            if (!connection.getAutoCommit()) {
                connection.rollback();
            }
        } catch (SQLException e) {
            discard();
        }
    }

    @Override
    public void close() {
        acquire();
        try {
            discard();
        } finally {
            release();
        }
    }

    /**
     * The writer's statement ({@link NamespaceSql#applyChanges}) is planned once: PostgreSQL's
     * default (a custom plan whenever a generic one looks costlier) spent half a millisecond per
     * commit on planning. A plan made without the arguments cannot know how many rows an array
     * names, and on a namespace of a few large files it guesses that one inode owns a tenth of
     * all blocks and scans the table (50 ms per commit on a million blocks). The writer only ever
     * touches rows by their primary key, so sequential scans are simply off for it; and so is
     * JIT compilation, which the planner's costs for a big statement would otherwise start, at
     * close to a second per execution.
     */
    private static Connection tuned(Connection connection) throws SQLException {
        try (java.sql.Statement set = connection.createStatement()) {
            set.execute("SET plan_cache_mode = force_generic_plan");
            set.execute("SET enable_seqscan = off");
            set.execute("SET jit = off");
        } catch (SQLException e) {
            closeQuietly(connection);
            throw e;
        }
        return connection;
    }

    private static void closeQuietly(Connection connection) {
        try {
            connection.close();
        } catch (SQLException ignored) {
            // Already broken; the server cleans up the session.
        }
    }
}
