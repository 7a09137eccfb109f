package dev.sqlitesuperfs.store;

import java.util.concurrent.atomic.LongAdder;

/** What a namespace's writer counts for its operator: commits, PostgreSQL transactions, commits waiting. */
public final class StoreMetrics {
    final LongAdder commits = new LongAdder();
    final LongAdder transactions = new LongAdder();
    final LongAdder sharedTransactions = new LongAdder();
    private volatile CommitWriter writer;

    CommitResult committed(CommitResult result) {
        commits.increment();
        return result;
    }

    void writer(CommitWriter current) {
        writer = current;
    }

    /** Commits that callers waited for and that succeeded. */
    public long commits() {
        return commits.sum();
    }

    /** PostgreSQL transactions committed; a group of commits and deferred changes is one. */
    public long transactions() {
        return transactions.sum();
    }

    /**
     * Of {@link #transactions()}, those shared with other namespaces on the same writer lane
     * (a host's cross-tenant group commit), whichever namespace's writer sent them.
     */
    public long sharedTransactions() {
        return sharedTransactions.sum();
    }

    /** Commits waiting behind the one the writer is working on. */
    public int queueDepth() {
        CommitWriter w = writer;
        return w == null ? 0 : w.queued();
    }
}
