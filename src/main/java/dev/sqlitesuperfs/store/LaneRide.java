package dev.sqlitesuperfs.store;

import java.util.Map;

/**
 * One namespace's commit, ready to run, waiting to be carried by whichever namespace holds their
 * shared {@link WriterLane}: the holder runs it in its own PostgreSQL transaction, after its own
 * statement, so that tenants committing at once share one transaction and one WAL flush.
 *
 * <p>Only a plain commit rides (one statement, no COPY, nothing in doubt): anything else takes the
 * lane itself. The holder settles every ride it took with one of three results; a ride that is not
 * {@link Result.Committed} is done again by its own namespace's writer, on its own, so a failure
 * of one tenant's statement never fails a neighbour's commit.
 */
final class LaneRide {

    /** How a ride ended. */
    sealed interface Result {
        /** Committed in the holder's transaction; the block counts as {@link ApplyStatement#run} gives them. */
        record Committed(Map<Long, Long> nblocks) implements Result {}

        /** The namespace's owner epoch is no longer this process's: nothing of it was changed. */
        record Fenced(StoreException.Fenced reason) implements Result {}

        /**
         * Not committed: the rider commits on its own. {@code inDoubt} when the shared commit was
         * sent and its answer lost, so it may have gone through: the rider must check its
         * namespace's last commit number before writing again.
         */
        record NotCommitted(boolean inDoubt) implements Result {}
    }

    final NamespaceName namespace;
    final NamespaceSql sql;
    final long number;
    final long epoch;
    /** The rider's seal of its commit number (see {@link CommitSeals}). */
    final byte[] seal;
    final NetChanges net;
    /** Taken by a holder, which will settle it (guarded by the lane). */
    boolean taken;
    /** Set once by the holder (guarded by the lane). */
    Result result;

    LaneRide(NamespaceName namespace, NamespaceSql sql, long number, long epoch, byte[] seal, NetChanges net) {
        this.namespace = namespace;
        this.sql = sql;
        this.number = number;
        this.epoch = epoch;
        this.seal = seal;
        this.net = net;
    }
}
