package dev.sqlitesuperfs.fs;

import dev.sqlitesuperfs.fuse.KernelChannel;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Tells the kernel when the st_blocks it caches of a file went stale, at most once a second per
 * file. The kernel learns st_blocks only from replies, and a store changes it without a request
 * (written blocks become stored ones, a hole gets filled). The only way to say so,
 * FUSE_NOTIFY_INVAL_INODE, drops all of the file's cached attributes: the kernel then asks GETATTR
 * before the next write and, since a GETATTR reply clears the inode's S_NOSEC, GETXATTR of
 * security.capability too. Told at every commit, a SQLite WAL (which grows at every commit) paid
 * those two round trips each time, 4.9 requests per commit where 2.8 remain (BENCHMARKS.md).
 *
 * <p>So the first change after a quiet second is told at once (a program that writes, syncs and
 * stats sees the new count), and later ones within the second are told when it has passed, by the
 * write-back scheduler's tick. st_blocks of a file stored more than once a second lags by at most
 * a second and a tick; nothing else the kernel caches depends on it.
 */
final class BlockCountNotices {
    static final long INTERVAL_NS = 1_000_000_000L;

    private final Set<Node> pending = ConcurrentHashMap.newKeySet();
    private volatile KernelChannel kernel;

    BlockCountNotices(KernelChannel kernel) {
        this.kernel = kernel;
    }

    void connect(KernelChannel kernel) {
        this.kernel = kernel;
    }

    /** Node {@code n}'s block count changed at {@code now}; call with its write lock held. */
    void changed(Node n, long now) {
        long last = n.blocksToldNanos;
        if (last != 0 && now - last < INTERVAL_NS) {
            pending.add(n);
            return;
        }
        tell(n, now);
    }

    /** Whether a deferred notice is due at {@code now}. */
    boolean due(long now) {
        for (Node n : pending) {
            if (now - n.blocksToldNanos >= INTERVAL_NS) {
                return true;
            }
        }
        return false;
    }

    /** Sends the deferred notices due at {@code now}. */
    void sendDue(long now) {
        for (Node n : pending) {
            if (now - n.blocksToldNanos >= INTERVAL_NS) {
                tell(n, now);
            }
        }
    }

    private void tell(Node n, long now) {
        pending.remove(n);
        n.blocksToldNanos = now == 0 ? 1 : now;
        kernel.invalidateAttributes(n.ino);
    }
}
