package dev.sqlitesuperfs.fs;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import dev.sqlitesuperfs.fuse.CreateResult;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** WalFiles reads a WAL file written by SQLite itself as SQLite's recovery does. */
class WalFilesTest {
    @TempDir
    Path dir;

    /**
     * A follower shows a WAL that has no committed frame under its header as an empty file (a
     * reader's recovery of it would end at checksum zero and never see that generation's commits),
     * and every other file as stored; what it shows follows the file's changes.
     */
    @Test
    void aWalWithoutACommittedFrameIsShownEmpty() throws Exception {
        byte[] wal = realWal();
        // the writer's restart of the WAL: its next header (salt-1 plus one, a new salt-2) stored over the old frames
        byte[] restarted = wal.clone();
        ByteBuffer.wrap(restarted).putInt(16, ByteBuffer.wrap(wal).getInt(16) + 1).putInt(20, 0x1234567);
        long[] sum = WalFiles.checksum(restarted, 0, 24, 0, 0, ByteBuffer.wrap(wal).getInt(0) == 0x377f0683);
        ByteBuffer.wrap(restarted).putInt(24, (int) sum[0]).putInt(28, (int) sum[1]);
        assertThat(WalFiles.parse(restarted).checksums()).as("no frame is of the new header's generation").isEmpty();
        byte[] notWal = new byte[wal.length];
        Arrays.fill(notWal, (byte) 7);

        try (FsFixture fx = new FsFixture()) {
            long committed = stored(fx, "a.db-wal", wal);
            long headerOnly = stored(fx, "b.db-wal", Arrays.copyOf(restarted, 32));
            long overOldFrames = stored(fx, "c.db-wal", restarted);
            long other = stored(fx, "d", notWal);
            WalFiles wals = new WalFiles(FsFixture.BLOCK);
            assertThat(shownSize(fx, wals, committed)).isEqualTo(wal.length);
            assertThat(shownSize(fx, wals, headerOnly)).isZero();
            assertThat(shownSize(fx, wals, overOldFrames)).isZero();
            assertThat(shownSize(fx, wals, other)).isEqualTo(notWal.length);

            // the first commit of the new generation is stored: the file is shown as it is
            byte[] firstCommit = restarted.clone();
            System.arraycopy(frameOf(wal, restarted), 0, firstCommit, 32, 24 + 4096);
            long fh = fx.open(overOldFrames, FsFixture.O_RDWR);
            fx.write(overOldFrames, fh, 0, firstCommit);
            fx.fsync(overOldFrames, fh);
            fx.release(overOldFrames, fh);
            wals.update(fx.ns.sealed(), Set.of(overOldFrames));
            assertThat(shownSize(fx, wals, overOldFrames)).isEqualTo(firstCommit.length);
        }
    }

    /**
     * The pages a follower has the kernel drop when a WAL changed: those whose bytes differ, a
     * byte past one version's end differing from any, in merged ranges.
     */
    @Test
    void changedPagesAreThoseWhoseBytesDiffer() {
        byte[] before = new byte[3 * 4096 + 100];
        Arrays.fill(before, (byte) 1);
        assertThat(WalFiles.changedPages(before, before.clone())).isEmpty();
        // appended: the partial last page (the kernel cached it with zeros past the end) and the new ones
        byte[] appended = Arrays.copyOf(before, 5 * 4096 + 1);
        assertThat(WalFiles.changedPages(before, appended)).containsExactly(3 * 4096, 3 * 4096);
        // one byte changed in the first page and one in the third
        byte[] changed = before.clone();
        changed[10] = 2;
        changed[2 * 4096 + 5] = 2;
        assertThat(WalFiles.changedPages(before, changed)).containsExactly(0, 4096, 2 * 4096, 4096);
        // shrunk to nothing (a WAL shown empty): every page it had
        assertThat(WalFiles.changedPages(before, new byte[0])).containsExactly(0, 4 * 4096);
        // too many ranges: not worth listing
        byte[] everyOther = new byte[200 * 4096];
        byte[] flipped = everyOther.clone();
        for (int page = 0; page < 200; page += 2) {
            flipped[page * 4096] = 1;
        }
        assertThat(WalFiles.changedPages(everyOther, flipped)).isNull();
    }

    /**
     * A WAL read again after it changed is read only where its block tags changed, and what is
     * read matches the file: a block rewritten in the middle and blocks appended are found as the
     * changed pages, and nothing else is.
     */
    @Test
    void aChangedWalIsReadAgainWhereItsBlocksChanged() throws Exception {
        byte[] wal = realWal();
        byte[] changed = Arrays.copyOf(wal, wal.length + 3 * 4096 + 200);
        changed[2 * 4096 + 100] ^= 1;
        for (int i = wal.length; i < changed.length; i++) {
            changed[i] = (byte) i;
        }
        try (FsFixture fx = new FsFixture()) {
            long ino = stored(fx, "w.db-wal", wal);
            WalFiles wals = new WalFiles(FsFixture.BLOCK);
            wals.update(fx.ns.sealed(), Set.of(ino));
            long fh = fx.open(ino, FsFixture.O_RDWR);
            fx.write(ino, fh, 0, changed);
            fx.fsync(ino, fh);
            fx.release(ino, fh);
            wals.update(fx.ns.sealed(), Set.of(ino));
            assertThat(wals.changedRanges(ino)).containsExactly(WalFiles.changedPages(wal, changed));
            assertThat(wals.changedRanges(ino)).as("the block changed in the middle, then the appended ones")
                    .hasSize(4).startsWith(2L * 4096, 4096L);
            // and once more with nothing changed but the file's mode
            fx.chmod(ino, 0600);
            wals.update(fx.ns.sealed(), Set.of(ino));
            assertThat(wals.changedRanges(ino)).isEmpty();
        }
    }

    private static long stored(FsFixture fx, String name, byte[] content) {
        CreateResult c = fx.create(1, name);
        long ino = c.entry().nodeId();
        fx.write(ino, c.open().fh(), 0, content);
        fx.fsync(ino, c.open().fh());
        fx.release(ino, c.open().fh());
        return ino;
    }

    private static long shownSize(FsFixture fx, WalFiles wals, long ino) {
        return wals.presented(fx.ns.sealed(), fx.ns.sealed().inode(ino).orElseThrow()).size();
    }

    /** A WAL of 4 KiB pages written by SQLite: a table created and rows inserted, nothing checkpointed. */
    private byte[] realWal() throws Exception {
        Path db = dir.resolve("r.db");
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db); Statement s = c.createStatement()) {
            s.execute("PRAGMA page_size=4096");
            s.execute("PRAGMA journal_mode=WAL");
            s.execute("PRAGMA wal_autocheckpoint=0");
            s.execute("CREATE TABLE t(x)");
            for (int i = 0; i < 3; i++) {
                s.execute("INSERT INTO t VALUES (randomblob(100))");
            }
            return Files.readAllBytes(dir.resolve("r.db-wal"));
        }
    }

    /**
     * The first frame of {@code wal}, made a commit frame of the generation of {@code header}'s
     * header: its salt and the running checksum from that header's.
     */
    private static byte[] frameOf(byte[] wal, byte[] header) {
        boolean bigEndian = ByteBuffer.wrap(header).getInt(0) == 0x377f0683;
        byte[] frame = Arrays.copyOfRange(wal, 32, 32 + 24 + 4096);
        ByteBuffer b = ByteBuffer.wrap(frame);
        b.putInt(4, 1); // a commit: the database's size in pages after it
        System.arraycopy(header, 16, frame, 8, 8);
        long[] sum = WalFiles.checksum(frame, 0, 8, ByteBuffer.wrap(header).getInt(24) & 0xffffffffL,
                ByteBuffer.wrap(header).getInt(28) & 0xffffffffL, bigEndian);
        sum = WalFiles.checksum(frame, 24, 4096, sum[0], sum[1], bigEndian);
        b.putInt(16, (int) sum[0]).putInt(20, (int) sum[1]);
        return frame;
    }

    @Test
    void findsTheCommittedFramesOfARealWalAndNoneOfAnOverwrittenOne() throws Exception {
        Path db = dir.resolve("w.db");
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db); Statement s = c.createStatement()) {
            s.execute("PRAGMA journal_mode=WAL");
            s.execute("PRAGMA wal_autocheckpoint=0");
            s.execute("CREATE TABLE t(x)");
            for (int i = 0; i < 5; i++) {
                s.execute("INSERT INTO t VALUES (randomblob(100))");
            }
            byte[] wal = Files.readAllBytes(dir.resolve("w.db-wal"));
            int committed = WalFiles.parse(wal).checksums().length;
            assertThat(committed).as("frames up to the last commit").isGreaterThanOrEqualTo(6);

            // the same file with its first frame overwritten (as a new generation's, under the old header)
            byte[] overwritten = wal.clone();
            Arrays.fill(overwritten, 32 + 8, 32 + 16, (byte) 0x5a);
            assertThat(WalFiles.parse(overwritten).checksums()).isEmpty();
            assertThat(WalFiles.parse(wal).nextUnderway()).isFalse();
            // a frame of the next generation (salt-1 plus one) under the old header
            byte[] restarting = wal.clone();
            int salt1 = java.nio.ByteBuffer.wrap(wal, 16, 4).getInt();
            java.nio.ByteBuffer.wrap(restarting).putInt(32 + 2 * (24 + 4096) + 8, salt1 + 1);
            assertThat(WalFiles.parse(restarting).nextUnderway()).isTrue();
            // and with a page's content changed: the running checksum breaks there
            byte[] changed = wal.clone();
            changed[32 + 24 + 100] ^= 1;
            assertThat(WalFiles.parse(changed).checksums()).isEmpty();
            // a torn last frame leaves the frames before it
            byte[] torn = Arrays.copyOf(wal, wal.length - 10);
            assertThat(WalFiles.parse(torn).checksums().length).isLessThan(committed);
        }
    }
}
