package dev.sqlitesuperfs.localpg;

import dev.sqlitesuperfs.store.DatabaseConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * Two real PostgreSQL clusters on loopback ports for failover tests: a primary (a
 * {@link LocalPostgres}) and a streaming standby made from it with {@code pg_basebackup}, which
 * the primary waits for at each commit when {@code synchronous}. The primary can be killed as a
 * machine dies (SIGKILL of the postmaster and of every child), the standby promoted, and the old
 * primary started again on its port, as an operator mistake would.
 */
public final class StandbyPair implements AutoCloseable {
    private static final Duration TIMEOUT = Duration.ofSeconds(120);
    private static final String STANDBY_NAME = "standby1";

    private final LocalPostgres primary;
    private final PostgresBinaries binaries = PostgresBinaries.find(PostgresBinaries.DEBIAN_ROOT);
    private final ServerAccount account = ServerAccount.forCurrentProcess();
    private final Path standbyDir;
    private final Path standbyData;
    private final Path standbyLog;
    private final int standbyPort;
    private final String password;

    private StandbyPair(Path stateDir, boolean synchronous) throws IOException {
        primary = LocalPostgres.start(stateDir.resolve("primary"));
        password = primary.config().password();
        standbyDir = stateDir.resolve("standby");
        standbyData = standbyDir.resolve("data");
        standbyLog = standbyDir.resolve("server.log");
        standbyPort = LocalPostgres.freePort();
        Files.createDirectories(standbyDir);
        account.own(standbyDir);
        account.makeTraversable(standbyDir);
        run("pg_basebackup", List.of(binaries.binDir().resolve("pg_basebackup").toString(), "-d", conninfo(primary.port()),
                "-D", standbyData.toString(), "-R", "-X", "stream", "-c", "fast"));
        // The standby's own name, which the primary's synchronous_standby_names refers to.
        Files.writeString(standbyData.resolve("postgresql.auto.conf"),
                "primary_conninfo = '" + conninfo(primary.port()).replace("'", "''") + " application_name="
                        + STANDBY_NAME + "'\n", StandardOpenOption.APPEND);
        Files.createFile(standbyLog, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        account.own(standbyLog);
        pgCtl("start", "-o", "-p " + standbyPort, "-l", standbyLog.toString());
        if (synchronous) {
            // Set after the base backup, so that the standby, once promoted, waits for nobody.
            sql(primary.port(), "ALTER SYSTEM SET synchronous_standby_names = '" + STANDBY_NAME + "'");
            sql(primary.port(), "SELECT pg_reload_conf()");
        }
        waitForStreaming(synchronous);
    }

    /** A primary with a standby streaming from it, synchronously when {@code synchronous}. */
    public static StandbyPair start(Path stateDir, boolean synchronous) {
        try {
            return new StandbyPair(stateDir, synchronous);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Both servers in one URL, the primary first, as a mount that fails over is given them. */
    public String url() {
        return urlOf("127.0.0.1:" + primary.port() + ",127.0.0.1:" + standbyPort) + "?targetServerType=primary";
    }

    /** The original primary alone. */
    public String primaryUrl() {
        return urlOf("127.0.0.1:" + primary.port());
    }

    /** The standby alone (the new primary once promoted). */
    public String standbyUrl() {
        return urlOf("127.0.0.1:" + standbyPort);
    }

    public DatabaseConfig config() {
        return DatabaseConfig.parse(url());
    }

    public DatabaseConfig primaryConfig() {
        return DatabaseConfig.parse(primaryUrl());
    }

    public DatabaseConfig standbyConfig() {
        return DatabaseConfig.parse(standbyUrl());
    }

    private String urlOf(String hosts) {
        return "postgresql://" + LocalPostgres.SUPERUSER + ":" + enc(password) + "@" + hosts + "/postgres";
    }

    /** The primary's machine dies: its postmaster and every process of it get SIGKILL at once. */
    public void killPrimary() {
        long pid = PostmasterPid.read(primary.dataDirectory()).pid();
        // Stopped first, so that it forks nothing more; its children found through /proc/PID/stat
        // (pkill would read every process's command line, which can hang on a stuck FUSE mount).
        shell("kill -STOP " + pid);
        ProcessHandle postmaster = ProcessHandle.of(pid).orElseThrow();
        Set<Path> segments = sharedMemorySegments(postmaster);
        postmaster.children().forEach(ProcessHandle::destroyForcibly);
        postmaster.destroyForcibly();
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (postmaster.isAlive() && System.nanoTime() < deadline) {
            pause(20);
        }
        // A postmaster killed this way leaves its dynamic shared memory in /dev/shm (memory, not
        // disk) for good: about 40 segments and 20 MiB per run of the suite, never reclaimed.
        for (Path segment : segments) {
            try {
                Files.deleteIfExists(segment);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    /** The files in /dev/shm that the postmaster or one of its children has mapped. */
    private static Set<Path> sharedMemorySegments(ProcessHandle postmaster) {
        Set<Path> found = new TreeSet<>();
        Stream.concat(Stream.of(postmaster), postmaster.children()).forEach(p -> {
            try {
                for (String line : Files.readAllLines(Path.of("/proc", Long.toString(p.pid()), "maps"))) {
                    int at = line.indexOf("/dev/shm/PostgreSQL.");
                    if (at >= 0 && !line.endsWith("(deleted)")) {
                        found.add(Path.of(line.substring(at).strip()));
                    }
                }
            } catch (IOException e) {
                // a child that ended already
            }
        });
        return found;
    }

    /** pg_ctl promote: the standby becomes a primary, on its own timeline. */
    public void promoteStandby() {
        pgCtl("promote");
    }

    /** The old primary started again as it was (not as a standby): the split-brain an operator can cause. */
    public void restartOldPrimary() {
        primary.startServer();
        // Alone, it would wait for its standby at every commit: let it take writes, as a primary.
        sql(primary.port(), "ALTER SYSTEM RESET synchronous_standby_names");
        sql(primary.port(), "SELECT pg_reload_conf()");
    }

    public void stopOldPrimary() {
        primary.stopServer(StopMode.IMMEDIATE);
    }

    /** One value of a query on one of the servers ({@code port}). */
    public static <T> T query(DatabaseConfig server, String sql) {
        DatabaseConfig.Endpoint endpoint = server.endpoints().getFirst();
        try (Connection c = connect(endpoint.port(), server.password()); Statement s = c.createStatement();
                ResultSet rows = s.executeQuery(sql)) {
            rows.next();
            @SuppressWarnings("unchecked")
            T value = (T) rows.getObject(1);
            return value;
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        try {
            pgCtl("stop", "-m", "immediate");
        } catch (RuntimeException ignored) {
            // already stopped
        }
        primary.stopServer(StopMode.IMMEDIATE);
        primary.release();
    }

    private void waitForStreaming(boolean synchronous) {
        String state = synchronous ? "sync" : "async";
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (true) {
            Long streaming = sqlLong(primary.port(), "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'"
                    + " AND sync_state = '" + state + "'");
            if (streaming != null && streaming > 0) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("the standby did not start streaming (" + state + ")");
            }
            pause(50);
        }
    }

    private String conninfo(int port) {
        return "host=127.0.0.1 port=" + port + " user=" + LocalPostgres.SUPERUSER + " password=" + password;
    }

    private void pgCtl(String... args) {
        List<String> command = new java.util.ArrayList<>(List.of(binaries.pgCtl().toString(), "-D",
                standbyData.toString(), "-w", "-t", "60"));
        command.addAll(List.of(args));
        run("pg_ctl " + args[0], command);
    }

    private void run(String what, List<String> command) {
        CommandRunner.Result result = CommandRunner.run(account.command(command), standbyDir, TIMEOUT);
        if (!result.succeeded()) {
            throw new IllegalStateException(what + " failed: " + result.output());
        }
    }

    private static void shell(String script) {
        CommandRunner.Result result = CommandRunner.run(List.of("sh", "-c", script), Path.of("/"), TIMEOUT);
        if (!result.succeeded()) {
            throw new IllegalStateException("'" + script + "' failed: " + result.output());
        }
    }

    private void sql(int port, String statement) {
        try (Connection c = connect(port, password); Statement s = c.createStatement()) {
            s.execute(statement);
        } catch (SQLException e) {
            throw new IllegalStateException(statement + ": " + e.getMessage(), e);
        }
    }

    private Long sqlLong(int port, String query) {
        try (Connection c = connect(port, password); Statement s = c.createStatement();
                ResultSet rows = s.executeQuery(query)) {
            return rows.next() ? rows.getLong(1) : null;
        } catch (SQLException e) {
            return null;
        }
    }

    private static Connection connect(int port, String password) throws SQLException {
        Properties properties = new Properties();
        properties.setProperty("user", LocalPostgres.SUPERUSER);
        properties.setProperty("password", password);
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/postgres", properties);
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    private static void pause(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
