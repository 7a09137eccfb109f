package dev.sqlitesuperfs.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.testing.CliMount;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * SQLite on a follower (a read-only mount beside the namespace's writer, here both real mount
 * processes) sees only states the writer committed, in the rollback-journal modes and in WAL mode:
 * while the writer commits transactions of 1 to 60 rows (some with large rows, so that a commit
 * changes many pages) and keeps a row counter
 * in step, a reader on the follower runs count(*) against the counter in one statement, and
 * integrity_check, in a loop. Every pair agrees, every count is one the writer committed, counts
 * never go backwards, integrity is always ok, and the last commit arrives.
 */
class FollowerSqliteTest {
    private static final long RUN_NANOS = 8_000_000_000L;
    private static final long DEADLINE_NANOS = 60_000_000_000L;

    @ParameterizedTest
    @ValueSource(strings = {"DELETE", "TRUNCATE"})
    void readersSeeOnlyCommittedStates(String mode) throws Exception {
        readersSeeOnlyCommittedStates(mode, 1000);
    }

    /**
     * WAL mode, with a checkpoint every 20 pages so that the writer restarts its WAL often. A
     * reader on a follower builds its WAL index in its own memory and keeps it between
     * transactions; one built while the WAL held a new generation's header and no commit yet was
     * blind to that generation's commits and read the database while the writer checkpointed them
     * into it. This failed within seconds (count(*) behind the counter, or the last commit never
     * seen) until the follower showed such a WAL as empty ({@code fs.WalFiles}).
     */
    @Test
    void walReadersSeeOnlyCommittedStatesAcrossWalRestarts() throws Exception {
        readersSeeOnlyCommittedStates("WAL", 20);
    }

    /**
     * The writer's mount is killed (SIGKILL) in the middle of its commit loop and mounted again,
     * and a new writer goes on: the follower serves consistent states throughout (a state with a
     * hot journal or a torn WAL holds its readers back until the new writer has recovered), then
     * follows the new writer, and has every commit the first one saw acknowledged.
     */
    @ParameterizedTest
    @ValueSource(strings = {"WAL", "DELETE"})
    void aFollowerOutlivesItsWriterKilledMidCommit(String mode) throws Exception {
        try (CliMount writerMount = CliMount.fresh()) {
            Path db = writerMount.path("app.db");
            AtomicLong acknowledged = new AtomicLong();
            // kept open until the kill: SQLite removes a WAL database's -wal and -shm with its last connection
            Connection first = DriverManager.getConnection("jdbc:sqlite:" + db);
            try (Statement s = first.createStatement()) {
                s.execute("PRAGMA journal_mode=" + mode);
                s.execute("PRAGMA synchronous=FULL");
                s.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB NOT NULL)");
                s.execute("INSERT INTO t VALUES (1, randomblob(500))");
                acknowledged.set(1);
            }
            try (CliMount followerMount = writerMount.follower();
                 Connection reader = readOnly(followerMount.path("app.db"))) {
                AtomicBoolean stop = new AtomicBoolean();
                AtomicReference<Throwable> readerFailed = new AtomicReference<>();
                AtomicLong seen = new AtomicLong();
                Thread reading = Thread.ofPlatform().start(() -> {
                    try {
                        while (!stop.get()) {
                            long now = consistentMaxId(reader);
                            assertThat(now).as("never back").isGreaterThanOrEqualTo(seen.get());
                            seen.set(now);
                            Thread.sleep(2);
                        }
                    } catch (Throwable e) {
                        readerFailed.set(e);
                    }
                });
                Thread committing = Thread.ofPlatform().start(() -> commitUntilItFails(db, acknowledged));
                long killAt = acknowledged.get() + 30 + new SplittableRandom().nextInt(30);
                long deadline = System.nanoTime() + DEADLINE_NANOS;
                while (acknowledged.get() < killAt && committing.isAlive() && System.nanoTime() < deadline) {
                    Thread.sleep(1);
                }
                writerMount.kill();
                committing.join();
                closeQuietly(first);
                long beforeKill = acknowledged.get();
                writerMount.mount();
                try (Connection writer = DriverManager.getConnection("jdbc:sqlite:" + db);
                     Statement s = writer.createStatement()) {
                    s.execute("PRAGMA synchronous=FULL");
                    try (ResultSet r = s.executeQuery("SELECT max(id) FROM t")) {
                        r.next();
                        assertThat(r.getLong(1)).as("acknowledged before the kill").isGreaterThanOrEqualTo(beforeKill);
                        acknowledged.set(r.getLong(1));
                    }
                    for (int i = 0; i < 10; i++) {
                        s.execute("INSERT INTO t VALUES (" + (acknowledged.get() + 1) + ", randomblob(500))");
                        acknowledged.incrementAndGet();
                    }
                    // the writer stays open meanwhile (see above)
                    while (seen.get() != acknowledged.get() && readerFailed.get() == null
                            && System.nanoTime() < deadline) {
                        Thread.sleep(20);
                    }
                    stop.set(true);
                    reading.join();
                    assertThat(readerFailed.get()).as("the reader").isNull();
                    assertThat(seen.get()).as("the new writer's last commit, on the follower").isEqualTo(acknowledged.get());
                    assertThat(integrity(reader)).isEqualTo("ok");
                }
            }
        }
    }

    private static void closeQuietly(Connection c) {
        try {
            c.close();
        } catch (SQLException e) {
            // its mount is gone
        }
    }

    /** Commits one row at a time, counting the acknowledged ones, until the mount under it dies. */
    private static void commitUntilItFails(Path db, AtomicLong acknowledged) {
        try (Connection writer = DriverManager.getConnection("jdbc:sqlite:" + db); Statement s = writer.createStatement()) {
            s.execute("PRAGMA synchronous=FULL");
            for (;;) {
                s.execute("INSERT INTO t VALUES (" + (acknowledged.get() + 1) + ", randomblob(500))");
                acknowledged.incrementAndGet();
            }
        } catch (SQLException expected) {
            // the mount was killed
        }
    }

    /** max(id), checked against count(*) in the same statement (ids are dense): a torn state fails. */
    static long consistentMaxId(Connection reader) throws SQLException {
        try (Statement s = reader.createStatement();
             ResultSet r = s.executeQuery("SELECT max(id), count(*) FROM t")) {
            r.next();
            assertThat(r.getLong(1)).as("max(id) against count(*)").isEqualTo(r.getLong(2));
            return r.getLong(1);
        }
    }

    private void readersSeeOnlyCommittedStates(String mode, int autocheckpointPages) throws Exception {
        try (CliMount writerMount = CliMount.fresh()) {
            Path db = writerMount.path("app.db");
            Set<Long> committed = ConcurrentHashMap.newKeySet();
            AtomicBoolean stop = new AtomicBoolean();
            AtomicReference<Throwable> writerFailed = new AtomicReference<>();
            try (Connection writer = DriverManager.getConnection("jdbc:sqlite:" + db)) {
                try (Statement s = writer.createStatement()) {
                    s.execute("PRAGMA journal_mode=" + mode);
                    s.execute("PRAGMA synchronous=FULL");
                    s.execute("PRAGMA wal_autocheckpoint=" + autocheckpointPages);
                    s.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB NOT NULL)");
                    s.execute("CREATE TABLE counter(n INTEGER NOT NULL)");
                    s.execute("INSERT INTO counter VALUES (0)");
                }
                committed.add(0L);
                try (CliMount followerMount = writerMount.follower()) {
                    Thread writing = Thread.ofPlatform().start(() -> {
                        try {
                            write(writer, committed, stop);
                        } catch (Throwable e) {
                            writerFailed.set(e);
                        }
                    });
                    List<Long> seen = new ArrayList<>();
                    try (Connection reader = readOnly(followerMount.path("app.db"))) {
                        long end = System.nanoTime() + RUN_NANOS;
                        int reads = 0;
                        while (System.nanoTime() < end && writerFailed.get() == null) {
                            long[] pair = countAndCounter(reader);
                            assertThat(pair[0]).as("count(*) and the counter, read in one statement").isEqualTo(pair[1]);
                            if (!seen.isEmpty()) {
                                assertThat(pair[0]).as("counts never go backwards").isGreaterThanOrEqualTo(seen.getLast());
                            }
                            seen.add(pair[0]);
                            if (++reads % 10 == 0) {
                                assertThat(integrity(reader)).isEqualTo("ok");
                            }
                        }
                        stop.set(true);
                        writing.join();
                        assertThat(writerFailed.get()).as("the writer").isNull();
                        long last = committed.stream().mapToLong(Long::longValue).max().orElseThrow();
                        long deadline = System.nanoTime() + DEADLINE_NANOS;
                        long now = countAndCounter(reader)[0];
                        while (now != last && System.nanoTime() < deadline) {
                            Thread.sleep(20);
                            now = countAndCounter(reader)[0];
                        }
                        assertThat(now).as("the writer's last commit, on the follower").isEqualTo(last);
                        assertThat(integrity(reader)).isEqualTo("ok");
                    }
                    assertThat(committed).as("every count read is one the writer committed").containsAll(seen);
                    assertThat(seen.stream().distinct().count()).as("distinct states read while writing").isGreaterThan(2);
                    System.out.printf("follower %s: %d reads, %d distinct states of %d commits%n", mode, seen.size(),
                            seen.stream().distinct().count(), committed.size());
                }
            }
        }
    }

    private static void write(Connection writer, Set<Long> committed, AtomicBoolean stop) throws SQLException {
        SplittableRandom random = new SplittableRandom(42);
        long rows = 0;
        try (PreparedStatement insert = writer.prepareStatement("INSERT INTO t(v) VALUES (?)");
             PreparedStatement count = writer.prepareStatement("UPDATE counter SET n = ?");
             Statement s = writer.createStatement()) {
            while (!stop.get()) {
                int n = 1 + random.nextInt(60);
                int size = random.nextInt(5) == 0 ? 3000 : 40;
                s.execute("BEGIN");
                for (int i = 0; i < n; i++) {
                    byte[] v = new byte[size];
                    random.nextBytes(v);
                    insert.setBytes(1, v);
                    insert.executeUpdate();
                }
                rows += n;
                count.setLong(1, rows);
                count.executeUpdate();
                s.execute("COMMIT");
                committed.add(rows);
            }
        }
    }

    /** A read-only connection, as a replica's reader opens one, waiting out a busy follower. */
    static Connection readOnly(Path db) throws SQLException {
        Properties p = new Properties();
        p.setProperty("open_mode", "1"); // SQLITE_OPEN_READONLY
        p.setProperty("busy_timeout", "30000");
        return DriverManager.getConnection("jdbc:sqlite:" + db, p);
    }

    private static long[] countAndCounter(Connection reader) throws SQLException {
        try (Statement s = reader.createStatement();
             ResultSet r = s.executeQuery("SELECT (SELECT count(*) FROM t), (SELECT n FROM counter)")) {
            r.next();
            return new long[] {r.getLong(1), r.getLong(2)};
        }
    }

    private static String integrity(Connection reader) throws SQLException {
        try (Statement s = reader.createStatement(); ResultSet r = s.executeQuery("PRAGMA integrity_check")) {
            r.next();
            return r.getString(1);
        }
    }
}
