package dev.sqlitesuperfs.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.testing.Shell;
import dev.sqlitesuperfs.testing.TestMount;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Real SQLite, through its CLI and through JDBC, in every rollback-journal mode and WAL. */
class SqliteTest {
    @RegisterExtension
    static final TestMount mount = TestMount.perClass();

    static String sqlite(Path db, String script) {
        return Shell.run("sqlite3", "-batch", "-bail", db.toString(), script);
    }

    @ParameterizedTest
    @ValueSource(strings = {"DELETE", "TRUNCATE", "PERSIST", "WAL"})
    void cliBigAndSmallTransactionsSurviveRemount(String mode) throws IOException {
        Path db = mount.path("cli-" + mode + ".db");
        assertThat(sqlite(db, "PRAGMA journal_mode=" + mode + ";").trim()).isEqualToIgnoringCase(mode);
        sqlite(db, """
                PRAGMA synchronous=FULL;
                CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT NOT NULL);
                BEGIN;
                WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000)
                INSERT INTO t SELECT x, hex(randomblob(24)) FROM c;
                COMMIT;
                """);
        StringBuilder small = new StringBuilder("PRAGMA synchronous=FULL;\n");
        for (int i = 1; i <= 1000; i++) {
            small.append("INSERT INTO t(id, v) VALUES (").append(100_000 + i).append(", 'small ").append(i).append("');\n");
        }
        Path script = Files.writeString(Files.createTempFile("small-txns", ".sql"), small);
        try {
            Shell.run("sh", "-c", "sqlite3 -batch -bail '" + db + "' < '" + script + "'");
        } finally {
            Files.delete(script);
        }
        mount.remount();
        assertThat(sqlite(db, "PRAGMA integrity_check;").trim()).isEqualTo("ok");
        assertThat(sqlite(db, "SELECT count(*), sum(id) FROM t;").trim())
                .isEqualTo("101000|" + (101_000L * 101_001L / 2));
        assertThat(sqlite(db, "PRAGMA journal_mode;").trim()).isEqualToIgnoringCase(mode.equals("WAL") ? "wal" : "delete");
    }

    @ParameterizedTest
    @ValueSource(strings = {"DELETE", "TRUNCATE", "PERSIST", "WAL"})
    void jdbcBigAndSmallTransactionsSurviveRemount(String mode) throws SQLException {
        Path db = mount.path("jdbc-" + mode + ".db");
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db)) {
            try (Statement s = c.createStatement()) {
                s.execute("PRAGMA journal_mode=" + mode);
                s.execute("PRAGMA synchronous=FULL");
                s.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB NOT NULL)");
            }
            c.setAutoCommit(false);
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO t VALUES (?, randomblob(32))")) {
                for (int i = 1; i <= 100_000; i++) {
                    ps.setInt(1, i);
                    ps.addBatch();
                    if (i % 10_000 == 0) {
                        ps.executeBatch();
                    }
                }
            }
            c.commit();
            c.setAutoCommit(true);
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO t VALUES (?, zeroblob(100))")) {
                for (int i = 1; i <= 1000; i++) {
                    ps.setInt(1, 100_000 + i);
                    ps.executeUpdate();
                }
            }
        }
        mount.remount();
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db); Statement s = c.createStatement()) {
            try (ResultSet rs = s.executeQuery("PRAGMA integrity_check")) {
                rs.next();
                assertThat(rs.getString(1)).isEqualTo("ok");
            }
            try (ResultSet rs = s.executeQuery("SELECT count(*), max(id) FROM t")) {
                rs.next();
                assertThat(rs.getLong(1)).isEqualTo(101_000);
                assertThat(rs.getLong(2)).isEqualTo(101_000);
            }
        }
    }
}
