package dev.sqlitesuperfs.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.sqlitesuperfs.cli.ExitCode;
import dev.sqlitesuperfs.localpg.StandbyPair;
import dev.sqlitesuperfs.testing.ChildJava;
import dev.sqlitesuperfs.testing.CliMount;
import dev.sqlitesuperfs.testing.CliProcess;
import dev.sqlitesuperfs.testing.LogCapture;
import dev.sqlitesuperfs.testing.TestMount;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Failover to a synchronous standby, with two real clusters on loopback ports: the primary's
 * machine dies (SIGKILL of every process of it) while SQLite commits through the mount, the
 * standby is promoted, and the same mount goes on writing there with every commit it
 * acknowledged; the old primary, started again by mistake, never gets a write.
 *
 * <p>The mount and the SQLite writer are processes of their own (as in {@link CrashTest}): SQLite
 * maps the WAL index of a database in WAL mode, and a process that both serves a FUSE mount and
 * faults on a mapping of it can deadlock against itself.
 */
class FailoverTest {
    private static final Duration GENEROUS = Duration.ofSeconds(90);

    @TempDir
    Path state;

    @Test
    void theSameMountGoesOnWritingOnThePromotedStandbyWithEveryAcknowledgedCommit() throws Exception {
        failoverCycles("WAL", 1, 1);
    }

    @Test
    @Tag("slow")
    void fiveFailoversInWalAndDeleteModeAtRandomMomentsLoseNoAcknowledgedCommit() throws Exception {
        failoverCycles("WAL", 5, 2);
        failoverCycles("DELETE", 5, 3);
    }

    /**
     * {@code cycles} times, each with a pair and a namespace of its own (a promoted standby has no
     * standby of its own): commit, kill the primary after a random number of commits, promote the
     * standby after a random pause, see the same mount go on there.
     */
    private void failoverCycles(String mode, int cycles, long seed) throws Exception {
        SplittableRandom random = new SplittableRandom(seed);
        for (int cycle = 0; cycle < cycles; cycle++) {
            try (StandbyPair pair = StandbyPair.start(state.resolve(mode + cycle), true);
                    CliMount mount = CliMount.freshIn(pair.url(), "--db-timeout", "30")) {
                Writer writer = new Writer(mount.path("app.db"), mode, state.resolve(mode + cycle + ".record"), 1);
                writer.awaitAcknowledged(20 + random.nextInt(200));
                pair.killPrimary();
                long killed = System.nanoTime();
                long acknowledgedAtKill = writer.acknowledged();
                Thread.sleep(random.nextInt(1000));
                pair.promoteStandby();
                writer.awaitAcknowledged(acknowledgedAtKill + 100);
                System.out.printf("failover %s cycle %d: %d ms from the kill to the next acknowledged commit%n", mode,
                        cycle, (writer.firstCommittedAfter(killed) - killed) / 1_000_000);
                assertThat(writer.stop()).as("the writer's exit: no commit failed across the failover").isZero();
                long acknowledged = writer.acknowledged();

                mount.unmount();
                mount.assertFsckClean();
                assertThat(mount.check()).isEmpty();
                mount.mount();
                try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + mount.path("app.db"));
                        Statement s = c.createStatement()) {
                    assertThat(text(s, "PRAGMA integrity_check")).isEqualTo("ok");
                    assertThat(text(s, "SELECT count(*) FROM " + SqliteCommitWriter.TABLE + " WHERE id <= "
                            + acknowledged)).isEqualTo(Long.toString(acknowledged));
                }
            }
        }
    }

    /**
     * The old primary comes back as a primary (no rewind, no standby.signal): a second mount of
     * this machine pointed at it is refused by the anchor; and the running mount, whose URL lists
     * it first, never writes to it when it reconnects: it refuses a server that lacks commits it
     * saw confirmed, and writes on once pgjdbc reaches the promoted standby again.
     */
    @Test
    void anOldPrimaryThatComesBackNeverGetsAWrite() throws Exception {
        try (StandbyPair pair = StandbyPair.start(state.resolve("pair"), true);
                CliMount mount = CliMount.freshIn(pair.url(), "--db-timeout", "30")) {
            Writer writer = new Writer(mount.path("app.db"), "WAL", state.resolve("first.record"), 1);
            writer.awaitAcknowledged(50);
            pair.killPrimary();
            pair.promoteStandby();
            writer.awaitAcknowledged(writer.acknowledged() + 50);
            assertThat(writer.stop()).isZero();

            pair.restartOldPrimary();
            String meta = "\"" + mount.namespace() + "\".meta";
            long oldCommit = StandbyPair.<Long>query(pair.primaryConfig(), "SELECT last_commit FROM " + meta);
            long newCommit = StandbyPair.<Long>query(pair.standbyConfig(), "SELECT last_commit FROM " + meta);
            assertThat(oldCommit).isLessThan(newCommit);

            // A second mount on this machine, pointed at the old primary alone: older than the anchor.
            Path elsewhere = Files.createTempDirectory(state, "second");
            try (CliProcess second = CliProcess.run(CliMount.env(pair.primaryUrl()), CliMount.READY, "mount", "--kdf",
                    "interactive", mount.namespace(), elsewhere.toString())) {
                assertThat(second.exitCode()).as(second.stderr()).isEqualTo(ExitCode.ROLLED_BACK.code());
            }

            // The mount's sessions end; pgjdbc's next try reaches the old primary, listed first.
            StandbyPair.query(pair.standbyConfig(), "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    + " WHERE application_name LIKE 'sqlitesuperfs:%'");
            long first = writer.acknowledged() + 1;
            Writer more = new Writer(mount.path("app.db"), "WAL", state.resolve("more.record"), first);
            try {
                long deadline = System.nanoTime() + GENEROUS.toNanos();
                while (!mount.output().contains("not writing there") && System.nanoTime() < deadline) {
                    Thread.sleep(20);
                }
                assertThat(StandbyPair.<Long>query(pair.primaryConfig(), "SELECT last_commit FROM " + meta))
                        .as("the old primary's last commit").isEqualTo(oldCommit);
                assertThat(mount.output()).as("the mount refused the old primary").contains("not writing there");
                pair.stopOldPrimary();
                more.awaitAcknowledged(first + 4);
            } catch (AssertionError | RuntimeException e) {
                more.kill();
                throw e;
            }
            assertThat(more.stop()).isZero();
            assertThat(StandbyPair.<Long>query(pair.standbyConfig(), "SELECT last_commit FROM " + meta))
                    .isGreaterThan(newCommit);
        }
    }

    @Test
    void requireSyncStandbyRefusesAServerWhoseCommitsDoNotWaitForAStandby() {
        RuntimeException alone = catchThrowableOfType(RuntimeException.class,
                () -> TestMount.fresh("--require-sync-standby").close());
        assertThat(alone).isNotNull();
        assertThat(ExitCode.of(alone)).isEqualTo(ExitCode.DATABASE);
        assertThat(alone.getMessage()).contains("does not replicate synchronously (no standby streams from it)",
                "--require-sync-standby refuses to mount");

        try (StandbyPair pair = StandbyPair.start(state.resolve("async"), false)) {
            RuntimeException async = catchThrowableOfType(RuntimeException.class,
                    () -> TestMount.freshIn(pair.config(), "--require-sync-standby").close());
            assertThat(async).isNotNull();
            assertThat(async.getMessage()).contains("1 standby(s) stream from it, and synchronous_standby_names is empty");
            try (LogCapture log = LogCapture.of("dev.sqlitesuperfs.cli.NamespaceMount");
                    TestMount mount = TestMount.freshIn(pair.config())) {
                assertThat(mount.root()).isDirectory();
                assertThat(log.lines()).anySatisfy(line -> assertThat(line).contains("replicates only asynchronously",
                        "a failover can lose the last commits"));
            }
        }
    }

    private static String text(Statement s, String sql) throws java.sql.SQLException {
        try (ResultSet rows = s.executeQuery(sql)) {
            rows.next();
            return rows.getString(1);
        }
    }

    /** A {@link SqliteCommitWriter} process committing through the mount, and its record. */
    static final class Writer {
        private final ChildJava child;
        private final Path record;
        private final long firstId;

        Writer(Path db, String mode, Path record, long firstId) {
            this.record = record;
            this.firstId = firstId;
            child = ChildJava.start(null, SqliteCommitWriter.class, db.toString(), mode, record.toString(),
                    Long.toString(firstId), "7", "small");
            String ready = child.receive();
            if (!ready.equals("ready")) {
                child.close();
                throw new AssertionError("the writer did not start: " + ready);
            }
        }

        /** The highest row id of a recorded (acknowledged) transaction; ids count up from the first. */
        long acknowledged() {
            List<String> lines = CrashChild.recordedLines(record);
            return lines.isEmpty() ? firstId - 1 : Long.parseLong(lines.getLast().split(" ")[1]);
        }

        void awaitAcknowledged(long id) throws InterruptedException {
            long deadline = System.nanoTime() + GENEROUS.toNanos();
            while (acknowledged() < id) {
                if (!child.isAlive()) {
                    throw new AssertionError("the writer ended: " + child.receive());
                }
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("rows up to " + acknowledged() + " of " + id + " in " + GENEROUS);
                }
                Thread.sleep(10);
            }
        }

        /** When the first transaction acknowledged after {@code nanos} (System.nanoTime) returned. */
        long firstCommittedAfter(long nanos) {
            for (String line : CrashChild.recordedLines(record)) {
                long committed = Long.parseLong(line.split(" ")[3]);
                if (committed > nanos) {
                    return committed;
                }
            }
            return nanos;
        }

        /** Ends the writer at once, whatever it is doing. */
        void kill() {
            child.close();
        }

        /** Stops the writer; its exit code (0 unless a call failed). */
        int stop() {
            return child.finish();
        }
    }
}
