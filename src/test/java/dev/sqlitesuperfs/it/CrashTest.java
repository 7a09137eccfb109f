package dev.sqlitesuperfs.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.localpg.StopMode;
import dev.sqlitesuperfs.testing.ChildJava;
import dev.sqlitesuperfs.testing.CliMount;
import dev.sqlitesuperfs.testing.TestPostgres;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SplittableRandom;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Crash safety of what the durability contract promises, with the real command line as the mount
 * and writers in separate processes that record on local disk only what the filesystem
 * acknowledged (see {@link CrashChild}):
 * <ul>
 * <li>a SQLite COMMIT that returned with {@code synchronous=FULL} survives SIGKILL of the mount and
 *     a crash of PostgreSQL, in every journal mode;
 * <li>a file whose fsync returned, and whose directory was fsynced after its creation or rename,
 *     survives with its content;
 * <li>a rename over an existing file leaves the old or the new version, never a mix.
 * </ul>
 * Nothing here assumes that a close or a create without fsync is durable.
 *
 * <p>Every test prints its seed; {@code -Dcrash.seed=N} makes the same choices again (journal
 * modes, kill moments, outage lengths, contents), though the moment a kill lands in the writer's
 * work also depends on timing. {@code -Dcrash.cycles=N} sets the SIGKILL cycles of the slow
 * SQLite test (50), {@code -Dcrash.fileCycles=N} those of the slow file test (20).
 */
class CrashTest {
    private static final List<String> JOURNAL_MODES = List.of("DELETE", "TRUNCATE", "PERSIST", "WAL");
    /** A safety limit: a writer whose mount died ends within this, or something hangs. */
    private static final Duration WRITER_EXIT = Duration.ofSeconds(60);
    /** A safety limit for a writer to get some work acknowledged. */
    private static final Duration PROGRESS = Duration.ofSeconds(90);
    /** With big transactions: the longest from the start of a big COMMIT to the SIGKILL. */
    private static final int MAX_KILL_INTO_BIG_COMMIT_MS = 120;
    /** The longest the writer works between its first acknowledged unit of a cycle and the SIGKILL. */
    private static final int MAX_KILL_DELAY_MS = 1_500;
    /** The mount's --db-timeout when PostgreSQL comes back in time. */
    private static final int SHORT_OUTAGE_DB_TIMEOUT_S = 30;
    /** The mount's --db-timeout when PostgreSQL stays away longer. */
    private static final int LONG_OUTAGE_DB_TIMEOUT_S = 3;

    private Path records;

    @BeforeEach
    void setUp() throws IOException {
        records = Files.createTempDirectory("sqlitesuperfs-crash-records-");
    }

    @AfterEach
    void tearDown() {
        TestPostgres.deleteRecursively(records);
    }

    /** The test's random choices; SplittableRandom, whose first values differ even for seeds 1, 2, 3. */
    private static SplittableRandom seeded(String test) {
        long seed = Long.getLong("crash.seed", ThreadLocalRandom.current().nextLong(1, Long.MAX_VALUE / 2));
        System.out.println("crash: " + test + " seed " + seed + " (-Dcrash.seed=" + seed + " repeats its choices)");
        return new SplittableRandom(seed);
    }

    // ---- SQLite under SIGKILL of the mount ----

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void sqliteCommitsSurviveSigkillOfTheMount() throws Exception {
        sqliteUnderSigkill("sqliteCommitsSurviveSigkillOfTheMount", 5);
    }

    @Test
    @Tag("slow")
    void sqliteCommitsSurviveFiftySigkillsOfTheMount() throws Exception {
        sqliteUnderSigkill("sqliteCommitsSurviveFiftySigkillsOfTheMount", Integer.getInteger("crash.cycles", 50));
    }

    /**
     * The same with --ordered-journals, in the rollback-journal modes it changes, with transactions
     * of 1 to 2 MiB now and then on a 1 MiB write buffer: the mount stores the database file in the
     * middle of SQLite's commits, which is safe only because the journal's data goes first.
     */
    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void sqliteCommitsSurviveSigkillOfAMountWithOrderedJournals() throws Exception {
        sqliteUnderSigkill("sqliteCommitsSurviveSigkillOfAMountWithOrderedJournals", 8, ORDERED_JOURNALS);
    }

    @Test
    @Tag("slow")
    void sqliteCommitsSurviveThirtySigkillsOfAMountWithOrderedJournals() throws Exception {
        sqliteUnderSigkill("sqliteCommitsSurviveThirtySigkillsOfAMountWithOrderedJournals",
                Integer.getInteger("crash.cycles", 30), ORDERED_JOURNALS);
    }

    /** How a SQLite crash test mounts and writes. */
    private record SqliteSetup(List<String> modes, List<String> mountOptions, boolean bigTransactions) {}

    private static final SqliteSetup DEFAULT_SETUP = new SqliteSetup(JOURNAL_MODES, List.of(), false);
    private static final SqliteSetup ORDERED_JOURNALS = new SqliteSetup(List.of("DELETE", "TRUNCATE", "PERSIST"),
            List.of("--ordered-journals", "--write-buffer", "1M"), true);

    private void sqliteUnderSigkill(String test, int cycles) throws Exception {
        sqliteUnderSigkill(test, cycles, DEFAULT_SETUP);
    }

    /**
     * One database, {@code cycles} times: a writer commits in the next journal mode, the mount is
     * killed at a random moment, fsck must find the namespace clean as the kill left it, and after
     * the next mount every recorded row must be there with its payload and integrity_check ok.
     */
    private void sqliteUnderSigkill(String test, int cycles, SqliteSetup setup) throws Exception {
        SplittableRandom random = seeded(test);
        List<String> modes = setup.modes();
        int firstMode = random.nextInt(modes.size());
        try (CliMount mount = CliMount.fresh(setup.mountOptions().toArray(String[]::new))) {
            SqliteWorkload sqlite = new SqliteWorkload(mount, random.nextLong(), setup.bigTransactions());
            for (int cycle = 0; cycle < cycles; cycle++) {
                String mode = modes.get((firstMode + cycle) % modes.size());
                int killAfterMs = random.nextInt(MAX_KILL_DELAY_MS);
                String context = test + " cycle " + (cycle + 1) + "/" + cycles + " (" + mode + ", kill after "
                        + killAfterMs + " ms)";
                String writerEnd;
                try (ChildJava writer = sqlite.startWriter(mode, cycle)) {
                    if (setup.bigTransactions()) {
                        // into a big commit, while the mount stores the database in parts
                        int intoCommitMs = killAfterMs % MAX_KILL_INTO_BIG_COMMIT_MS;
                        context = test + " cycle " + (cycle + 1) + "/" + cycles + " (" + mode + ", kill " + intoCommitMs
                                + " ms into a big commit)";
                        long bigBefore = sqlite.bigCommitsBegun();
                        awaitRecords(sqlite::bigCommitsBegun, bigBefore + 1, writer, context);
                        writerEnd = killAfter(mount, writer, intoCommitMs, context);
                    } else {
                        writerEnd = killDuring(mount, writer, () -> sqlite.recorded().size(), killAfterMs, context);
                    }
                }
                mount.assertFsckClean();
                mount.mount();
                int rows = sqlite.assertEveryRecordedRowIsThere(context);
                System.out.println("crash: " + context + ": writer " + writerEnd + "; " + sqlite.recorded().size()
                        + " transactions recorded so far, " + rows + " rows in the database");
            }
            assertThat(sqlite.recorded()).as("transactions committed over all cycles").isNotEmpty();
            mount.unmount();
            mount.assertFsckClean();
        }
    }

    /**
     * Waits for the writer's first acknowledged unit of work in this cycle (so that the kill lands
     * in steady work, not in the child JVM's start), lets it work {@code delayMs} more, kills the
     * mount, and waits for the writer to end, which it does when its calls fail on the dead mount.
     * Returns the writer's last line.
     */
    private static String killDuring(CliMount mount, ChildJava writer, LongSupplier recorded, int delayMs,
            String context) throws InterruptedException {
        awaitRecords(recorded, recorded.getAsLong() + 1, writer, context);
        return killAfter(mount, writer, delayMs, context);
    }

    /** Kills the mount {@code delayMs} from now and waits for the writer to end; returns its last line. */
    private static String killAfter(CliMount mount, ChildJava writer, int delayMs, String context)
            throws InterruptedException {
        Thread.sleep(delayMs);
        if (!writer.isAlive()) {
            throw new AssertionError(context + ": the writer ended before the kill: " + writer.receive());
        }
        mount.kill();
        awaitWriterEnd(writer, context, "its mount was killed");
        return writer.receive();
    }

    /** Waits for a writer that must end by itself, {@code because} says why; returns its exit code. */
    private static int awaitWriterEnd(ChildJava writer, String context, String because) {
        try {
            return writer.awaitExit(WRITER_EXIT);
        } catch (AssertionError stillRunning) {
            throw new AssertionError(context + ": the writer still ran " + WRITER_EXIT + " later, although " + because,
                    stillRunning);
        }
    }

    /** No transaction began after PostgreSQL was down and committed before its restart began. */
    private static void assertNothingAcknowledgedWhileDown(List<Transaction> recorded, long down, long restarting,
            String context) {
        assertThat(recorded.stream().filter(t -> t.began() > down && t.committed() < restarting).toList())
                .as(context + ": transactions that began and committed while PostgreSQL was down, so cannot have"
                        + " been stored")
                .isEmpty();
    }

    // ---- SQLite while PostgreSQL crashes under the running mount ----

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void sqliteCommitsStallWhilePostgresIsDownAndResumeWithoutRemount() throws Exception {
        postgresCrashes("sqliteCommitsStallWhilePostgresIsDownAndResumeWithoutRemount", 2, Duration.ofSeconds(5),
                DEFAULT_SETUP);
    }

    @Test
    @Tag("slow")
    void sqliteCommitsSurviveEightPostgresCrashes() throws Exception {
        postgresCrashes("sqliteCommitsSurviveEightPostgresCrashes", 8, Duration.ofSeconds(20), DEFAULT_SETUP);
    }

    @Test
    @Tag("slow")
    void sqliteCommitsSurviveSixPostgresCrashesUnderAMountWithOrderedJournals() throws Exception {
        postgresCrashes("sqliteCommitsSurviveSixPostgresCrashesUnderAMountWithOrderedJournals", 6,
                Duration.ofSeconds(10), ORDERED_JOURNALS);
    }

    /**
     * {@code outages} times on one mount and one database: while a writer commits, PostgreSQL is
     * shut down (immediate: no checkpoint, clients cut off) for a random while up to
     * {@code longestOutage}, shorter than the mount's --db-timeout, and started again. The writer must neither fail nor get a commit
     * acknowledged while PostgreSQL is down, and must commit again afterwards. Every recorded
     * row must be there on the same mount, and after a clean unmount, fsck and a new mount.
     */
    private void postgresCrashes(String test, int outages, Duration longestOutage, SqliteSetup setup)
            throws Exception {
        SplittableRandom random = seeded(test);
        List<String> modes = setup.modes();
        int firstMode = random.nextInt(modes.size());
        List<String> options = new ArrayList<>(setup.mountOptions());
        options.addAll(List.of("--db-timeout", Integer.toString(SHORT_OUTAGE_DB_TIMEOUT_S)));
        try (CliMount mount = CliMount.fresh(options.toArray(String[]::new))) {
            SqliteWorkload sqlite = new SqliteWorkload(mount, random.nextLong(), setup.bigTransactions());
            for (int outage = 0; outage < outages; outage++) {
                String mode = modes.get((firstMode + outage) % modes.size());
                int downMs = 500 + random.nextInt((int) longestOutage.toMillis() - 500);
                String context = test + " outage " + (outage + 1) + "/" + outages + " (" + mode + ", PostgreSQL down "
                        + downMs + " ms)";
                long down;
                long restarting;
                try (ChildJava writer = sqlite.startWriter(mode, outage)) {
                    sqlite.awaitTransactions(sqlite.recorded().size() + 10, writer, context);
                    TestPostgres.server().stopServer(StopMode.IMMEDIATE);
                    try {
                        down = System.nanoTime();
                        Thread.sleep(downMs);
                        restarting = System.nanoTime();
                    } finally {
                        TestPostgres.server().startServer();
                    }
                    sqlite.awaitTransactions(sqlite.recorded().size() + 10, writer, context + ", after the restart");
                    assertThat(writer.finish()).as(context + ": exit code of the writer, which says "
                            + writer.receive()).isZero();
                }
                assertNothingAcknowledgedWhileDown(sqlite.recorded(), down, restarting, context);
                assertThat(sqlite.recorded()).as(context + ": a transaction stalled across the restart")
                        .anyMatch(t -> t.began() < restarting && t.committed() > restarting);
                int rows = sqlite.assertEveryRecordedRowIsThere(context);
                System.out.println("crash: " + context + ": " + sqlite.recorded().size()
                        + " transactions recorded so far, " + rows + " rows in the database");
            }
            mount.unmount();
            mount.assertFsckClean();
            mount.mount();
            sqlite.assertEveryRecordedRowIsThere(test + " after a clean unmount and a new mount");
            mount.unmount();
        }
    }

    /**
     * PostgreSQL stays down longer than --db-timeout: the writer's call fails with an I/O error
     * instead of waiting for ever, nothing recorded is lost, and once PostgreSQL is back the same
     * mount, not remounted, takes a new writer's commits.
     *
     * <p>One outcome is allowed instead of the last: when the immediate shutdown cut a commit off
     * after PostgreSQL had made it durable but before it answered, its caller got EIO, and the
     * mount, learning at its reconnect that the commit went through, stops writing (its memory no
     * longer matches storage) and says so in its log, as the README's durability contract states.
     * Then the test kills it, mounts again and checks the same promises on the new mount.
     */
    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void pastTheDbTimeoutSqliteGetsIoErrorsAndTheSameMountCommitsAgainLater() throws Exception {
        String test = "pastTheDbTimeoutSqliteGetsIoErrorsAndTheSameMountCommitsAgainLater";
        SplittableRandom random = seeded(test);
        String mode = JOURNAL_MODES.get(random.nextInt(JOURNAL_MODES.size()));
        String context = test + " (" + mode + ", --db-timeout " + LONG_OUTAGE_DB_TIMEOUT_S + ")";
        try (CliMount mount = CliMount.fresh("--db-timeout", Integer.toString(LONG_OUTAGE_DB_TIMEOUT_S))) {
            SqliteWorkload sqlite = new SqliteWorkload(mount, random.nextLong());
            try (ChildJava writer = sqlite.startWriter(mode, 0)) {
                sqlite.awaitTransactions(10, writer, context);
                TestPostgres.server().stopServer(StopMode.IMMEDIATE);
                long down;
                long restarting;
                int exitCode;
                try {
                    down = System.nanoTime();
                    exitCode = awaitWriterEnd(writer, context, "PostgreSQL stayed down past --db-timeout");
                    restarting = System.nanoTime();
                } finally {
                    TestPostgres.server().startServer();
                }
                String failure = writer.receive();
                System.out.println("crash: " + context + ": writer " + failure);
                assertThat(exitCode).as(context + ": exit code of the writer, which says " + failure)
                        .isEqualTo(CrashChild.FAILED);
                // SQLite reports a failed read, write, fsync, truncate or unlink as SQLITE_IOERR_*, and
                // a failed open(2) of its journal as SQLITE_CANTOPEN, whatever the errno.
                assertThat(failure).as(context + ": the writer's failure").containsAnyOf("SQLITE_IOERR", "SQLITE_CANTOPEN");
                assertNothingAcknowledgedWhileDown(sqlite.recorded(), down, restarting, context);
            }
            int before = sqlite.recorded().size();
            boolean stoppedWriting = false;
            try (ChildJava writer = sqlite.startWriter(mode, 1)) {
                sqlite.awaitTransactions(before + 10, writer, context + ", after PostgreSQL came back");
                assertThat(writer.finish()).as(context + ": exit code of the second writer, which says "
                        + writer.receive()).isZero();
            } catch (AssertionError e) {
                if (!mount.output().contains(CUT_OFF_COMMIT_WENT_THROUGH)) {
                    throw e;
                }
                stoppedWriting = true;
            }
            if (stoppedWriting) {
                System.out.println("crash: " + context + ": a commit cut off by the shutdown had gone through;"
                        + " the mount stopped writing, as documented; killing it and mounting again");
                // (not read through that mount: the failed writer left a hot journal, whose rollback writes)
                mount.kill();
                mount.assertFsckClean();
                mount.mount();
                before = sqlite.recorded().size();
                try (ChildJava writer = sqlite.startWriter(mode, 2)) {
                    sqlite.awaitTransactions(before + 10, writer, context + ", on a new mount");
                    assertThat(writer.finish()).as(context + ": exit code of the third writer, which says "
                            + writer.receive()).isZero();
                }
            }
            sqlite.assertEveryRecordedRowIsThere(context + " on the same mount");
            mount.unmount();
            mount.assertFsckClean();
            mount.mount();
            int rows = sqlite.assertEveryRecordedRowIsThere(context + " after a clean unmount and a new mount");
            System.out.println("crash: " + context + ": " + sqlite.recorded().size() + " transactions recorded, "
                    + rows + " rows in the database");
            mount.unmount();
        }
    }

    /** What a mount logs when it learns that a commit reported as failed had gone through. */
    static final String CUT_OFF_COMMIT_WENT_THROUGH = "a commit reported as failed while PostgreSQL was away had gone through";

    /** A committed transaction as a writer recorded it: its row ids and when it began and committed. */
    record Transaction(long first, long last, long began, long committed) {
        static Transaction parse(String line) {
            String[] words = line.split(" ");
            return new Transaction(Long.parseLong(words[0]), Long.parseLong(words[1]), Long.parseLong(words[2]),
                    Long.parseLong(words[3]));
        }
    }

    /** One SQLite database on the mount, its writers, and what they recorded. */
    private final class SqliteWorkload {
        private final Path db;
        private final Path record = records.resolve("sqlite-commits");
        private final long seed;
        private final boolean bigTransactions;

        SqliteWorkload(CliMount mount, long seed) {
            this(mount, seed, false);
        }

        SqliteWorkload(CliMount mount, long seed, boolean bigTransactions) {
            this.db = mount.path("crash.db");
            this.seed = seed;
            this.bigTransactions = bigTransactions;
        }

        /** Starts a writer in {@code mode}; ids of run {@code run} never collide with another run's. */
        ChildJava startWriter(String mode, int run) {
            ChildJava writer = ChildJava.start(null, SqliteCommitWriter.class, db.toString(), mode, record.toString(),
                    Long.toString((run + 1) * 100_000_000L), Long.toString(seed + run), bigTransactions ? "big" : "small");
            String first = writer.receive();
            if (!first.equals("ready")) {
                writer.close();
                throw new AssertionError("the " + mode + " writer did not start: " + first);
            }
            return writer;
        }

        List<Transaction> recorded() {
            return CrashChild.recordedLines(record).stream().map(Transaction::parse).toList();
        }

        /** How many big COMMITs writers have begun (see {@link SqliteCommitWriter}). */
        long bigCommitsBegun() {
            Path big = Path.of(record + ".big");
            try {
                return Files.exists(big) ? Files.readAllLines(big).size() : 0;
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }

        /** Waits until {@code count} transactions are recorded; fails if the writer ends first. */
        void awaitTransactions(int count, ChildJava writer, String context) throws InterruptedException {
            awaitRecords(() -> recorded().size(), count, writer, context);
        }

        /**
         * Checks the database from the test process: integrity_check is ok, every row has the
         * payload its writer gave it, and every recorded row is there. Returns the rows found.
         */
        int assertEveryRecordedRowIsThere(String context) throws SQLException {
            Set<Long> present = new HashSet<>();
            List<Long> wrongPayload = new ArrayList<>();
            try (Connection connection = DriverManager.getConnection("jdbc:sqlite:" + db);
                 Statement statement = connection.createStatement()) {
                try (ResultSet rows = statement.executeQuery("PRAGMA integrity_check")) {
                    rows.next();
                    assertThat(rows.getString(1)).as(context + ": integrity_check").isEqualTo("ok");
                }
                // A mount killed before the writer's first commit leaves no table.
                boolean hasTable;
                try (ResultSet rows = statement.executeQuery(
                        "SELECT count(*) FROM sqlite_schema WHERE name = '" + SqliteCommitWriter.TABLE + "'")) {
                    hasTable = rows.next() && rows.getInt(1) == 1;
                }
                if (hasTable) {
                    try (ResultSet rows = statement.executeQuery("SELECT id, payload FROM " + SqliteCommitWriter.TABLE)) {
                        while (rows.next()) {
                            long id = rows.getLong(1);
                            present.add(id);
                            if (!Arrays.equals(rows.getBytes(2), SqliteCommitWriter.payload(id))) {
                                wrongPayload.add(id);
                            }
                        }
                    }
                }
            }
            assertThat(wrongPayload).as(context + ": rows whose payload is not the one written").isEmpty();
            List<Transaction> recorded = recorded();
            List<Transaction> incomplete = recorded.stream()
                    .filter(t -> LongStream.rangeClosed(t.first(), t.last()).anyMatch(id -> !present.contains(id)))
                    .toList();
            assertThat(incomplete).as(context + ": " + incomplete.size() + " of " + recorded.size()
                    + " transactions whose COMMIT returned have rows missing").isEmpty();
            return present.size();
        }
    }

    /** Waits until {@code recorded} reaches {@code count}; fails if the writer ends first or after {@link #PROGRESS}. */
    private static void awaitRecords(LongSupplier recorded, long count, ChildJava writer, String context)
            throws InterruptedException {
        long deadline = System.nanoTime() + PROGRESS.toNanos();
        while (recorded.getAsLong() < count) {
            if (!writer.isAlive()) {
                throw new AssertionError(context + ": the writer ended with " + recorded.getAsLong() + " of " + count
                        + " records: " + writer.receive());
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError(context + ": only " + recorded.getAsLong() + " of " + count
                        + " records after " + PROGRESS);
            }
            Thread.sleep(20);
        }
    }

    // ---- plain files under SIGKILL of the mount ----

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void fsyncedFilesAndRenamesSurviveSigkillOfTheMount() throws Exception {
        filesUnderSigkill("fsyncedFilesAndRenamesSurviveSigkillOfTheMount", 3);
    }

    @Test
    @Tag("slow")
    void fsyncedFilesAndRenamesSurviveTwentySigkillsOfTheMount() throws Exception {
        filesUnderSigkill("fsyncedFilesAndRenamesSurviveTwentySigkillsOfTheMount",
                Integer.getInteger("crash.fileCycles", 20));
    }

    /**
     * {@code cycles} times: a {@link FileWorkloadWriter} creates files and replaces others by
     * rename, the mount is killed at a random moment, fsck must find the namespace clean, and after
     * the next mount the files recorded in this cycle must have their content and each replaced
     * name must hold one whole version. At the end, after a clean unmount and a new mount, every
     * file recorded in any cycle is checked again.
     */
    private void filesUnderSigkill(String test, int cycles) throws Exception {
        SplittableRandom random = seeded(test);
        long contentSeed = random.nextLong();
        Path record = records.resolve("files");
        try (CliMount mount = CliMount.fresh()) {
            Path dir = mount.path("");
            for (int cycle = 0; cycle < cycles; cycle++) {
                int killAfterMs = random.nextInt(MAX_KILL_DELAY_MS);
                String context = test + " cycle " + (cycle + 1) + "/" + cycles + " (kill after " + killAfterMs + " ms)";
                int recordedBefore = CrashChild.recordedLines(record).size();
                String writerEnd;
                try (ChildJava writer = ChildJava.start(null, FileWorkloadWriter.class, dir.toString(), record.toString(),
                        Long.toString(contentSeed), Integer.toString(cycle))) {
                    String first = writer.receive();
                    assertThat(first).as(context + ": the writer's first line").isEqualTo("ready");
                    writerEnd = killDuring(mount, writer, () -> CrashChild.recordedLines(record).size(), killAfterMs,
                            context);
                }
                mount.assertFsckClean();
                mount.mount();
                List<String> lines = CrashChild.recordedLines(record);
                assertRecordedFilesIntact(dir, contentSeed, lines.subList(recordedBefore, lines.size()), context);
                assertReplacedFilesWhole(dir, contentSeed, lines, context);
                System.out.println("crash: " + context + ": writer " + writerEnd + "; " + (lines.size() - recordedBefore)
                        + " files recorded in this cycle, " + lines.size() + " in all");
            }
            List<String> lines = CrashChild.recordedLines(record);
            assertThat(lines).as("files made durable over all cycles").isNotEmpty();
            mount.unmount();
            mount.assertFsckClean();
            mount.mount();
            String context = test + " after a clean unmount and a new mount";
            assertRecordedFilesIntact(dir, contentSeed, lines, context);
            assertReplacedFilesWhole(dir, contentSeed, lines, context);
            mount.unmount();
        }
    }

    /** Every file recorded as created in {@code lines} exists with exactly its content. */
    private static void assertRecordedFilesIntact(Path dir, long seed, List<String> lines, String context)
            throws IOException {
        List<String> wrong = new ArrayList<>();
        for (String line : lines) {
            String[] words = line.split(" ");
            if (!words[0].equals("created")) {
                continue;
            }
            Path file = dir.resolve(words[1]);
            if (!Files.exists(file)) {
                wrong.add(words[1] + " is missing");
                continue;
            }
            byte[] expected = FileWorkloadWriter.content(seed, words[1], 0);
            byte[] actual = Files.readAllBytes(file);
            if (!Arrays.equals(actual, expected)) {
                wrong.add(words[1] + ": " + difference(actual, Map.of("its content", expected)));
            }
        }
        assertThat(wrong).as(context + ": files fsynced (and their directory) but not intact").isEmpty();
    }

    /**
     * Each replaced name holds exactly one version: the last recorded one, or the next, whose
     * rename may have happened before the kill without being recorded; a name never recorded may
     * also still be absent.
     */
    private static void assertReplacedFilesWhole(Path dir, long seed, List<String> lines, String context)
            throws IOException {
        Map<String, Integer> recorded = FileWorkloadWriter.lastRecordedVersions(lines);
        List<String> wrong = new ArrayList<>();
        for (String name : FileWorkloadWriter.REPLACED_NAMES) {
            int last = recorded.getOrDefault(name, 0);
            Path file = dir.resolve(name);
            if (!Files.exists(file)) {
                if (last > 0) {
                    wrong.add(name + " is missing, version " + last + " was recorded");
                }
                continue;
            }
            Map<String, byte[]> allowed = new LinkedHashMap<>();
            if (last > 0) {
                allowed.put("version " + last, FileWorkloadWriter.content(seed, name, last));
            }
            allowed.put("version " + (last + 1), FileWorkloadWriter.content(seed, name, last + 1));
            byte[] actual = Files.readAllBytes(file);
            if (allowed.values().stream().noneMatch(v -> Arrays.equals(v, actual))) {
                wrong.add(name + ": " + difference(actual, allowed));
            }
        }
        assertThat(wrong).as(context + ": renamed-over files that are not one whole version").isEmpty();
    }

    /**
     * How {@code actual} differs from each candidate: the sizes, and for runs of 4 KiB blocks which
     * candidates they equal ("neither" for a torn or foreign block).
     */
    private static String difference(byte[] actual, Map<String, byte[]> candidates) {
        StringBuilder text = new StringBuilder(actual.length + " bytes;");
        candidates.forEach((label, bytes) -> text.append(' ').append(label).append(" has ").append(bytes.length)
                .append(" bytes;"));
        int blockSize = 4096;
        int blocks = (actual.length + blockSize - 1) / blockSize;
        int runStart = 0;
        List<String> runSources = null;
        for (int block = 0; block <= blocks; block++) {
            List<String> sources = block == blocks ? null : blockSources(actual, block, blockSize, candidates);
            if (block > 0 && !Objects.equals(sources, runSources)) {
                text.append(" blocks ").append(runStart).append('-').append(block - 1).append(": ")
                        .append(runSources.isEmpty() ? "neither" : runSources).append(';');
                runStart = block;
            }
            runSources = sources;
        }
        return text.toString();
    }

    /** The candidates whose bytes at 4 KiB block {@code block} equal {@code actual}'s. */
    private static List<String> blockSources(byte[] actual, int block, int blockSize, Map<String, byte[]> candidates) {
        int from = block * blockSize;
        int to = Math.min(actual.length, from + blockSize);
        byte[] piece = Arrays.copyOfRange(actual, from, to);
        List<String> sources = new ArrayList<>();
        candidates.forEach((label, bytes) -> {
            if (to <= bytes.length && Arrays.equals(piece, Arrays.copyOfRange(bytes, from, to))) {
                sources.add(label);
            }
        });
        return sources;
    }
}
