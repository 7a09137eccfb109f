package dev.sqlitesuperfs.fs;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** WalFiles reads a WAL file written by SQLite itself as SQLite's recovery does. */
class WalFilesTest {
    @TempDir
    Path dir;

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
