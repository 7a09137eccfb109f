package dev.sqlitesuperfs.fs;

import dev.sqlitesuperfs.store.NamespaceStore;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The opt-in ordered-journals mode ({@code --ordered-journals}): an fsync of a SQLite rollback
 * journal ({@code DB-journal}) is an ordering point, not a durability point, except the one that
 * turns a hot journal (one that starts with SQLite's journal magic: it protects changes not yet
 * committed) into one that is not, which is SQLite's commit point and stays durable.
 *
 * <p>Why that keeps SQLite's promise: in DELETE, TRUNCATE and PERSIST mode a SQLite commit becomes
 * durable when its journal stops being hot (deleted, truncated to 0, or its header zeroed), and that
 * step is stored durably here as always. Before it, SQLite syncs the journal so that no change to the
 * database file reaches the disk before the journal that can undo it. Here the journal's data joins
 * the store's queue of deferred changes instead, and every later transaction of the namespace (the
 * database file's fsync, a write-back under memory pressure, anything) carries the queue first, in
 * the same or an earlier transaction. So storage never holds database pages without the journal
 * written before them, and a crash before the commit point leaves either the old database or the
 * old database with a hot journal that rolls it back to the old state. A SQLite commit then costs
 * two PostgreSQL transactions (database file with the journal; the commit point) instead of four.
 *
 * <p>What it gives up, for files whose names end in {@code -journal} only: such a file's fsync
 * returns before its data is durable, unless it turns a hot journal into one that is not; its
 * creation, and an fsync of a directory while nothing but such creations and journal data waits,
 * are not durable either. Each becomes durable with the namespace's next durability point, or after
 * the write-back delay. A program other than SQLite that relies on fsync of such a file loses what
 * it wrote since the last durability point if the mount dies first.
 */
final class JournalOrdering {
    /** The first eight bytes of a hot SQLite rollback journal (sqlite3 pager.c, aJournalMagic). */
    static final byte[] MAGIC = {(byte) 0xd9, (byte) 0xd5, 0x05, (byte) 0xf9, 0x20, (byte) 0xa1, 0x63, (byte) 0xd7};

    private static final byte[] SUFFIX = "-journal".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

    private final boolean enabled;
    /** Deferred changes not made for a journal's sake and not stored yet. */
    private final AtomicInteger otherPending = new AtomicInteger();

    JournalOrdering(boolean enabled) {
        this.enabled = enabled;
    }

    boolean enabled() {
        return enabled;
    }

    /** Whether {@code name} is one of a SQLite rollback journal ({@code DB-journal}). */
    static boolean isJournalName(byte[] name) {
        return name.length > SUFFIX.length
                && Arrays.equals(name, name.length - SUFFIX.length, name.length, SUFFIX, 0, SUFFIX.length);
    }

    /** Whether this mode may make an fsync of {@code n} an ordering point. */
    boolean appliesTo(Node n) {
        return enabled && n.journalName && n.isRegular();
    }

    /**
     * Whether a file of {@code size} bytes whose block 0 starts with {@code first} (its first
     * {@code length} bytes count; null for a hole) is a hot journal.
     */
    static boolean hotHeader(byte[] first, long size, int length) {
        return size >= MAGIC.length && first != null && length >= MAGIC.length
                && Arrays.equals(first, 0, MAGIC.length, MAGIC, 0, MAGIC.length);
    }

    /**
     * Notes a deferred change ({@code queued}, null if none was queued); {@code forJournal} when it
     * is the creation of a journal, whose durability this mode leaves to the next durability point.
     */
    void deferred(NamespaceStore.Deferred queued, boolean forJournal) {
        if (!enabled || queued == null || forJournal) {
            return;
        }
        otherPending.incrementAndGet();
        queued.stored().whenComplete((r, e) -> otherPending.decrementAndGet());
    }

    /**
     * Whether an fsync of a directory may be an ordering point: in this mode, when every deferred
     * change still waiting was made for a journal's sake (SQLite syncs the directory after it
     * creates a journal, to make the name durable before the database changes).
     */
    boolean directorySyncMayWait() {
        return enabled && otherPending.get() == 0;
    }
}
