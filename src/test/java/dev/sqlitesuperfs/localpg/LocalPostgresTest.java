package dev.sqlitesuperfs.localpg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LocalPostgresTest {

    @TempDir
    Path stateDir;

    @Test
    void initialisesStartsStopsAndKeepsDataAcrossRuns() throws Exception {
        LocalPostgres first = LocalPostgres.start(stateDir);
        try {
            execute(first, "CREATE TABLE kept (v text)", "INSERT INTO kept VALUES ('still here')");
            assertThat(queryString(first, "SHOW fsync")).isEqualTo("on");
            assertThat(queryString(first, "SHOW synchronous_commit")).isEqualTo("on");
            assertThat(queryString(first, "SHOW listen_addresses")).isEqualTo("127.0.0.1");
            assertThat(queryString(first, "SHOW max_connections")).isEqualTo("300");
            assertThat(queryString(first, "SHOW password_encryption")).isEqualTo("scram-sha-256");
        } finally {
            first.release();
        }
        assertThat(Files.exists(first.dataDirectory().resolve("postmaster.pid"))).isFalse();
        assertThatThrownBy(() -> first.config().dataSource("").getConnection()).isInstanceOf(SQLException.class);

        Path password = stateDir.resolve("pg/password");
        assertThat(Files.getPosixFilePermissions(password)).isEqualTo(PosixFilePermissions.fromString("rw-------"));
        assertThat(Files.getOwner(password).getName()).isEqualTo(System.getProperty("user.name"));
        assertThat(Files.getPosixFilePermissions(first.dataDirectory()))
                .isEqualTo(PosixFilePermissions.fromString("rwx------"));
        String expectedServerUser = System.getProperty("user.name").equals("root") ? "postgres" : System.getProperty("user.name");
        assertThat(Files.getOwner(first.dataDirectory()).getName()).isEqualTo(expectedServerUser);
        assertThat(Files.readString(stateDir.resolve("pg/server.log"))).isNotEmpty();

        LocalPostgres second = LocalPostgres.start(stateDir);
        try {
            assertThat(second.config().password()).isEqualTo(first.config().password());
            assertThat(queryString(second, "SELECT v FROM kept")).isEqualTo("still here");
        } finally {
            second.release();
        }
    }

    @Test
    void concurrentStartsShareOneServerAndTheLastReleaseStopsIt() throws Exception {
        Callable<LocalPostgres> start = () -> LocalPostgres.start(stateDir);
        LocalPostgres a;
        LocalPostgres b;
        try (ExecutorService pool = Executors.newFixedThreadPool(2)) {
            List<Future<LocalPostgres>> started = pool.invokeAll(List.of(start, start));
            a = started.get(0).get();
            b = started.get(1).get();
        }
        try {
            assertThat(a.port()).isEqualTo(b.port());
            assertThat(queryString(a, "SELECT 'a'")).isEqualTo("a");
            a.release();
            assertThat(queryString(b, "SELECT 'b still works'")).isEqualTo("b still works");
        } finally {
            a.release();
            b.release();
        }
        assertThat(Files.exists(b.dataDirectory().resolve("postmaster.pid"))).isFalse();
    }

    @Test
    void anotherProcessJoinsTheRunningServerAndTheLastOneToLeaveStopsIt() throws Exception {
        LocalPostgres here = LocalPostgres.start(stateDir);
        String java = ProcessHandle.current().info().command().orElseThrow();
        Process other = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                SecondProcess.class.getName(), stateDir.toString())
                .redirectErrorStream(true).start();
        try (var output = new java.io.BufferedReader(new java.io.InputStreamReader(other.getInputStream()))) {
            String portLine = output.lines().filter(line -> line.startsWith("port ")).findFirst().orElseThrow();
            assertThat(portLine).isEqualTo("port " + here.port());

            here.release();
            assertThat(Files.exists(here.dataDirectory().resolve("postmaster.pid"))).isTrue();

            other.getOutputStream().close();
            assertThat(output.lines().anyMatch("released"::equals)).isTrue();
            assertThat(other.waitFor()).isZero();
        } finally {
            other.destroyForcibly();
            here.release();
        }
        assertThat(Files.exists(here.dataDirectory().resolve("postmaster.pid"))).isFalse();
    }

    @Test
    void releaseLeavesTheServerRunningWhileAnotherSqlitesuperfsClientIsConnected() throws Exception {
        LocalPostgres pg = LocalPostgres.start(stateDir);
        try (Connection other = pg.config().withApplicationName("sqlitesuperfs-other-mount").dataSource("").getConnection()) {
            pg.release();
            try (Statement statement = other.createStatement(); ResultSet rows = statement.executeQuery("SELECT 1")) {
                assertThat(rows.next()).isTrue();
            }
        }
        LocalPostgres again = LocalPostgres.start(stateDir);
        assertThat(again.port()).isEqualTo(pg.port());
        again.release();
        assertThat(Files.exists(again.dataDirectory().resolve("postmaster.pid"))).isFalse();
    }

    @Test
    void serverCanBeCrashedAndRestartedOnTheSamePort() throws Exception {
        LocalPostgres pg = LocalPostgres.start(stateDir);
        try {
            execute(pg, "CREATE TABLE t (v int)", "INSERT INTO t VALUES (42)");
            int port = pg.port();
            pg.stopServer(StopMode.IMMEDIATE);
            assertThatThrownBy(() -> pg.config().dataSource("").getConnection()).isInstanceOf(SQLException.class);
            pg.startServer();
            assertThat(pg.port()).isEqualTo(port);
            assertThat(queryString(pg, "SELECT v::text FROM t")).isEqualTo("42");
        } finally {
            pg.release();
        }
    }

    @Test
    void failedStartReportsTheEndOfTheServerLog() throws Exception {
        LocalPostgres pg = LocalPostgres.start(stateDir);
        pg.stopServer(StopMode.FAST);
        Path conf = pg.dataDirectory().resolve("postgresql.conf");
        Files.writeString(conf, "\nshared_buffers = 'plenty'\n", StandardOpenOption.APPEND);
        try {
            assertThatThrownBy(pg::startServer)
                    .isInstanceOf(LocalPostgresException.class)
                    .hasMessageContaining("did not start")
                    .hasMessageContaining("server.log ends with")
                    .hasMessageContaining("shared_buffers")
                    .hasMessageNotContaining("\n");
        } finally {
            pg.release();
        }
    }

    @Test
    void missingBinariesNameThePackageToInstall() {
        assertThatThrownBy(() -> LocalPostgres.start(stateDir, stateDir.resolve("no-postgresql-here")))
                .isInstanceOf(LocalPostgresException.class)
                .hasMessageContaining("apt-get install postgresql");
    }

    @Test
    void picksTheNewestVersionThatHasEveryProgram() throws Exception {
        Path root = stateDir.resolve("lib");
        for (String version : List.of("9.6", "15", "16")) {
            Path bin = Files.createDirectories(root.resolve(version).resolve("bin"));
            for (String program : List.of("initdb", "pg_ctl", "postgres")) {
                if (version.equals("16") && program.equals("postgres")) {
                    continue;
                }
                Files.createFile(bin.resolve(program), PosixFilePermissions.asFileAttribute(
                        PosixFilePermissions.fromString("rwxr-xr-x")));
            }
        }
        assertThat(PostgresBinaries.find(root).binDir()).isEqualTo(root.resolve("15").resolve("bin"));
    }

    private static void execute(LocalPostgres pg, String... sql) throws SQLException {
        try (Connection connection = pg.config().dataSource("").getConnection();
             Statement statement = connection.createStatement()) {
            for (String s : sql) {
                statement.execute(s);
            }
        }
    }

    private static String queryString(LocalPostgres pg, String sql) throws SQLException {
        try (Connection connection = pg.config().dataSource("").getConnection();
             Statement statement = connection.createStatement();
             ResultSet rows = statement.executeQuery(sql)) {
            rows.next();
            return rows.getString(1);
        }
    }
}
