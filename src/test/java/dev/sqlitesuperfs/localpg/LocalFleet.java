package dev.sqlitesuperfs.localpg;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

/**
 * Several real PostgreSQL clusters on loopback ports (each a {@link LocalPostgres} of its own),
 * named s1, s2, ... in a fleet file, for the tests of namespaces spread over servers.
 */
public final class LocalFleet implements AutoCloseable {
    private final List<LocalPostgres> servers = new ArrayList<>();
    private final Path file;

    private LocalFleet(Path stateDir, int size) throws IOException {
        StringBuilder lines = new StringBuilder("# a test fleet\n");
        try {
            for (int i = 1; i <= size; i++) {
                LocalPostgres pg = LocalPostgres.start(stateDir.resolve("s" + i));
                servers.add(pg);
                lines.append("s").append(i).append("  ").append(url(pg)).append('\n');
            }
        } catch (RuntimeException e) {
            close();
            throw e;
        }
        file = stateDir.resolve("fleet");
        Files.writeString(file, lines);
    }

    /** {@code size} servers, s1 to s{@code size}, with their data under {@code stateDir}. */
    public static LocalFleet start(Path stateDir, int size) {
        try {
            return new LocalFleet(stateDir, size);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The fleet file. */
    public Path file() {
        return file;
    }

    /** The URL of server s{@code number} alone. */
    public String url(int number) {
        return url(servers.get(number - 1));
    }

    /** Whether server s{@code number} has a schema called {@code schema}, and what is in it: its tables. */
    public List<String> tablesOf(int number, String schema) {
        return strings(number, "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                + " WHERE n.nspname = '" + schema.replace("'", "''") + "' AND c.relkind = 'r' ORDER BY 1");
    }

    /** Whether server s{@code number} has a schema called {@code schema}. */
    public boolean hasSchema(int number, String schema) {
        return !strings(number, "SELECT nspname FROM pg_namespace WHERE nspname = '" + schema.replace("'", "''")
                + "'").isEmpty();
    }

    private List<String> strings(int number, String query) {
        LocalPostgres pg = servers.get(number - 1);
        Properties properties = new Properties();
        properties.setProperty("user", LocalPostgres.SUPERUSER);
        properties.setProperty("password", pg.config().password());
        try (Connection c = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + pg.port() + "/postgres",
                properties); Statement s = c.createStatement(); ResultSet rows = s.executeQuery(query)) {
            List<String> values = new ArrayList<>();
            while (rows.next()) {
                values.add(rows.getString(1));
            }
            return values;
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String url(LocalPostgres pg) {
        return "postgresql://" + LocalPostgres.SUPERUSER + ":"
                + URLEncoder.encode(pg.config().password(), StandardCharsets.UTF_8) + "@127.0.0.1:" + pg.port()
                + "/postgres";
    }

    @Override
    public void close() {
        for (LocalPostgres pg : servers) {
            try {
                pg.stopServer(StopMode.IMMEDIATE);
            } catch (RuntimeException ignored) {
                // already stopped
            }
            pg.release();
        }
    }
}
