package dev.sqlitesuperfs.testing;

import dev.sqlitesuperfs.localpg.LocalPostgres;
import dev.sqlitesuperfs.localpg.StopMode;
import dev.sqlitesuperfs.store.DatabaseConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;

/**
 * The one PostgreSQL of a test JVM: started on first use in a fresh {@code target/test-postgres},
 * stopped when the JVM exits. Tests share it and keep apart by using fresh namespaces.
 */
public final class TestPostgres {

    private static final Path STATE_DIR = Path.of("target", "test-postgres").toAbsolutePath();
    private static LocalPostgres server;

    private TestPostgres() {}

    /** How to connect to the test server. */
    public static DatabaseConfig config() {
        return server().config();
    }

    /** The test server itself, for tests that need its port or data directory. */
    public static synchronized LocalPostgres server() {
        if (server == null) {
            removeLeftovers();
            server = LocalPostgres.start(STATE_DIR);
            LocalPostgres started = server;
            Runtime.getRuntime().addShutdownHook(new Thread(() -> started.stopServer(StopMode.FAST), "test-postgres-stop"));
        }
        return server;
    }

    /** A valid namespace name that no other test uses: {@code t_} and 12 random hex digits. */
    public static String freshNamespace() {
        byte[] random = new byte[6];
        ThreadLocalRandom.current().nextBytes(random);
        return "t_" + HexFormat.of().formatHex(random);
    }

    /** A new connection to the test server; the caller closes it. */
    public static Connection connect() throws SQLException {
        return config().withApplicationName("sqlitesuperfs-test").dataSource("").getConnection();
    }

    /** The first column of the first row of {@code sql} run with {@code params}, or null if there is no row. */
    @SuppressWarnings("unchecked")
    public static <T> T query(String sql, Object... params) {
        try (Connection connection = connect(); PreparedStatement statement = prepare(connection, sql, params);
             ResultSet rows = statement.executeQuery()) {
            return rows.next() ? (T) rows.getObject(1) : null;
        } catch (SQLException e) {
            throw new IllegalStateException("test query failed: " + sql, e);
        }
    }

    /** Runs a statement that returns no rows; returns its update count. */
    public static int execute(String sql, Object... params) {
        try (Connection connection = connect(); PreparedStatement statement = prepare(connection, sql, params)) {
            return statement.executeUpdate();
        } catch (SQLException e) {
            throw new IllegalStateException("test statement failed: " + sql, e);
        }
    }

    public static long queryLong(String sql, Object... params) {
        Object v = query(sql, params);
        return ((Number) v).longValue();
    }

    public static byte[] queryBytes(String sql, Object... params) {
        return query(sql, params);
    }

    public static int update(String sql, Object... params) {
        return execute(sql, params);
    }

    /** The server as a libpq-style URL, as a user would give it to {@code --db} or {@code psql_url}. */
    public static String url() {
        DatabaseConfig c = config();
        DatabaseConfig.Endpoint e = c.endpoints().getFirst();
        return "postgresql://" + enc(c.user()) + ":" + enc(c.password()) + "@" + e.host() + ":" + e.port() + "/"
                + enc(c.database());
    }

    private static String enc(String s) {
        return java.net.URLEncoder.encode(s, java.nio.charset.StandardCharsets.UTF_8).replace("+", "%20");
    }

    /** The tables of a namespace's schema. */
    public static java.util.List<String> tables(String namespace) {
        try (Connection connection = connect();
             PreparedStatement st = prepare(connection,
                     "SELECT table_name FROM information_schema.tables WHERE table_schema = ? ORDER BY 1", namespace);
             ResultSet rows = st.executeQuery()) {
            java.util.List<String> names = new java.util.ArrayList<>();
            while (rows.next()) {
                names.add(rows.getString(1));
            }
            return names;
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    private static PreparedStatement prepare(Connection connection, String sql, Object... params) throws SQLException {
        PreparedStatement statement = connection.prepareStatement(sql);
        for (int i = 0; i < params.length; i++) {
            statement.setObject(i + 1, params[i]);
        }
        return statement;
    }

    /** A server left running by a test JVM that was killed is stopped before its directory goes. */
    private static void removeLeftovers() {
        if (!Files.exists(STATE_DIR)) {
            return;
        }
        if (Files.exists(STATE_DIR.resolve("pg/data/postmaster.pid"))) {
            try {
                LocalPostgres.start(STATE_DIR).stopServer(StopMode.IMMEDIATE);
            } catch (RuntimeException e) {
                System.err.println("could not stop the leftover test PostgreSQL: " + e.getMessage());
            }
        }
        deleteRecursively(STATE_DIR);
    }

    /** Deletes a directory tree (test helpers only). */
    public static void deleteRecursively(Path root) {
        try (Stream<Path> paths = Files.walk(root)) {
            for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(path);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
