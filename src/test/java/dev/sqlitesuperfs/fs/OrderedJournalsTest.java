package dev.sqlitesuperfs.fs;

import static dev.sqlitesuperfs.fs.FsFixture.O_RDWR;
import static dev.sqlitesuperfs.fs.FsFixture.ROOT;
import static dev.sqlitesuperfs.fs.FsFixture.bytes;
import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.fuse.CreateResult;
import dev.sqlitesuperfs.store.MemoryNamespaceStore;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The ordered-journals mode ({@link JournalOrdering}) on the memory store, step by step as SQLite
 * commits in DELETE, TRUNCATE and PERSIST mode: a hot journal's fsync (and the directory fsync
 * after its creation) stores nothing; the database file's fsync stores the journal's data before
 * its own in one transaction; the commit point (unlink, truncation to 0, zeroed header) is stored
 * before it returns. Journal data waiting in the queue is read back exactly, also when the block
 * cache has long dropped it, and a crash before the database's fsync loses the journal with the
 * database's changes, never one without the other.
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
        return b;
    }

    private static List<Boolean> deferredParts(MemoryNamespaceStore.Transaction tx) {
        return tx.parts().stream().map(MemoryNamespaceStore.Part::deferred).toList();
    }

    @Test
    void aDeleteModeCommitCostsTwoTransactionsAndStoresTheJournalBeforeTheDatabase() {
        CreateResult db = f.create(1, "t.db");
        long dbIno = db.entry().nodeId();
        long dbFh = db.open().fh();
        f.write(dbIno, dbFh, 0, bytes("old state"));
        f.fsync(dbIno, dbFh);
        int before = f.store().transactions().size();

        CreateResult j = f.create(1, "t.db-journal");
        long jIno = j.entry().nodeId();
        long jFh = j.open().fh();
        // As SQLite writes it: the records behind a header without the magic, synced; then the
        // header with the magic and the record count, synced again.
        byte[] journal = hotJournal(3 * BLOCK + 100, 1);
        byte[] unsealed = journal.clone();
        Arrays.fill(unsealed, 0, 12, (byte) 0);
        f.write(jIno, jFh, 0, unsealed);
        f.fsync(jIno, jFh);
        f.fsyncdir(1);
        f.write(jIno, jFh, 0, Arrays.copyOf(journal, 12));
        f.fsync(jIno, jFh);
        assertThat(f.store().transactions()).as("a hot journal's fsyncs and the directory's store nothing")
                .hasSize(before);
        assertThat(f.content(jIno)).as("the journal as written, while only queued").isEqualTo(journal);

        f.write(dbIno, dbFh, 0, bytes("new state"));
        f.fsync(dbIno, dbFh);
        assertThat(f.store().transactions()).hasSize(before + 1);
        MemoryNamespaceStore.Transaction tx = f.store().transactions().getLast();
        assertThat(FsFixture.described(tx)).as("the journal's name and data come before the database's data")
                .containsSubsequence("put-entry t.db-journal", "put-blocks " + jIno, "put-blocks " + dbIno);
        assertThat(deferredParts(tx)).as("creation and two journal syncs queued, the database's fsync waited")
                .containsExactly(true, true, true, false);

        f.release(jIno, jFh);
        f.fs.unlink(ROOT, 1, bytes("t.db-journal"));
        assertThat(f.store().transactions()).as("the commit point is stored before unlink returns")
                .hasSize(before + 2);
        f.release(dbIno, dbFh);
        f.assertStoredAsShown();
    }

    @Test
    void truncatingOrZeroingTheHeaderIsTheCommitPointAndIsStoredAtOnce() {
        CreateResult j = f.create(1, "p.db-journal");
        long jIno = j.entry().nodeId();
        long jFh = j.open().fh();
        f.write(jIno, jFh, 0, hotJournal(BLOCK + 10, 2));
        f.fsync(jIno, jFh);
        assertThat(f.store().transactions()).isEmpty();

        f.write(jIno, jFh, 0, new byte[28]); // PERSIST mode: the header zeroed
        f.fsync(jIno, jFh);
        assertThat(f.store().transactions()).as("a journal that is no longer hot is stored by its fsync").hasSize(1);
        assertThat(f.store().tables().inode(jIno).orElseThrow().size()).isEqualTo(BLOCK + 10);

        f.write(jIno, jFh, 0, hotJournal(100, 3));
        f.fsync(jIno, jFh);
        assertThat(f.store().transactions()).hasSize(1);
        f.truncate(jIno, 0); // TRUNCATE mode
        f.fsync(jIno, jFh);
        assertThat(f.store().transactions()).hasSize(2);
        assertThat(f.store().tables().inode(jIno).orElseThrow().size()).isZero();
        f.release(jIno, jFh);
        f.assertStoredAsShown();
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
    void withoutTheOptionAHotJournalsFsyncIsDurable() {
        try (FsFixture plain = new FsFixture()) {
            CreateResult j = plain.create(1, "t.db-journal");
            plain.write(j.entry().nodeId(), j.open().fh(), 0, hotJournal(100, 4));
            plain.fsync(j.entry().nodeId(), j.open().fh());
            assertThat(plain.store().transactions()).hasSize(1);
            plain.release(j.entry().nodeId(), j.open().fh());
        }
    }

    @Test
    void onlyFilesNamedLikeAJournalAreOrdered() {
        CreateResult c = f.create(1, "t.db-journal.bak");
        f.write(c.entry().nodeId(), c.open().fh(), 0, hotJournal(100, 5));
        f.fsync(c.entry().nodeId(), c.open().fh());
        assertThat(f.store().transactions()).hasSize(1);
        f.release(c.entry().nodeId(), c.open().fh());
    }

    @Test
    void queuedJournalDataReadsBackAfterTheCacheDroppedItAndAnyLaterCommitStoresIt() {
        CreateResult j = f.create(1, "big.db-journal");
        long jIno = j.entry().nodeId();
        long jFh = j.open().fh();
        // Four times the block cache (16 blocks), two queued versions of block 0 and of the tail.
        byte[] journal = hotJournal(64 * BLOCK - 7, 6);
        f.write(jIno, jFh, 0, journal);
        f.fsync(jIno, jFh);
        byte[] tail = new byte[BLOCK];
        Arrays.fill(tail, (byte) 7);
        f.write(jIno, jFh, 63L * BLOCK, tail);
        System.arraycopy(tail, 0, journal, 63 * BLOCK, BLOCK - 7);
        journal = Arrays.copyOf(journal, 64 * BLOCK);
        Arrays.fill(journal, 64 * BLOCK - 7, 64 * BLOCK, (byte) 7);
        f.write(jIno, jFh, 12, new byte[] {9});
        journal[12] = 9;
        f.fsync(jIno, jFh);
        assertThat(f.store().transactions()).isEmpty();
        for (int pass = 0; pass < 2; pass++) {
            assertThat(f.read(jIno, jFh, 0, journal.length)).as("pass " + pass).isEqualTo(journal);
            for (int idx = 63; idx >= 0; idx -= 5) {
                assertThat(f.read(jIno, jFh, (long) idx * BLOCK, BLOCK))
                        .isEqualTo(Arrays.copyOfRange(journal, idx * BLOCK, idx * BLOCK + BLOCK));
            }
        }

        long other = f.file(1, "other", "x");
        long fh = f.open(other, O_RDWR);
        f.fsync(other, fh);
        f.release(other, fh);
        assertThat(f.store().transactions()).singleElement()
                .satisfies(tx -> assertThat(FsFixture.described(tx)).containsSubsequence("put-blocks " + jIno,
                        "put-blocks " + other));
        assertThat(f.read(jIno, jFh, 0, journal.length)).isEqualTo(journal);
        f.release(jIno, jFh);
        f.assertStoredAsShown();
    }

    @Test
    void aReadSpanningStoredAndQueuedBlocksTakesEachFromWhereItIs() {
        CreateResult j = f.create(1, "s.db-journal");
        long jIno = j.entry().nodeId();
        long jFh = j.open().fh();
        byte[] journal = new byte[40 * BLOCK];
        new SplittableRandom(9).nextBytes(journal);
        journal[0] = 0; // not hot
        f.write(jIno, jFh, 0, journal);
        f.fsync(jIno, jFh);
        f.fs.flushAll();
        assertThat(f.store().transactions()).hasSize(1);

        System.arraycopy(JournalOrdering.MAGIC, 0, journal, 0, JournalOrdering.MAGIC.length);
        f.write(jIno, jFh, 0, Arrays.copyOf(journal, JournalOrdering.MAGIC.length));
        for (int idx : new int[] {7, 20, 21, 33}) {
            byte[] changed = new byte[BLOCK];
            Arrays.fill(changed, (byte) idx);
            System.arraycopy(changed, 0, journal, idx * BLOCK, BLOCK);
            f.write(jIno, jFh, (long) idx * BLOCK, changed);
        }
        f.fsync(jIno, jFh);
        assertThat(f.store().transactions()).as("hot again: queued").hasSize(1);
        // Each read misses stored blocks on both sides of queued ones (the cache holds 16 of 40).
        assertThat(f.read(jIno, jFh, 0, journal.length)).isEqualTo(journal);
        assertThat(f.read(jIno, jFh, 5L * BLOCK, 30 * BLOCK))
                .isEqualTo(Arrays.copyOfRange(journal, 5 * BLOCK, 35 * BLOCK));
        f.release(jIno, jFh);
        f.assertStoredAsShown();
    }

    @Test
    void aCrashBeforeTheDatabasesFsyncLosesTheJournalTogetherWithTheDatabasesChanges() {
        CreateResult db = f.create(1, "c.db");
        long dbIno = db.entry().nodeId();
        f.write(dbIno, db.open().fh(), 0, bytes("committed"));
        f.fsync(dbIno, db.open().fh());
        CreateResult j = f.create(1, "c.db-journal");
        f.write(j.entry().nodeId(), j.open().fh(), 0, hotJournal(2 * BLOCK, 7));
        f.fsync(j.entry().nodeId(), j.open().fh());
        f.fsyncdir(1);
        f.write(dbIno, db.open().fh(), 0, bytes("half-writ"));

        f.crashAndRemount();
        assertThat(f.lookup(1, "c.db-journal")).as("the journal, queued only").isZero();
        assertThat(FsFixture.text(f.content(f.lookup(1, "c.db")))).isEqualTo("committed");
    }

    @Test
    void aTruncatedQueuedJournalNeverShowsItsOldBlocksAgain() {
        CreateResult j = f.create(1, "t.db-journal");
        long jIno = j.entry().nodeId();
        long jFh = j.open().fh();
        f.write(jIno, jFh, 0, hotJournal(3 * BLOCK, 8));
        f.fsync(jIno, jFh);
        f.truncate(jIno, 100);
        f.write(jIno, jFh, 2L * BLOCK, bytes("z"));
        byte[] middle = f.read(jIno, jFh, BLOCK, BLOCK);
        assertThat(middle).as("the block the truncation cut away reads as a hole").containsOnly(0);
        f.fsync(jIno, jFh);
        assertThat(f.read(jIno, jFh, BLOCK, BLOCK)).containsOnly(0);
        f.release(jIno, jFh);
        f.assertStoredAsShown();
    }
}
