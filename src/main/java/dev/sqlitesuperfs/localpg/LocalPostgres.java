package dev.sqlitesuperfs.localpg;

import dev.sqlitesuperfs.store.DatabaseConfig;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Set;
import java.nio.file.attribute.PosixFilePermission;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A PostgreSQL cluster of this program's own, under {@code <stateDir>/pg}: {@code data/} (the
 * cluster), {@code password} (the generated superuser password, readable only by its owner),
 * {@code server.log} and {@code lock}.
 *
 * <p>The server listens on 127.0.0.1 only, on a port chosen afresh at every start, with password
 * (SCRAM) authentication, and keeps fsync and synchronous commit on. Several processes may share
 * it: whoever finds it running reuses it, and {@link #release()} stops it only when no other
 * sqlitesuperfs client is connected. While an instance is open it holds one idle connection of its
 * own, so that a concurrent release elsewhere never stops the server under it.
 */
public final class LocalPostgres {

    private static final Logger log = LoggerFactory.getLogger(LocalPostgres.class);

    /** The superuser created by initdb, and the role every client logs in as. */
    public static final String SUPERUSER = "sqlitesuperfs";
    private static final String DATABASE = "postgres";
    private static final String OWN_APPLICATION_NAME = "sqlitesuperfs-localpg";
    private static final String CONFIG_FILE = "sqlitesuperfs.conf";
    private static final int MAX_CONNECTIONS = 300;
    /** sun_path holds 108 bytes; the server appends "/.s.PGSQL.<port>" and a terminating NUL. */
    private static final int MAX_SOCKET_DIR_BYTES = 107 - "/.s.PGSQL.65535".length();
    private static final Duration PG_CTL_TIMEOUT = Duration.ofSeconds(180);
    private static final Duration ANSWER_TIMEOUT = Duration.ofSeconds(60);
    private static final int PORT_ATTEMPTS = 3;
    private static final Duration LINGER_GRACE = Duration.ofMillis(500);
    private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");

    private final PostgresBinaries binaries;
    private final ServerAccount account;
    private final Path pgDir;
    private final Path dataDir;
    private final Path logFile;
    private final Path lockFile;
    private final String password;
    private volatile int port;
    private Connection ownConnection;
    private boolean released;

    private LocalPostgres(PostgresBinaries binaries, ServerAccount account, Path pgDir, String password) {
        this.binaries = binaries;
        this.account = account;
        this.pgDir = pgDir;
        this.dataDir = pgDir.resolve("data");
        this.logFile = pgDir.resolve("server.log");
        this.lockFile = pgDir.resolve("lock");
        this.password = password;
    }

    /**
     * Starts the cluster under {@code stateDir} (creating it the first time), or joins it if it is
     * already running.
     */
    public static LocalPostgres start(Path stateDir) {
        return start(stateDir, PostgresBinaries.DEBIAN_ROOT);
    }

    static LocalPostgres start(Path stateDir, Path binariesRoot) {
        PostgresBinaries binaries = PostgresBinaries.find(binariesRoot);
        ServerAccount account = ServerAccount.forCurrentProcess();
        Path pgDir = stateDir.toAbsolutePath().normalize().resolve("pg");
        try {
            Files.createDirectories(pgDir);
        } catch (IOException e) {
            throw new LocalPostgresException("cannot create " + pgDir + ": " + e.getMessage(), e);
        }
        try (StateLock _ = StateLock.acquire(pgDir.resolve("lock"))) {
            LocalPostgres pg = new LocalPostgres(binaries, account, pgDir, readOrCreatePassword(pgDir.resolve("password")));
            pg.startOrJoin(true);
            return pg;
        }
    }

    /** How to connect: 127.0.0.1, the current port, database {@code postgres}, the superuser. */
    public DatabaseConfig config() {
        return DatabaseConfig.of("127.0.0.1", port, DATABASE, SUPERUSER, password);
    }

    public int port() {
        return port;
    }

    public Path dataDirectory() {
        return dataDir;
    }

    /**
     * This process is done with the server: stop it (fast shutdown) unless another client whose
     * application_name starts with "sqlitesuperfs" is still connected, in which case it keeps
     * running for them. Idempotent.
     */
    public void release() {
        synchronized (this) {
            if (released) {
                return;
            }
            released = true;
        }
        try (StateLock _ = StateLock.acquire(lockFile)) {
            if (!isRunning()) {
                closeOwnConnection();
                return;
            }
            long others = otherClients();
            closeOwnConnection();
            if (others == 0) {
                stop(StopMode.FAST);
                log.info("Stopped the local PostgreSQL in {}: no sqlitesuperfs client left", dataDir);
            } else if (others > 0) {
                log.info("Leaving the local PostgreSQL in {} running for {} other sqlitesuperfs connection(s)",
                        dataDir, others);
            }
        }
    }

    /**
     * Stops the server now, whoever is using it. For failure tests ({@link StopMode#IMMEDIATE} is a
     * crash as far as clients and recovery are concerned) and for tearing down test servers.
     */
    public void stopServer(StopMode mode) {
        try (StateLock _ = StateLock.acquire(lockFile)) {
            closeOwnConnection();
            if (isRunning()) {
                stop(mode);
            }
        }
    }

    /** Starts the server again after {@link #stopServer}, on the same port, so clients can reconnect. */
    public void startServer() {
        synchronized (this) {
            if (released) {
                throw new IllegalStateException("this LocalPostgres was released");
            }
        }
        try (StateLock _ = StateLock.acquire(lockFile)) {
            startOrJoin(false);
        }
    }

    // ---- under the state lock ----

    private void startOrJoin(boolean chooseNewPort) {
        if (!Files.exists(dataDir.resolve("PG_VERSION"))) {
            initialize();
        }
        prepareFiles();
        if (isRunning()) {
            port = PostmasterPid.read(dataDir).port();
            awaitAnswering();
            log.info("Joined the local PostgreSQL already running on 127.0.0.1:{} (data in {})", port, dataDir);
        } else {
            startProcess(chooseNewPort);
            awaitAnswering();
            log.info("Started the local PostgreSQL on 127.0.0.1:{} (data in {})", port, dataDir);
        }
        openOwnConnection();
    }

    private void initialize() {
        Path pwFile = pgDir.resolve("initdb-password");
        try {
            Files.createDirectories(dataDir);
            account.own(dataDir);
            Files.setPosixFilePermissions(dataDir, PosixFilePermissions.fromString("rwx------"));
            account.makeTraversable(dataDir);
            Files.deleteIfExists(pwFile);
            // initdb runs as the server account and must read the password; the kept copy stays private.
            Files.createFile(pwFile, PosixFilePermissions.asFileAttribute(OWNER_ONLY));
            account.own(pwFile);
            Files.writeString(pwFile, password + "\n");
            log.info("Initialising a PostgreSQL cluster in {}", dataDir);
            CommandRunner.Result result = CommandRunner.run(account.command(List.of(
                    binaries.initdb().toString(), "-D", dataDir.toString(), "-U", SUPERUSER, "--pwfile=" + pwFile,
                    "--auth=scram-sha-256", "-E", "UTF8", "--locale=C")), pgDir, PG_CTL_TIMEOUT);
            if (!result.succeeded()) {
                throw new LocalPostgresException("initdb failed in " + dataDir + ": " + result.lastLine());
            }
            Files.writeString(dataDir.resolve("postgresql.conf"),
                    "\n# Settings of sqlitesuperfs, rewritten at every start.\ninclude_if_exists = '" + CONFIG_FILE + "'\n",
                    StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new LocalPostgresException("cannot initialise PostgreSQL in " + dataDir + ": " + e.getMessage(), e);
        } finally {
            try {
                Files.deleteIfExists(pwFile);
            } catch (IOException e) {
                log.warn("Could not delete the temporary file {}: {}", pwFile, e.getMessage());
            }
        }
    }

    private void prepareFiles() {
        try {
            account.makeTraversable(dataDir);
            if (!Files.exists(logFile)) {
                Files.createFile(logFile, PosixFilePermissions.asFileAttribute(OWNER_ONLY));
            }
            account.own(logFile);
        } catch (IOException e) {
            throw new LocalPostgresException("cannot prepare " + pgDir + ": " + e.getMessage(), e);
        }
    }

    private void startProcess(boolean chooseNewPort) {
        for (int attempt = 1; ; attempt++) {
            int candidate = chooseNewPort || port == 0 ? freePort() : port;
            writeConfig(candidate);
            long logStart = sizeOf(logFile);
            CommandRunner.Result result = CommandRunner.run(account.command(List.of(
                    binaries.pgCtl().toString(), "start", "-D", dataDir.toString(), "-l", logFile.toString(),
                    "-w", "-t", String.valueOf(PG_CTL_TIMEOUT.toSeconds()), "-s")), pgDir, PG_CTL_TIMEOUT.plusSeconds(10));
            if (result.succeeded()) {
                port = candidate;
                return;
            }
            String tail = logTail(logStart);
            boolean portTaken = tail.contains("could not bind") || tail.contains("already in use");
            if (!portTaken || !chooseNewPort || attempt == PORT_ATTEMPTS) {
                throw new LocalPostgresException("PostgreSQL did not start in " + dataDir + " ("
                        + (result.output().isBlank() ? "exit code " + result.exitCode() : result.lastLine())
                        + "); " + logFile + " ends with: " + tail);
            }
            log.info("Port {} was taken meanwhile; trying another", candidate);
        }
    }

    private void writeConfig(int serverPort) {
        String socketDir = dataDir.toString();
        if (socketDir.getBytes(StandardCharsets.UTF_8).length > MAX_SOCKET_DIR_BYTES) {
            // Clients use TCP; a Unix socket is only a convenience for an administrator's psql.
            socketDir = "";
        }
        String config = String.join("\n",
                "# Written by sqlitesuperfs at every start of the server: changes here are lost.",
                "listen_addresses = '127.0.0.1'",
                "port = " + serverPort,
                "unix_socket_directories = '" + quoteConfigString(socketDir) + "'",
                "max_connections = " + MAX_CONNECTIONS,
                "fsync = on",
                "synchronous_commit = on",
                "full_page_writes = on",
                // A file written in bulk is WAL for every byte: with the defaults (1 GB of WAL,
                // 5 minutes) a large write forces a checkpoint per gigabyte, and every page it
                // touches next is logged whole again. Room for that, and for hot blocks.
                "shared_buffers = 256MB",
                "wal_buffers = 32MB",
                "max_wal_size = 4GB",
                "min_wal_size = 512MB",
                "checkpoint_timeout = 15min",
                "checkpoint_completion_target = 0.9",
                "");
        Path file = dataDir.resolve(CONFIG_FILE);
        try {
            Files.writeString(file, config);
            account.own(file);
            Files.setPosixFilePermissions(file, OWNER_ONLY);
        } catch (IOException e) {
            throw new LocalPostgresException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    private void stop(StopMode mode) {
        CommandRunner.Result result = CommandRunner.run(account.command(List.of(
                binaries.pgCtl().toString(), "stop", "-D", dataDir.toString(), "-m", mode.pgCtlName,
                "-w", "-t", String.valueOf(PG_CTL_TIMEOUT.toSeconds()), "-s")), pgDir, PG_CTL_TIMEOUT.plusSeconds(10));
        if (!result.succeeded() && isRunning()) {
            throw new LocalPostgresException("PostgreSQL in " + dataDir + " did not stop: " + result.lastLine());
        }
    }

    private boolean isRunning() {
        if (!Files.exists(dataDir.resolve("postmaster.pid"))) {
            return false;
        }
        // A crash leaves the pid file behind; pg_ctl checks whether that process is a live server.
        CommandRunner.Result status = CommandRunner.run(account.command(List.of(
                binaries.pgCtl().toString(), "status", "-D", dataDir.toString())), pgDir, Duration.ofSeconds(30));
        return status.succeeded();
    }

    private void awaitAnswering() {
        long deadline = System.nanoTime() + ANSWER_TIMEOUT.toNanos();
        while (true) {
            try (Connection _ = connect()) {
                return;
            } catch (SQLException e) {
                if (System.nanoTime() > deadline) {
                    throw new LocalPostgresException("PostgreSQL on 127.0.0.1:" + port + " does not answer ("
                            + e.getMessage() + "); " + logFile + " ends with: " + logTail(0));
                }
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new LocalPostgresException("interrupted while waiting for PostgreSQL to answer", e);
            }
        }
    }

    /**
     * Connections of other sqlitesuperfs clients, counted on this instance's own connection so that
     * it does not count itself. A client that has just disconnected may linger for a moment while its
     * backend exits, so a non-zero count is looked at again for a short while.
     */
    private long otherClients() {
        long deadline = System.nanoTime() + LINGER_GRACE.toNanos();
        try {
            Connection connection = ownConnectionOrNew();
            while (true) {
                long others;
                try (Statement statement = connection.createStatement();
                     ResultSet rows = statement.executeQuery("SELECT count(*) FROM pg_stat_activity"
                             + " WHERE application_name LIKE 'sqlitesuperfs%' AND pid <> pg_backend_pid()")) {
                    rows.next();
                    others = rows.getLong(1);
                }
                if (others == 0 || System.nanoTime() - deadline >= 0) {
                    return others;
                }
                Thread.sleep(50);
            }
        } catch (SQLException e) {
            log.warn("Leaving the local PostgreSQL in {} running: cannot count its clients ({})", dataDir, e.getMessage());
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    private synchronized Connection ownConnectionOrNew() throws SQLException {
        if (ownConnection == null || !ownConnection.isValid(5)) {
            closeOwnConnection();
            ownConnection = connect();
        }
        return ownConnection;
    }

    private Connection connect() throws SQLException {
        return config().withApplicationName(OWN_APPLICATION_NAME).dataSource("").getConnection();
    }

    private synchronized void openOwnConnection() {
        closeOwnConnection();
        try {
            ownConnection = connect();
        } catch (SQLException e) {
            throw new LocalPostgresException("cannot connect to the local PostgreSQL on 127.0.0.1:" + port + ": "
                    + e.getMessage(), e);
        }
    }

    private synchronized void closeOwnConnection() {
        if (ownConnection != null) {
            try {
                ownConnection.close();
            } catch (SQLException ignored) {
                // The server may already be gone; nothing to release then.
            }
            ownConnection = null;
        }
    }

    /** The last lines the server logged after byte {@code from} of its log, on one line. */
    private String logTail(long from) {
        try (SeekableByteChannel channel = Files.newByteChannel(logFile)) {
            long size = channel.size();
            long start = Math.max(from > size ? 0 : from, size - 4096);
            channel.position(start);
            java.nio.ByteBuffer buffer = java.nio.ByteBuffer.allocate((int) (size - start));
            while (buffer.hasRemaining() && channel.read(buffer) > 0) {
                // Keep reading until the buffer is full.
            }
            String[] lines = new String(buffer.array(), 0, buffer.position(), StandardCharsets.UTF_8).split("\n");
            List<String> tail = new ArrayList<>();
            for (int i = lines.length - 1; i >= 0 && tail.size() < 4; i--) {
                if (!lines[i].isBlank()) {
                    tail.addFirst(lines[i].strip());
                }
            }
            return tail.isEmpty() ? "(nothing)" : String.join(" | ", tail);
        } catch (IOException e) {
            return "(unreadable: " + e.getMessage() + ")";
        }
    }

    private static long sizeOf(Path file) {
        try {
            return Files.size(file);
        } catch (IOException e) {
            return 0;
        }
    }

    static int freePort() {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new LocalPostgresException("cannot find a free TCP port on 127.0.0.1: " + e.getMessage(), e);
        }
    }

    private static String quoteConfigString(String value) {
        return value.replace("\\", "\\\\").replace("'", "''");
    }

    private static String readOrCreatePassword(Path file) {
        try {
            if (Files.exists(file)) {
                String stored = Files.readString(file).strip();
                if (stored.isEmpty()) {
                    throw new LocalPostgresException(file + " is empty; restore it or remove the whole state directory");
                }
                return stored;
            }
            byte[] random = new byte[24];
            new SecureRandom().nextBytes(random);
            String generated = Base64.getUrlEncoder().withoutPadding().encodeToString(random);
            Files.createFile(file, PosixFilePermissions.asFileAttribute(OWNER_ONLY));
            Files.writeString(file, generated + "\n");
            return generated;
        } catch (IOException e) {
            throw new LocalPostgresException("cannot read or create " + file + ": " + e.getMessage(), e);
        }
    }
}
