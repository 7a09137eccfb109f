package dev.sqlitesuperfs.fs;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Written-but-unstored data of the namespaces of a process, bounded as a whole and shared fairly:
 * each namespace ({@link Tenant}) has its own bound, and when the process total passes the shared
 * bound, namespaces holding more than their share (the bound over the namespaces holding data)
 * store at their next write. One namespace writing fast therefore stores its own files early;
 * it does not push its neighbours into storing theirs. Past twice the shared bound every writer
 * stores, so the total stays bounded even while the heavy namespace is between writes.
 */
final class DirtyBudget {
    private final long limit;
    private final AtomicLong total = new AtomicLong();
    private final AtomicInteger holding = new AtomicInteger();

    DirtyBudget(long limitBytes) {
        this.limit = Math.max(0, limitBytes);
    }

    /** A namespace's part, with its own bound. */
    Tenant tenant(long ownLimitBytes) {
        return new Tenant(ownLimitBytes);
    }

    /** Unstored bytes over all namespaces. */
    long bytes() {
        return total.get();
    }

    final class Tenant {
        private final long ownLimit;
        private final AtomicLong bytes = new AtomicLong();

        private Tenant(long ownLimit) {
            this.ownLimit = ownLimit;
        }

        void add(long delta) {
            long before = bytes.getAndAdd(delta);
            long after = before + delta;
            if (before <= 0 && after > 0) {
                holding.incrementAndGet();
            } else if (before > 0 && after <= 0) {
                holding.decrementAndGet();
            }
            total.addAndGet(delta);
        }

        long bytes() {
            return bytes.get();
        }

        /** Whether this namespace should store a file now rather than keep more in memory. */
        boolean overLimit() {
            long mine = bytes.get();
            if (mine > ownLimit) {
                return true;
            }
            long all = total.get();
            if (all <= limit) {
                return false;
            }
            return all > 2 * limit || mine > limit / Math.max(1, holding.get());
        }

        /** Gives back what is still counted (the namespace is gone). */
        void close() {
            add(-bytes.get());
        }
    }
}
