package dev.sqlitesuperfs.fs;

import dev.sqlitesuperfs.store.NamespaceStore;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The opt-in ordered-journals mode ({@code --ordered-journals}) for SQLite's rollback journals
 * (files named {@code DB-journal}).
 *
 * <p>SQLite (DELETE, TRUNCATE, PERSIST mode) syncs its journal so that no page of the database
 * file reaches the disk before the journal that can undo it; syncs the database file at the end
 * of its commit's first phase; and then makes the journal stop being hot (deleted, truncated to 0,
 * or its header zeroed), which is its commit point. Here:
 * <ul>
 * <li>a journal's fsync stores nothing: its data stays in memory, and every store of another
 *     file's data takes the journals' data along in the same transaction (memory pressure, the
 *     write-back delay, a rename, any commit that carries a file's blocks), so storage never holds
 *     a database page written after a journal without that journal;
 * <li>but the fsync of a file that is not a journal stores it alone. That is SQLite's database
 *     file at the end of its first phase: if its journal still waits in memory, none of the
 *     database's pages of this transaction reached storage before, so this one transaction takes
 *     the database from the old state to the new one, and the journal is never needed in storage.
 *     If it did reach storage (taken along earlier), it is there, hot, as SQLite expects, and
 *     what was written to it since goes with the database's fsync, so that it stays whole. A
 *     journal that ends with a super-journal record (a commit of several attached databases, whose
 *     atomicity needs every journal) is taken along here too;
 * <li>the fsync that turns a journal that is hot as stored into one that is not is SQLite's
 *     commit point and stays durable; a journal that never reached storage hot is not hot there,
 *     so its removal, truncation or zeroed header need not be durable: they wait for the next
 *     durability point (a crash brings back a journal that SQLite ignores);
 * <li>the creation of a journal, and a directory fsync while nothing but journal creations and
 *     removals waits (SQLite syncs the directory after creating a journal), store nothing either.
 * </ul>
 * So a SQLite commit in DELETE or TRUNCATE mode costs one PostgreSQL transaction instead of four.
 *
 * <p>What it gives up: the fsync of a file named {@code *-journal} (unless it is a commit point
 * as above), its creation and its removal, and such a directory fsync, return before they are
 * durable, for any program; and an fsync of a database file by another program in the middle of
 * a SQLite write transaction on it (after SQLite wrote pages, before its commit) stores those pages
 * without the journal, so that a crash of the mount then could leave the database half written.
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
     * Whether the removal of journal {@code c} (its last name; write lock held) may wait for the
     * next durability point: its stored version is not hot, so that a crash bringing it back
     * brings back a journal SQLite ignores (and deletes).
     */
    boolean removalMayWait(Node c) {
        return appliesTo(c) && !c.queuedHeaderHot;
    }

    /**
     * Whether a file of {@code size} bytes whose block 0 starts with {@code first} (its first
     * {@code length} bytes count; null for a hole) is a hot journal.
     */
    static boolean hotHeader(byte[] first, long size, int length) {
        return size >= MAGIC.length && first != null && length >= MAGIC.length
                && Arrays.equals(first, 0, MAGIC.length, MAGIC, 0, MAGIC.length);
    }

    /** Whether {@code tail} is SQLite's journal magic (the end of a super-journal record). */
    static boolean endsWithMagic(byte[] tail) {
        return tail.length == MAGIC.length && Arrays.equals(tail, MAGIC);
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
