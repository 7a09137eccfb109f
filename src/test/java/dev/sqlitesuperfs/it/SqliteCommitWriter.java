package dev.sqlitesuperfs.it;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.SplittableRandom;

/**
 * A writer process for {@link CrashTest}: commits rows into the SQLite database DB in journal
 * mode MODE with {@code synchronous=FULL}, as fast as it can, until stopped or until a call fails
 * (see {@link CrashChild} for the protocol).
 *
 * <p>Arguments: {@code DB MODE RECORD FIRST_ID SEED [big]}. Row ids count up from FIRST_ID. Most
 * transactions insert one row with a plain INSERT (SQLite's implicit transaction), about one in
 * eight inserts 2 to 40 rows between BEGIN and COMMIT; with {@code big}, one in three inserts 400 to
 * 900 rows instead (about 1 to 2 MiB: past a mount's smallest write buffer, so that the mount
 * stores the database file in the middle of SQLite's commit, and past SQLite's page cache, so that
 * SQLite spills pages before it); and one in six deletes the last 600 rows it inserted and
 * inserts them again as they were (pages changed in place), recorded as a transaction of those
 * rows. A line is appended to RECORD.big just before each such COMMIT. After COMMIT returned the writer records
 * {@code FIRST LAST BEGAN_NS COMMITTED_NS}: the transaction's ids and {@link System#nanoTime()}
 * before BEGIN and after COMMIT. On Linux that clock is CLOCK_MONOTONIC, the same in every
 * process of the machine, so the test can compare it with its own times.
 */
public final class SqliteCommitWriter {
    static final String TABLE = "crash_rows";

    private SqliteCommitWriter() {}

    public static void main(String[] args) throws Exception {
        Path db = Path.of(args[0]);
        String mode = args[1];
        CrashChild child = new CrashChild(Path.of(args[2]));
        long nextId = Long.parseLong(args[3]);
        long firstId = nextId;
        SplittableRandom random = new SplittableRandom(Long.parseLong(args[4]));
        boolean big = args.length > 5 && args[5].equals("big");
        try (Connection connection = DriverManager.getConnection("jdbc:sqlite:" + db);
             Statement statement = connection.createStatement()) {
            // Every connection sets these: synchronous is not stored in the file, and switching
            // journal modes on the same database is part of the test.
            String modeNow;
            try (ResultSet rows = statement.executeQuery("PRAGMA journal_mode=" + mode)) {
                rows.next();
                modeNow = rows.getString(1);
            }
            if (!modeNow.equalsIgnoreCase(mode)) {
                throw new IllegalStateException("asked for journal mode " + mode + ", SQLite kept " + modeNow);
            }
            statement.execute("PRAGMA synchronous=FULL");
            statement.execute("CREATE TABLE IF NOT EXISTS " + TABLE + "(id INTEGER PRIMARY KEY, payload BLOB NOT NULL)");
            child.ready();
            try (PreparedStatement insert = connection.prepareStatement("INSERT INTO " + TABLE + " VALUES (?, ?)")) {
                while (!child.stopRequested()) {
                    if (big && nextId - firstId >= REWRITE_ROWS && random.nextInt(6) == 0) {
                        long began = System.nanoTime();
                        rewrite(statement, insert, nextId - REWRITE_ROWS, nextId, Path.of(args[2] + ".big"));
                        // recorded like an insert of the same rows: they are all there once it returned
                        child.record((nextId - REWRITE_ROWS) + " " + (nextId - 1) + " " + began + " " + System.nanoTime());
                        continue;
                    }
                    int rows = big && random.nextInt(3) == 0 ? 400 + random.nextInt(501)
                            : random.nextInt(8) == 0 ? 2 + random.nextInt(39) : 1;
                    long began = System.nanoTime();
                    if (rows > 1) {
                        statement.execute("BEGIN");
                    }
                    for (long id = nextId; id < nextId + rows; id++) {
                        insert.setLong(1, id);
                        insert.setBytes(2, payload(id));
                        insert.executeUpdate();
                    }
                    if (rows > 1) {
                        if (rows >= 400) {
                            bigCommitBegins(Path.of(args[2] + ".big"));
                        }
                        statement.execute("COMMIT");
                    }
                    long committed = System.nanoTime();
                    child.record(nextId + " " + (nextId + rows - 1) + " " + began + " " + committed);
                    nextId += rows;
                }
            }
        } catch (SQLException e) {
            child.failed(e);
        }
        child.stopped();
    }

    /** Rows deleted and inserted again by a rewriting transaction. */
    static final int REWRITE_ROWS = 600;

    /**
     * One transaction that deletes rows {@code [from, to)}, committed earlier, and inserts them
     * again as they were: it changes pages in place all over the table, so that a crash in the
     * middle of its commit without the journal in storage would lose committed rows.
     */
    private static void rewrite(Statement statement, PreparedStatement insert, long from, long to, Path big)
            throws SQLException, java.io.IOException {
        statement.execute("BEGIN");
        statement.execute("DELETE FROM " + TABLE + " WHERE id >= " + from + " AND id < " + to);
        for (long id = from; id < to; id++) {
            insert.setLong(1, id);
            insert.setBytes(2, payload(id));
            insert.executeUpdate();
        }
        bigCommitBegins(big);
        statement.execute("COMMIT");
    }

    /** Tells the test that a big COMMIT begins (a moment worth a kill). */
    private static void bigCommitBegins(Path big) throws java.io.IOException {
        java.nio.file.Files.writeString(big, System.nanoTime() + "\n", java.nio.file.StandardOpenOption.CREATE,
                java.nio.file.StandardOpenOption.APPEND);
    }

    /**
     * The payload of row {@code id}, the same in every process: mostly 16 bytes to 3 KiB, every
     * 64th row 20 to 60 KiB, so that some rows take overflow pages and some transactions
     * touch many blocks of the file.
     */
    static byte[] payload(long id) {
        SplittableRandom random = new SplittableRandom(id * 0x9E3779B97F4A7C15L);
        int size = id % 64 == 0 ? 20_000 + random.nextInt(40_000) : 16 + random.nextInt(3_000);
        byte[] bytes = new byte[size];
        random.nextBytes(bytes);
        return bytes;
    }
}
