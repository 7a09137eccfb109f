package dev.sqlitesuperfs.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One namespace's way to PostgreSQL for writing: its lock (held on the server's
 * {@link LockSession}), its owner epoch and commit numbers, and the {@link WriterLane} its
 * transactions run on. After a lost connection it reconnects, makes sure the lock is still this
 * process's and proves, by the owner epoch, that nobody else wrote the namespace meanwhile before
 * anything more is written.
 *
 * <p>Not thread-safe: used by the opening thread until writing starts, then only by the writer,
 * each time holding the lane ({@link #acquire}, {@link #release}).
 */
final class WriterSession implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(WriterSession.class);

    private final LockSession locks;
    /** The namespace's lane, where its commits ride and are carried. */
    private final WriterLane home;
    /** The server's lane for large writes, or null (see {@link PgServer#bulkLane}). */
    private final WriterLane bulk;
    /** The lane in use: {@link #home}, or {@link #bulk} while a large write is committed ({@link #useBulkLane}). */
    private WriterLane lane;
    private final NamespaceName namespace;
    private final NamespaceSql sql;
    private boolean locked;
    private long epoch = -1;
    /** The number of this mount's last transaction; each one stores its number in meta.last_commit. */
    private long commitNumber;
    private volatile CommitSeals seals = confirming(CommitSeals.NONE);
    /**
     * The newest commit number this mount knows to be stored: the namespace's last commit when it
     * started writing, then every commit PostgreSQL confirmed. A server that has less is not the
     * one these commits went to (see {@link #reconnect}).
     */
    private volatile long confirmed;
    /** The connections ({@link WriterLane#generation}) of each lane on which this namespace's state was last checked. */
    private long homeChecked = -1;
    private long bulkChecked = -1;

    private WriterSession(LockSession locks, WriterLane lane, WriterLane bulk, NamespaceName namespace,
                          NamespaceSql sql) {
        this.locks = locks;
        this.home = lane;
        this.bulk = bulk;
        this.lane = lane;
        this.namespace = namespace;
        this.sql = sql;
    }

    /**
     * Takes the namespace lock and makes sure the lane is connected, or fails with
     * {@link StoreException.NamespaceBusy}.
     *
     * @throws SQLException when PostgreSQL cannot be reached (transient: try again)
     */
    static WriterSession open(LockSession locks, WriterLane lane, WriterLane bulk, NamespaceName namespace,
                              NamespaceSql sql) throws SQLException {
        WriterSession session = new WriterSession(locks, lane, bulk, namespace, sql);
        if (!locks.tryLock(namespace)) {
            throw new StoreException.NamespaceBusy("namespace " + namespace + " is already mounted by another process");
        }
        session.locked = true;
        try {
            lane.acquire();
            try {
                if (!lane.isConnected()) {
                    lane.connect();
                }
            } finally {
                lane.release();
            }
            return session;
        } catch (SQLException | RuntimeException e) {
            session.close();
            throw e;
        }
    }

    /** Takes the lane for a commit (or any use of {@link #connection}); namespaces sharing it take turns. */
    void acquire() {
        lane.acquire();
    }

    void release() {
        lane.release();
    }

    /** What paces a large write on the lane in use (only a host's bulk lane paces). */
    BulkPacer pacer() {
        return lane.pacer();
    }

    /** The lane's connection; the caller holds the lane. */
    Connection connection() {
        return lane.connection();
    }

    boolean isConnected() {
        return lane.isConnected();
    }

    /**
     * Whether the lane's connection is the one this namespace's lock and state were last checked
     * on ({@link #startEpoch}, {@link #reconnect}). When another namespace on the lane replaced a
     * broken connection, this one must still check, on the new one, whether its own commit in
     * flight at the break went through. The caller holds the lane.
     */
    boolean checked() {
        return lane.isConnected() && lane.generation() == (lane == home ? homeChecked : bulkChecked);
    }

    private void markChecked() {
        if (lane == home) {
            homeChecked = lane.generation();
        } else {
            bulkChecked = lane.generation();
        }
    }

    /** Makes the next commit, on either lane, check this namespace's state first, as after a lost connection. */
    void uncheck() {
        homeChecked = -1;
        bulkChecked = -1;
    }

    /**
     * Commits from now on use the server's lane for large writes ({@code true}), if it has one, or
     * the namespace's own lane again ({@code false}). Called while no lane is held.
     */
    void useBulkLane(boolean large) {
        lane = large && bulk != null ? bulk : home;
    }

    /** Whether the server has a lane for large writes. */
    boolean hasBulkLane() {
        return bulk != null;
    }

    /** See {@link WriterLane#rideOrAcquire}: true once the ride is settled, false when this caller holds the lane. */
    boolean rideOrAcquire(LaneRide ride) {
        return home.rideOrAcquire(ride);
    }

    /** Whether another namespace holds the lane or waits for it (see {@link WriterLane#busy}). */
    boolean laneBusy() {
        return home.busy();
    }

    /** A ride for this namespace's next commit of {@code net}, with a new commit number. */
    LaneRide ride(long number, NetChanges net) {
        return new LaneRide(namespace, sql, number, epoch, seals.seal(number, net.inodes.values(), net.deletedInodes),
                net);
    }

    /** Who seals this namespace's commit numbers and hears of its commits. */
    CommitSeals seals() {
        return seals;
    }

    void sealCommits(CommitSeals seals) {
        this.seals = confirming(seals);
    }

    /** {@code seals}, and every commit they hear of counted as {@link #confirmed}. */
    private CommitSeals confirming(CommitSeals seals) {
        return new CommitSeals() {
            @Override
            public byte[] seal(long number, java.util.Collection<InodeRecord> put, java.util.Collection<Long> deleted) {
                return seals.seal(number, put, deleted);
            }

            @Override
            public void committed(long number) {
                confirmed = Math.max(confirmed, number);
                seals.committed(number);
            }
        };
    }

    /** The lane's connection's prepared statements for a ride's namespace. The caller holds the lane. */
    WriterStatements statementsOf(LaneRide ride) throws SQLException {
        return lane.statements(ride.namespace, ride.sql);
    }

    /** See {@link WriterLane#takeRiders}. The caller holds the lane. */
    java.util.List<LaneRide> takeRiders() {
        return lane.takeRiders();
    }

    /** See {@link WriterLane#settle}. */
    void settle(LaneRide ride, LaneRide.Result result) {
        lane.settle(ride, result);
    }

    /** Prepared statements of this namespace on the lane's current connection. */
    WriterStatements statements() throws SQLException {
        return lane.statements(namespace, sql);
    }

    long epoch() {
        return epoch;
    }

    /**
     * Records a new owner epoch, fencing out every earlier owner. The connection stays in
     * auto-commit mode: most transactions are one statement. The caller holds the lane.
     */
    void startEpoch() throws SQLException {
        Connection c = connection();
        c.setAutoCommit(true);
        try (PreparedStatement bump = c.prepareStatement(sql.bumpMountEpoch); ResultSet rows = bump.executeQuery()) {
            if (!rows.next()) {
                throw new StoreException("namespace " + namespace + " has no metadata row");
            }
            epoch = rows.getLong(1);
            commitNumber = rows.getLong(2);
            confirmed = commitNumber;
        }
        markChecked();
        log.info("Writing to namespace {} as owner epoch {}", namespace, epoch);
    }

    /**
     * A number no earlier transaction of this namespace stored in meta.last_commit: after a lost
     * connection, finding it there proves the transaction in flight committed.
     */
    long nextCommitNumber() {
        return ++commitNumber;
    }

    /** Gives back {@code number}, the last one handed out, when it was never sent (a ride withdrawn). */
    void unusedCommitNumber(long number) {
        if (number == commitNumber) {
            commitNumber--;
        }
    }

    /** Forgets the lane's connection after it failed; the server ends its session. */
    void discard() {
        lane.discard();
    }

    /**
     * Opens a new connection on the lane unless another namespace on it already did, makes sure
     * the lock is still this process's and checks that the owner epoch is still ours. The caller
     * holds the lane.
     *
     * @return the namespace's {@code last_commit}, to decide whether a transaction in flight when
     *     the old connection broke was committed
     * @throws StoreException.Fenced if another process holds or has held the namespace meanwhile
     * @throws SQLException a transient failure: try again later
     */
    long reconnect() throws SQLException {
        if (!lane.isConnected()) {
            lane.connect();
        }
        if (!locks.reassure(namespace)) {
            locked = false;
            throw new StoreException.Fenced("namespace " + namespace
                    + " was taken over by another process while the connection to PostgreSQL was lost");
        }
        try (PreparedStatement state = connection().prepareStatement(sql.readWriterState);
             ResultSet rows = state.executeQuery()) {
            if (!rows.next()) {
                throw new StoreException.Fenced("namespace " + namespace + " lost its metadata row");
            }
            long storedEpoch = rows.getLong(1);
            long lastCommit = rows.getLong(2);
            if (lastCommit < confirmed) {
                // An old primary back after a failover, or a standby promoted that did not have
                // every commit: writing here would fork the namespace. Another try may reach the
                // server that has them (or the operator stops this one).
                lane.discard();
                throw new ServerBehindException("the server reached for namespace " + namespace + " has its commits"
                        + " only up to number " + lastCommit + ", but commit " + confirmed + " was confirmed to this"
                        + " mount: it is an old primary or a standby that was not replicating synchronously; not"
                        + " writing there");
            }
            commitNumber = Math.max(commitNumber, lastCommit);
            if (epoch >= 0 && storedEpoch != epoch) {
                // Keeping the lock (just taken again) would block whoever owns the namespace next.
                close();
                throw new StoreException.Fenced("namespace " + namespace
                        + " was mounted by another process while the connection to PostgreSQL was lost");
            }
            markChecked();
            return lastCommit;
        }
    }

    /** Rolls back the open transaction; a connection that cannot even do that is discarded. */
    void rollbackOrDiscard() {
        lane.rollbackOrDiscard();
    }

    /** Lets the lock go (the lane stays for the other namespaces on it). */
    @Override
    public void close() {
        if (locked) {
            locked = false;
            locks.unlock(namespace);
        }
    }
}
