package dev.sqlitesuperfs.it;

import static dev.sqlitesuperfs.testing.Posix.errnoOf;
import static dev.sqlitesuperfs.fuse.Errno.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sqlitesuperfs.follow.WriterFollower;
import dev.sqlitesuperfs.localpg.StopMode;
import dev.sqlitesuperfs.testing.LogCapture;
import dev.sqlitesuperfs.testing.Posix;
import dev.sqlitesuperfs.testing.TestMount;
import dev.sqlitesuperfs.testing.TestPostgres;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.sqlite.SQLiteException;

/**
 * The mount outlives PostgreSQL going away: what must be durable (here: fsync) waits, then works
 * again without a remount.
 */
class PostgresOutageTest {
    private static final int SQLITE_IOERR = 10;

    @Test
    void aPostgresCrashAndRestartUnderTheMountLosesNothing() throws Exception {
        // A --db-timeout far longer than the server can take to come back, however busy the machine.
        try (TestMount mount = TestMount.fresh("--db-timeout", "3600")) {
            writeSynced(mount.path("before"), "committed before the crash");
            TestPostgres.server().stopServer(StopMode.IMMEDIATE);
            CompletableFuture<Void> during = new CompletableFuture<>();
            try {
                // an fsync while PostgreSQL is down waits for it (within --db-timeout) ...
                Thread writer = Thread.ofPlatform().name("outage-fsync").start(() -> {
                    try {
                        writeSynced(mount.path("during"), "written while the server was down");
                        during.complete(null);
                    } catch (RuntimeException | Error e) {
                        during.completeExceptionally(e);
                    }
                });
                // ... which it is only once the fsync is under way: waited for, not guessed with a sleep
                awaitInFsync(writer, during);
                assertThat(during).isNotDone();
            } finally {
                TestPostgres.server().startServer();
            }
            during.get(10, TimeUnit.MINUTES);
            // ... and the mount goes on without being remounted
            writeSynced(mount.path("after"), "written after the restart");
            mount.remount();
            assertThat(Files.readString(mount.path("before"))).isEqualTo("committed before the crash");
            assertThat(Files.readString(mount.path("during"))).isEqualTo("written while the server was down");
            assertThat(Files.readString(mount.path("after"))).isEqualTo("written after the restart");
        }
    }

    /**
     * Past --db-timeout an fsync fails with EIO, and what it could not store is lost as a whole,
     * as a local filesystem loses a page whose writeback failed: the file reads as what storage
     * holds, never as data that was not stored, and the log says which file and how much. Names
     * (the creation of the file) are kept and stored once PostgreSQL is back; the mount then
     * works as before.
     */
    @Test
    void pastTheTimeoutCallsFailWithEioAndTheMountRecovers() throws Exception {
        try (TestMount mount = TestMount.fresh("--db-timeout", "2")) {
            Path f = mount.path("file");
            writeSynced(f, "v1");
            Path refused = mount.path("refused");
            int fd = Posix.open(refused, Posix.O_RDWR | Posix.O_CREAT | Posix.O_TRUNC, 0644);
            try (LogCapture log = LogCapture.of(fileContentsClass())) {
                Posix.write(fd, "not stored before the timeout".getBytes(StandardCharsets.UTF_8));
                TestPostgres.server().stopServer(StopMode.IMMEDIATE);
                try {
                    assertThat(errnoOf(() -> Posix.fsync(fd))).isEqualTo(EIO);
                } finally {
                    TestPostgres.server().startServer();
                }
                // the kernel keeps the size it counted (with the writeback cache it never takes a
                // smaller one from the mount), but no byte past what storage holds is served
                assertThat(errnoOf(() -> Posix.pread(fd, 100, 0))).isEqualTo(EIO);
                assertThat(log.lines()).as("the mount's --db-timeout, not a default").anySatisfy(line -> assertThat(line)
                        .contains("inode " + Posix.fstat(fd).ino() + ": written data not stored and lost",
                                "unavailable for longer than 2 s"));
            } finally {
                // the fsync reported the loss to this handle: its close does not report it again
                Posix.close(fd);
            }
            writeSynced(f, "v2");
            mount.remount();
            assertThat(Files.readString(f)).isEqualTo("v2");
            assertThat(Files.readString(refused)).isEmpty();
        }
    }

    /**
     * Past --db-timeout a read that needs PostgreSQL fails with ETIMEDOUT, not EIO: SQLite takes an
     * EIO from read() for a damaged disk and reports SQLITE_CORRUPT, which would tell an
     * application its database is broken when the storage is only away (a follower across a
     * failover did, now and then). SQLite reports an I/O error instead (and ends the read
     * transaction), and the same connection reads the whole table once PostgreSQL is back.
     */
    @Test
    void pastTheTimeoutReadsFailWithEtimedoutWhichSqliteReportsAsAnIoErrorNotAsCorruption() throws Exception {
        try (TestMount mount = TestMount.fresh("--db-timeout", "2")) {
            Path db = mount.path("app.db");
            try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db); Statement s = c.createStatement()) {
                s.execute("CREATE TABLE t(v BLOB NOT NULL)");
                s.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 4000)"
                        + " INSERT INTO t SELECT randomblob(1000) FROM n");
            }
            mount.remount(); // nothing of the table cached, by the mount or by the kernel
            int fd = Posix.open(db, Posix.O_RDONLY, 0);
            try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db); Statement s = c.createStatement()) {
                s.execute("BEGIN");
                try (ResultSet r = s.executeQuery("SELECT count(*) FROM sqlite_master")) {
                    assertThat(r.next()).isTrue(); // the read transaction holds its lock from here
                }
                TestPostgres.server().stopServer(StopMode.IMMEDIATE);
                try {
                    assertThat(errnoOf(() -> Posix.pread(fd, 4096, 3L << 20))).isEqualTo(ETIMEDOUT);
                    assertThatThrownBy(() -> s.executeQuery("SELECT sum(length(v)) FROM t"))
                            .isInstanceOfSatisfying(SQLiteException.class, PostgresOutageTest::assertIoError);
                } finally {
                    TestPostgres.server().startServer();
                }
                // reads may still time out (2 s here) while the restarted server gets going on a busy machine
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                long sum = -1;
                while (sum < 0) {
                    try (ResultSet r = s.executeQuery("SELECT sum(length(v)) FROM t")) {
                        assertThat(r.next()).isTrue();
                        sum = r.getLong(1);
                    } catch (SQLiteException e) {
                        assertIoError(e);
                        assertThat(System.nanoTime()).as("read again within 60 s of the restart").isLessThan(deadline);
                        Thread.sleep(100);
                    }
                }
                assertThat(sum).isEqualTo(4_000_000L);
            } finally {
                Posix.close(fd);
            }
        }
    }

    /**
     * A follower fails a read that needs PostgreSQL at once when its snapshot is lost (a retry in
     * a new snapshot would answer from another state), and with ETIMEDOUT as well: this is what
     * made SQLite on a follower report a corrupt database across a failover, now and then
     * ({@code FollowerFailoverTest}). Once the server answers again, the follower renews its
     * snapshot at its next poll (not at its idle renewal, up to 5 s later, when the writer commits
     * nothing): when it logs that it follows again, the read works.
     */
    @Test
    void aFollowersReadWhileNoServerAnswersFailsWithEtimedoutAndWorksOnceItIsBack() throws Exception {
        try (TestMount writer = TestMount.fresh()) {
            Path file = writer.path("data");
            byte[] data = new byte[1 << 20];
            new SplittableRandom(7).nextBytes(data);
            Files.write(file, data);
            try (FileChannel c = FileChannel.open(file, StandardOpenOption.WRITE)) {
                c.force(true);
            }
            try (TestMount follower = writer.sameNamespaceElsewhere("--read-only", "--db-timeout", "2");
                 LogCapture log = LogCapture.of(WriterFollower.class)) {
                int fd = Posix.open(follower.path("data"), Posix.O_RDONLY, 0);
                try {
                    TestPostgres.server().stopServer(StopMode.IMMEDIATE);
                    try {
                        assertThat(errnoOf(() -> Posix.pread(fd, 4096, 512 << 10))).isEqualTo(ETIMEDOUT);
                        log.awaitLine("cannot follow its writer", Duration.ofSeconds(60));
                    } finally {
                        TestPostgres.server().startServer();
                    }
                    log.awaitLine("following its writer again", Duration.ofSeconds(60));
                    assertThat(Posix.pread(fd, 4096, 512 << 10))
                            .isEqualTo(Arrays.copyOfRange(data, 512 << 10, (512 << 10) + 4096));
                } finally {
                    Posix.close(fd);
                }
            }
        }
    }

    private static void assertIoError(SQLiteException e) {
        assertThat(e.getResultCode().code & 0xff).as("%s", e.getMessage()).isEqualTo(SQLITE_IOERR);
    }

    /** The class that logs lost written data (package-private in fs). */
    private static Class<?> fileContentsClass() throws ClassNotFoundException {
        return Class.forName("dev.sqlitesuperfs.fs.WriteBuffer");
    }

    /**
     * Waits until {@code thread} is inside fsync(2), as /proc/self/task/TID/syscall shows (the
     * number of the system call a thread is blocked in), or until {@code done} (the call did not
     * wait at all: the assertion that follows says so).
     */
    private static void awaitInFsync(Thread thread, CompletableFuture<Void> done) throws Exception {
        String fsync = switch (System.getProperty("os.arch")) {
            case "amd64", "x86_64" -> "74";
            case "aarch64" -> "82";
            default -> throw new org.opentest4j.TestAbortedException("fsync's number on " + System.getProperty("os.arch"));
        };
        String comm = thread.getName().length() > 15 ? thread.getName().substring(0, 15) : thread.getName();
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
        while (!done.isDone()) {
            try (var tasks = Files.list(Path.of("/proc/self/task"))) {
                for (Path task : tasks.toList()) {
                    try {
                        if (Files.readString(task.resolve("comm")).strip().equals(comm)
                                && Files.readString(task.resolve("syscall")).startsWith(fsync + " ")) {
                            return;
                        }
                    } catch (java.io.IOException gone) {
                        // a thread that ended meanwhile
                    }
                }
            }
            assertThat(System.nanoTime()).as("%s inside fsync in time", thread.getName()).isLessThan(deadline);
            Thread.sleep(20);
        }
    }

    private static void writeSynced(Path file, String content) {
        int fd = Posix.open(file, Posix.O_WRONLY | Posix.O_CREAT | Posix.O_TRUNC, 0644);
        try {
            Posix.write(fd, content.getBytes(StandardCharsets.UTF_8));
            Posix.fsync(fd);
        } finally {
            Posix.close(fd);
        }
    }
}
