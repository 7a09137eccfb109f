package dev.sqlitesuperfs.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.localpg.StandbyPair;
import dev.sqlitesuperfs.testing.CliMount;
import dev.sqlitesuperfs.testing.CliProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A follower reading from a hot standby while the writer commits on the primary: it mounts
 * although the standby may not have applied the last commit the writer's anchor on this machine
 * records yet, and follows the writer's SQLite commits as the standby applies them.
 */
class FollowerStandbyTest {
    private static final long DEADLINE_NANOS = 60_000_000_000L;

    @TempDir
    Path state;

    @Test
    void followsTheWriterThroughAHotStandby() throws Exception {
        try (StandbyPair pair = StandbyPair.start(state.resolve("pair"), false);
             CliMount writerMount = CliMount.freshIn(pair.primaryUrl())) {
            try (Connection writer = DriverManager.getConnection("jdbc:sqlite:" + writerMount.path("app.db"));
                 Statement w = writer.createStatement()) {
                w.execute("PRAGMA journal_mode=WAL");
                w.execute("PRAGMA synchronous=FULL");
                w.execute("CREATE TABLE t(id INTEGER PRIMARY KEY)");
                w.execute("INSERT INTO t VALUES (1)");
                Path dir = Files.createDirectory(state.resolve("follower"));
                try (CliProcess follower = CliProcess.start(CliMount.env(pair.standbyUrl()), "mount", "--kdf",
                        "interactive", "--read-only", writerMount.namespace(), dir.toString())) {
                    follower.awaitMounted(CliMount.READY);
                    Properties readOnly = new Properties();
                    readOnly.setProperty("open_mode", "1");
                    readOnly.setProperty("busy_timeout", "30000");
                    try (Connection reader = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("app.db"), readOnly)) {
                        for (int id = 2; id <= 30; id++) {
                            w.execute("INSERT INTO t VALUES (" + id + ")");
                        }
                        long deadline = System.nanoTime() + DEADLINE_NANOS;
                        long seen = maxId(reader);
                        while (seen != 30 && System.nanoTime() < deadline) {
                            Thread.sleep(20);
                            long now = maxId(reader);
                            assertThat(now).as("never back").isGreaterThanOrEqualTo(seen);
                            seen = now;
                        }
                        assertThat(seen).isEqualTo(30);
                    }
                    follower.signal("TERM");
                    assertThat(follower.waitFor(CliMount.READY)).as(follower.stderr()).isZero();
                }
            }
        }
    }

    private static long maxId(Connection reader) throws Exception {
        try (Statement s = reader.createStatement(); ResultSet r = s.executeQuery("SELECT max(id) FROM t")) {
            r.next();
            return r.getLong(1);
        }
    }
}
