package dev.sqlitesuperfs.fs;

import static dev.sqlitesuperfs.fs.FsFixture.O_RDWR;
import static dev.sqlitesuperfs.fs.FsFixture.ROOT;
import static dev.sqlitesuperfs.fs.FsFixture.bytes;
import static dev.sqlitesuperfs.fs.FsFixture.text;
import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.fuse.CreateResult;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The ordered-journals mode ({@link JournalOrdering}) on the memory store, step by step as SQLite
 * commits in DELETE, TRUNCATE and PERSIST mode: a journal's fsyncs (and the directory fsync after
 * its creation) store nothing; the database file's fsync stores the database alone, in one
 * transaction; every other store of the database's data (memory pressure, write-back, a rename)
 * takes the journals' data along first; a journal that reached storage hot makes its commit point
 * durable again; and a journal that names a super-journal goes with the database's fsync.
 */
class OrderedJournalsTest {
    private static final int BLOCK = FsFixture.BLOCK;

    private final FsFixture f = FsFixture.withOrderedJournals();

    @AfterEach
    void close() {
        f.close();
    }

    /** A journal's content: SQLite's magic, then {@code length - 8} bytes of a seeded pattern. */
    private static byte[] hotJournal(int length, long seed) {
        byte[] b = new byte[length];
        new SplittableRandom(seed).nextBytes(b);
        System.arraycopy(JournalOrdering.MAGIC, 0, b, 0, JournalOrdering.MAGIC.length);
        b[length - 1] = 0; // no super-journal record at the end
        return b;
    }

    /** A file "NAME" with {@code content}, stored, and left open; returns {inode, handle}. */
    private long[] storedFile(String name, String content) {
        CreateResult c = f.create(1, name);
        long ino = c.entry().nodeId();
        f.write(ino, c.open().fh(), 0, bytes(content));
        f.fsync(ino, c.open().fh());
        return new long[] {ino, c.open().fh()};
    }

    /** SQLite's first phase: journal records behind a zeroed header, synced; the header, synced. */
    private long[] hotJournalSynced(String name, byte[] journal) {
        CreateResult j = f.create(1, name);
        long ino = j.entry().nodeId();
        long fh = j.open().fh();
        byte[] unsealed = journal.clone();
        Arrays.fill(unsealed, 0, 12, (byte) 0);
        f.write(ino, fh, 0, unsealed);
        f.fsync(ino, fh);
        f.fsyncdir(1);
        f.write(ino, fh, 0, Arrays.copyOf(journal, 12));
        f.fsync(ino, fh);
        return new long[] {ino, fh};
    }

    /** The last transaction stores the journal's blocks, then the database's. */
    private void assertLastStoresJournalFirst(long journal, long database) {
        assertThat(FsFixture.described(f.store().transactions().getLast()))
                .as("the journal's data before the database's, in one transaction")
                .containsSubsequence("put-blocks " + journal, "put-blocks " + database);
    }

    @Test
    void aDeleteModeCommitIsOneTransactionThatStoresTheDatabaseAlone() {
        long[] db = storedFile("t.db", "old state");
        int before = f.store().transactions().size();
        byte[] journal = hotJournal(3 * BLOCK + 100, 1);
        long[] j = hotJournalSynced("t.db-journal", journal);
        assertThat(f.store().transactions()).as("the journal's fsyncs and the directory's store nothing")
                .hasSize(before);
        assertThat(f.read(j[0], j[1], 0, journal.length)).isEqualTo(journal);

        f.write(db[0], db[1], 0, bytes("new state"));
        f.fsync(db[0], db[1]);
        assertThat(f.store().transactions()).hasSize(before + 1);
        assertThat(FsFixture.described(f.store().transactions().getLast()))
                .as("the database's data, the journal's creation (queued before it), none of the journal's data")
                .contains("put-blocks " + db[0], "put-entry t.db-journal").doesNotContain("put-blocks " + j[0]);

        f.release(j[0], j[1]);
        f.fs.unlink(ROOT, 1, bytes("t.db-journal"));
        assertThat(f.store().transactions()).as("a journal that never reached storage hot: its removal waits")
                .hasSize(before + 1);
        f.release(db[0], db[1]);
        f.assertStoredAsShown();
        assertThat(f.lookup(1, "t.db-journal")).isZero();
    }

    @Test
    void aJournalUnlinkedBeforeItsReleaseArrivedIsRemovedWithoutATransactionAndStillReadable() {
        long[] db = storedFile("t.db", "old state");
        byte[] journal = hotJournal(BLOCK + 5, 13);
        long[] j = hotJournalSynced("t.db-journal", journal);
        f.write(db[0], db[1], 0, bytes("new state"));
        f.fsync(db[0], db[1]);
        int before = f.store().transactions().size();
        f.fs.unlink(ROOT, 1, bytes("t.db-journal")); // the kernel sends RELEASE after close returned
        assertThat(f.store().transactions()).hasSize(before);
        assertThat(f.read(j[0], j[1], 0, journal.length)).isEqualTo(journal);
        f.release(j[0], j[1]);
        f.release(db[0], db[1]);
        f.assertStoredAsShown();
        assertThat(f.store().check()).isEmpty();
    }

    @Test
    void aTruncateModeCommitIsOneTransaction() {
        long[] db = storedFile("t.db", "old state");
        long[] j = storedFile("t.db-journal", "");
        int before = f.store().transactions().size();
        f.write(j[0], j[1], 0, hotJournal(BLOCK + 10, 2));
        f.fsync(j[0], j[1]);
        f.write(db[0], db[1], 0, bytes("new state"));
        f.fsync(db[0], db[1]);
        f.truncate(j[0], 0);
        f.fsync(j[0], j[1]);
        assertThat(f.store().transactions()).hasSize(before + 1);
        f.release(j[0], j[1]);
        f.release(db[0], db[1]);
        f.assertStoredAsShown();
    }

    @Test
    void anyOtherStoreOfTheDatabasesDataTakesTheJournalAlongAndItsCommitPointIsThenDurable() {
        long[] db = storedFile("t.db", "old state");
        byte[] journal = hotJournal(2 * BLOCK, 3);
        long[] j = hotJournalSynced("t.db-journal", journal);
        f.write(db[0], db[1], 0, bytes("half-writ"));
        int before = f.store().transactions().size();
        // a store that is not the database file's fsync: SEEK_DATA stores the file first
        f.fs.lseek(ROOT, db[0], db[1], 0, FileOps.SEEK_DATA);
        assertThat(f.store().transactions()).hasSize(before + 1);
        assertLastStoresJournalFirst(j[0], db[0]);

        f.rename(1, "t.db", 1, "u.db", 0);
        assertThat(f.store().transactions()).hasSize(before + 2);

        f.write(j[0], j[1], 0, new byte[28]); // PERSIST: the header zeroed, the commit point
        f.fsync(j[0], j[1]);
        assertThat(f.store().transactions()).as("the journal was stored hot: its commit point is durable")
                .hasSize(before + 3);
        f.release(j[0], j[1]);
        f.release(db[0], db[1]);
        f.assertStoredAsShown();
    }

    @Test
    void aJournalTakenAlongEarlierGoesWithTheDatabasesFsyncSoThatItStaysWhole() {
        long[] db = storedFile("t.db", "old state");
        long[] j = hotJournalSynced("t.db-journal", hotJournal(2 * BLOCK, 11));
        f.write(db[0], db[1], 0, bytes("part 1"));
        f.fs.lseek(ROOT, db[0], db[1], 0, FileOps.SEEK_DATA); // memory pressure, say: the journal goes along
        f.write(j[0], j[1], 2L * BLOCK, hotJournal(BLOCK, 12)); // more records, synced
        f.fsync(j[0], j[1]);
        int before = f.store().transactions().size();
        f.write(db[0], db[1], 0, bytes("part 2"));
        f.fsync(db[0], db[1]);
        assertThat(f.store().transactions()).hasSize(before + 1);
        assertLastStoresJournalFirst(j[0], db[0]); // hot in storage: its new records go along
        f.release(j[0], j[1]);
        f.release(db[0], db[1]);
    }

    @Test
    void aJournalStoredHotIsRemovedDurably() {
        long[] db = storedFile("t.db", "old state");
        long[] j = hotJournalSynced("t.db-journal", hotJournal(BLOCK, 4));
        f.write(db[0], db[1], 0, bytes("new state"));
        f.fs.flushAll(); // the write-back: the journal goes first
        int before = f.store().transactions().size();
        f.release(j[0], j[1]);
        f.fs.unlink(ROOT, 1, bytes("t.db-journal"));
        assertThat(f.store().transactions()).hasSize(before + 1);
        f.release(db[0], db[1]);
    }

    @Test
    void aJournalThatNamesASuperJournalGoesWithTheDatabasesFsync() {
        long[] db = storedFile("m.db", "old state");
        byte[] journal = hotJournal(BLOCK + 40, 5);
        System.arraycopy(JournalOrdering.MAGIC, 0, journal, journal.length - 8, 8);
        long[] j = hotJournalSynced("m.db-journal", journal);
        int before = f.store().transactions().size();
        f.write(db[0], db[1], 0, bytes("new state"));
        f.fsync(db[0], db[1]);
        assertThat(f.store().transactions()).hasSize(before + 1);
        assertLastStoresJournalFirst(j[0], db[0]);
        f.release(j[0], j[1]);
        f.release(db[0], db[1]);
    }

    @Test
    void aCrashAfterTheDatabasesFsyncKeepsTheNewDatabaseAndNoHotJournal() {
        long[] db = storedFile("c.db", "committed");
        long[] j = hotJournalSynced("c.db-journal", hotJournal(2 * BLOCK, 6));
        f.write(db[0], db[1], 0, bytes("next one!"));
        f.fsync(db[0], db[1]);

        f.crashAndRemount();
        assertThat(text(f.content(f.lookup(1, "c.db")))).isEqualTo("next one!");
        long journal = f.lookup(1, "c.db-journal");
        assertThat(journal == 0 || f.attr(journal).size() == 0).as("no journal, or an empty one").isTrue();
    }

    @Test
    void aCrashBeforeTheDatabasesFsyncKeepsTheOldDatabase() {
        long[] db = storedFile("c.db", "committed");
        hotJournalSynced("c.db-journal", hotJournal(2 * BLOCK, 7));
        f.write(db[0], db[1], 0, bytes("half-writ"));

        f.crashAndRemount();
        assertThat(text(f.content(f.lookup(1, "c.db")))).isEqualTo("committed");
    }

    @Test
    void aJournalLoadedFromStorageCountsAsHotUntilThisMountStoredIt() {
        CreateResult j = f.create(1, "l.db-journal");
        long jIno = j.entry().nodeId();
        f.write(jIno, j.open().fh(), 0, hotJournal(BLOCK, 10));
        f.release(jIno, j.open().fh());
        f.remount();
        jIno = f.lookup(1, "l.db-journal");
        int before = f.store().transactions().size();
        long fh = f.open(jIno, O_RDWR);
        f.write(jIno, fh, 0, new byte[8]);
        f.fsync(jIno, fh);
        assertThat(f.store().transactions()).as("maybe a commit point: stored").hasSize(before + 1);
        f.write(jIno, fh, 100, new byte[8]);
        f.fsync(jIno, fh);
        assertThat(f.store().transactions()).as("not hot as stored, not hot now: ordered").hasSize(before + 1);
        f.release(jIno, fh);
    }

    @Test
    void withoutTheOptionEveryFsyncIsDurable() {
        try (FsFixture plain = new FsFixture()) {
            CreateResult j = plain.create(1, "t.db-journal");
            plain.write(j.entry().nodeId(), j.open().fh(), 0, hotJournal(100, 8));
            plain.fsync(j.entry().nodeId(), j.open().fh());
            assertThat(plain.store().transactions()).hasSize(1);
            plain.release(j.entry().nodeId(), j.open().fh());
        }
    }

    @Test
    void onlyFilesNamedLikeAJournalAreOrdered() {
        CreateResult c = f.create(1, "t.db-journal.bak");
        f.write(c.entry().nodeId(), c.open().fh(), 0, hotJournal(100, 9));
        f.fsync(c.entry().nodeId(), c.open().fh());
        assertThat(f.store().transactions()).hasSize(1);
        f.release(c.entry().nodeId(), c.open().fh());
        assertThat(List.of(JournalOrdering.isJournalName(bytes("a-journal")), JournalOrdering.isJournalName(bytes("-journal")),
                JournalOrdering.isJournalName(bytes("a-journal-x")))).containsExactly(true, false, false);
    }
}
