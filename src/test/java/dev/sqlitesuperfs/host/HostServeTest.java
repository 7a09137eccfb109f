package dev.sqlitesuperfs.host;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.cli.ExitCode;
import dev.sqlitesuperfs.testing.CliProcess;
import dev.sqlitesuperfs.testing.Shell;
import dev.sqlitesuperfs.testing.TestPostgres;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code sqlitesuperfs serve} as a process of its own, driven by the command line as a user drives
 * it ({@code mount --host}, {@code status --json}, {@code unmount}, SIGTERM), on the test
 * PostgreSQL and real FUSE mounts; what it stored is checked by standalone mounts afterwards.
 */
class HostServeTest {
    private static final Duration WAIT = Duration.ofSeconds(120);
    private static final String PASS = "host test passphrase";

    private HostScratch scratch;
    private Path dir;
    private Path socket;

    @BeforeEach
    void makeDirectory() throws IOException {
        scratch = new HostScratch("sqlitesuperfs-serve-");
        dir = scratch.dir;
        socket = scratch.socket;
    }

    @AfterEach
    void cleanUp() {
        scratch.cleanUp(WAIT);
    }

    private static Map<String, String> env() {
        return Map.of("psql_url", TestPostgres.url(), "encryption_pass", PASS);
    }

    /** Starts {@code serve --socket S args...} and waits until it takes requests. */
    private CliProcess serve(String... args) throws InterruptedException {
        List<String> all = new ArrayList<>(List.of("serve", "--socket", socket.toString()));
        all.addAll(List.of(args));
        CliProcess host = CliProcess.start(Map.of("psql_url", TestPostgres.url()), all.toArray(String[]::new));
        scratch.hosts.add(host);
        host.awaitOutput("serving on " + socket, WAIT);
        return host;
    }

    private Path newMountDir(String name) throws IOException {
        Path m = Files.createDirectory(dir.resolve(name));
        scratch.mountDirs.add(m);
        return m;
    }

    /** {@code count} fresh namespace names, each with an empty directory of its own, in order. */
    private Map<String, Path> freshNamespaces(int count) throws IOException {
        Map<String, Path> fresh = new LinkedHashMap<>();
        for (int i = 0; i < count; i++) {
            fresh.put(TestPostgres.freshNamespace(), newMountDir("m" + i));
        }
        return fresh;
    }

    /** {@code mount --host --socket S --kdf interactive [options] NS DIR}, run to its end. */
    private CliProcess mountThroughHost(Map<String, String> env, String namespace, Path mountDir, String... options) {
        List<String> args = new ArrayList<>(List.of("mount", "--host", "--socket", socket.toString(), "--kdf",
                "interactive"));
        args.addAll(List.of(options));
        args.add(namespace);
        args.add(mountDir.toString());
        return CliProcess.run(env, WAIT, args.toArray(String[]::new));
    }

    private void mountOk(String namespace, Path mountDir) {
        CliProcess mount = mountThroughHost(env(), namespace, mountDir);
        assertThat(mount.exitCode()).as("mount --host %s\n%s", namespace, mount.stderr()).isZero();
        assertThat(mount.stdout()).contains("mounted namespace " + namespace);
        assertThat(HostScratch.isMounted(mountDir)).isTrue();
    }

    /** A file written and fsynced, and a SQLite commit in WAL mode, in the mount on {@code m}. */
    private static void writeAndCommit(Path m, String content) throws IOException {
        try (FileChannel f = FileChannel.open(m.resolve("note.txt"), StandardOpenOption.CREATE,
                StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
            f.write(ByteBuffer.wrap(content.getBytes(StandardCharsets.UTF_8)));
            f.force(true);
        }
        Shell.run("sqlite3", m.resolve("app.db").toString(), "PRAGMA journal_mode=WAL;"
                + " CREATE TABLE IF NOT EXISTS t(x TEXT); INSERT INTO t VALUES('" + content + "');");
    }

    /** The file holds {@code content}, and the last row committed to the database too. */
    private static void assertHolds(Path m, String content) throws IOException {
        assertThat(Files.readString(m.resolve("note.txt"))).isEqualTo(content);
        assertThat(Shell.run("sqlite3", m.resolve("app.db").toString(), "SELECT x FROM t ORDER BY rowid DESC LIMIT 1;").strip())
                .isEqualTo(content);
    }

    /** Mounts {@code namespace} standalone, checks that it holds {@code content}, unmounts it. */
    private void assertStoredStandalone(String namespace, String content) throws Exception {
        Path m = newMountDir("check-" + namespace);
        try (CliProcess mount = CliProcess.start(env(), "mount", namespace, m.toString())) {
            mount.awaitMounted(WAIT);
            assertHolds(m, content);
            mount.signal("TERM");
            assertThat(mount.waitFor(WAIT)).as(mount.stderr()).isZero();
        }
    }

    @SuppressWarnings("unchecked")
    private Map<String, Object> statusJson(Map<String, String> env) throws Json.Malformed {
        CliProcess status = CliProcess.run(env, WAIT, "status", "--socket", socket.toString(), "--json");
        assertThat(status.exitCode()).as(status.stderr()).isIn(ExitCode.OK.code(), ExitCode.DEGRADED.code());
        return (Map<String, Object>) Json.parse(status.stdout().strip());
    }

    @SuppressWarnings("unchecked")
    private static List<Map<String, Object>> namespaces(Map<String, Object> status) {
        return (List<Map<String, Object>>) status.get("namespaces");
    }

    @Test
    void servesNamespacesMountedThroughTheSocketAndStoresEverythingOnSigterm() throws Exception {
        CliProcess host = serve("--metrics", "127.0.0.1:0", "--workers", "12");
        // Before any mount asks, the host connects to its default database ($psql_url): the lock
        // session, both writer lanes and a read connection (the read pool may open another). The
        // mounts below use that same server (one database in the figures further down).
        java.util.regex.Pattern connectedAhead = java.util.regex.Pattern.compile("sqlitesuperfs_host_db_connections [4-9]\n");
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!connectedAhead.matcher(scrape(host)).find() && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertThat(scrape(host)).containsPattern(connectedAhead);
        Map<String, Path> fresh = freshNamespaces(3);
        fresh.forEach(this::mountOk);
        List<String> names = List.copyOf(fresh.keySet());
        List<Path> dirs = List.copyOf(fresh.values());
        for (int i = 0; i < 3; i++) {
            writeAndCommit(dirs.get(i), "content of " + names.get(i));
        }

        Map<String, Object> status = statusJson(env());
        assertThat(namespaces(status)).extracting(n -> n.get("namespace")).containsExactlyElementsOf(names);
        for (Map<String, Object> n : namespaces(status)) {
            assertThat(n.get("state")).isEqualTo("mounted");
            assertThat((Long) n.get("inodes_in_memory")).isGreaterThanOrEqualTo(1L);
            assertThat(n).containsKeys("cached_bytes", "unstored_bytes", "mounted_since", "owner_uid", "bytes_read",
                    "cache_hits", "cache_misses", "tamper_events");
            assertThat((Long) n.get("bytes_written")).as("the file and the database were written").isPositive();
            assertThat((Long) n.get("cached_bytes")).as("the files just written are cached").isPositive();
        }
        String metrics = scrape(host);
        assertThat(metrics).contains("sqlitesuperfs_host_namespaces 3\n", "sqlitesuperfs_host_request_workers 12\n");
        for (String name : names) {
            assertThat(metrics).containsPattern("sqlitesuperfs_commits_total\\{namespace=\"" + name + "\"\\} [1-9]")
                    .containsPattern("sqlitesuperfs_written_bytes_total\\{namespace=\"" + name + "\"\\} [1-9]");
        }
        Map<String, Object> figures = (Map<String, Object>) status.get("host");
        assertThat(figures.get("databases")).isEqualTo(1L);
        assertThat(figures.get("db_connections_max")).isEqualTo((long) HostResources.DEFAULT_DB_CONNECTIONS);

        CliProcess unmount = CliProcess.run(Map.of(), WAIT, "unmount", dirs.getFirst().toString());
        assertThat(unmount.exitCode()).as(unmount.stderr()).isZero();
        assertThat(HostScratch.isMounted(dirs.getFirst())).isFalse();
        assertThat(namespaces(statusJson(env()))).extracting(n -> n.get("namespace"))
                .containsExactlyElementsOf(names.subList(1, 3));
        assertHolds(dirs.get(1), "content of " + names.get(1));

        host.signal("TERM");
        assertThat(host.waitFor(WAIT)).as("exit code of serve after SIGTERM\n%s", host.stderr()).isZero();
        for (Path m : dirs) {
            assertThat(HostScratch.isMounted(m)).as("%s still mounted", m).isFalse();
        }
        assertThat(Files.exists(socket)).as("the socket is removed").isFalse();
        for (String name : names) {
            assertStoredStandalone(name, "content of " + name);
        }
    }


    /** Also: the passphrase handed over the socket is nowhere in the host's log, even at debug level. */
    @Test
    void aReadOnlyMountThroughTheHostFollowsTheWriterBesideIt() throws Exception {
        serve();
        String namespace = TestPostgres.freshNamespace();
        Path writer = newMountDir("writer");
        Path follower = newMountDir("follower");
        mountOk(namespace, writer);
        writeAndCommit(writer, "first");
        CliProcess readOnly = mountThroughHost(env(), namespace, follower, "--read-only");
        assertThat(readOnly.exitCode()).as("mount --host --read-only beside the writer\n%s", readOnly.stderr()).isZero();
        assertThat(Files.readString(follower.resolve("note.txt"))).isEqualTo("first");
        writeAndCommit(writer, "second");
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!Files.readString(follower.resolve("note.txt")).equals("second") && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertThat(Files.readString(follower.resolve("note.txt"))).isEqualTo("second");
        for (Path m : List.of(follower, writer)) {
            CliProcess unmount = CliProcess.run(Map.of(), WAIT, "unmount", m.toString());
            assertThat(unmount.exitCode()).as(unmount.stderr()).isZero();
        }
    }

    @Test
    void aWrongPassphraseThroughTheHostExitsAsAStandaloneMountDoes() throws Exception {
        CliProcess host = serve("--log-level", "debug");
        String namespace = TestPostgres.freshNamespace();
        Path m = newMountDir("m");
        mountOk(namespace, m);
        CliProcess unmount = CliProcess.run(Map.of(), WAIT, "unmount", m.toString());
        assertThat(unmount.exitCode()).as(unmount.stderr()).isZero();

        Map<String, String> wrong = Map.of("psql_url", TestPostgres.url(), "encryption_pass", "not the passphrase");
        CliProcess standalone = CliProcess.run(wrong, WAIT, "mount", namespace, m.toString());
        CliProcess hosted = mountThroughHost(wrong, namespace, m);
        assertThat(standalone.exitCode()).isEqualTo(ExitCode.PASSPHRASE.code());
        assertThat(hosted.exitCode()).as(hosted.stderr()).isEqualTo(standalone.exitCode());
        assertThat(hosted.stderr().lines().toList()).hasSize(1);
        assertThat(hosted.stderr()).contains("passphrase");
        assertThat(HostScratch.isMounted(m)).isFalse();
        assertThat(host.stdout() + host.stderr()).contains("mount " + namespace + " on " + m)
                .doesNotContain("not the passphrase").doesNotContain(PASS);
    }

    /**
     * The socket admits root (and the host's user) only, unless --socket-group G: then the members
     * of G too. The caller here is uid 4321 whose group is "users".
     */
    @Test
    void aUserWhoIsNotRootIsRefusedUnlessInTheSocketGroup() throws Exception {
        serve();
        CliProcess refused = CliProcess.startAs("4321:100", Map.of(), "status", "--socket", socket.toString());
        assertThat(refused.waitFor(WAIT)).as(refused.stderr()).isEqualTo(ExitCode.HOST_DENIED.code());
        assertThat(refused.stderr().strip()).startsWith("sqlitesuperfs: permission denied on " + socket);

        // the file's mode is the first line; the peer's credentials the second
        Shell.run("chmod", "666", socket.toString());
        CliProcess stillRefused = CliProcess.startAs("4321:100", Map.of(), "status", "--socket", socket.toString());
        assertThat(stillRefused.waitFor(WAIT)).as(stillRefused.stderr()).isEqualTo(ExitCode.HOST_DENIED.code());
        assertThat(stillRefused.stderr()).contains("user 4321 may not use this host");

        Path groupSocket = dir.resolve("group.sock");
        CliProcess groupHost = CliProcess.start(Map.of("psql_url", TestPostgres.url()), "serve", "--socket",
                groupSocket.toString(), "--socket-group", "users");
        scratch.hosts.add(groupHost);
        groupHost.awaitOutput("serving on " + groupSocket, WAIT);
        CliProcess admitted = CliProcess.startAs("4321:100", Map.of(), "status", "--socket", groupSocket.toString());
        assertThat(admitted.waitFor(WAIT)).as(admitted.stderr()).isZero();
        assertThat(admitted.stdout()).contains("serves no namespace");
        CliProcess other = CliProcess.startAs("4321:4321", Map.of(), "status", "--socket", groupSocket.toString());
        assertThat(other.waitFor(WAIT)).as(other.stderr()).isEqualTo(ExitCode.HOST_DENIED.code());
    }

    @Test
    void theConfigFileMountsItsNamespacesAtStart() throws Exception {
        String first = TestPostgres.freshNamespace();
        String second = TestPostgres.freshNamespace();
        Path passFile = dir.resolve("pass");
        Files.writeString(passFile, PASS + "\n");
        Path a = newMountDir("a");
        Path b = newMountDir("b");
        Path config = dir.resolve("host.conf");
        Files.writeString(config, "# namespaces of this host\n"
                + first + " " + a + " passphrase-file=" + passFile + " --kdf interactive\n"
                + "\n"
                + second + " " + b + " \"key-command=/bin/cat " + passFile + "\" --kdf interactive  # by command\n");
        CliProcess host = serve("--config", config.toString());
        assertThat(HostScratch.isMounted(a)).isTrue();
        assertThat(HostScratch.isMounted(b)).isTrue();
        writeAndCommit(a, "first");
        writeAndCommit(b, "second");
        assertThat(namespaces(statusJson(env()))).extracting(n -> n.get("namespace"), n -> n.get("origin"))
                .containsExactly(org.assertj.core.groups.Tuple.tuple(first, "config " + config + ":2"),
                        org.assertj.core.groups.Tuple.tuple(second, "config " + config + ":4"));
        host.signal("TERM");
        assertThat(host.waitFor(WAIT)).as(host.stderr()).isZero();
        assertStoredStandalone(first, "first");
        assertStoredStandalone(second, "second");
    }

    /**
     * A namespace whose schema is dropped under it fails its own writes, and one that is no
     * namespace fails to mount; their neighbours on the same connections go on committing, and are
     * stored and unmounted at the end.
     */
    @Test
    void oneNamespaceFailingDoesNotTakeTheOthersDown() throws Exception {
        CliProcess host = serve("--db-connections", "3", "--db-timeout", "5");
        Map<String, Path> fresh = freshNamespaces(3);
        fresh.forEach(this::mountOk);
        List<String> names = List.copyOf(fresh.keySet());
        List<Path> dirs = List.copyOf(fresh.values());
        for (int i = 0; i < 3; i++) {
            writeAndCommit(dirs.get(i), "before " + i);
        }
        TestPostgres.update("DROP SCHEMA " + names.getFirst() + " CASCADE");
        try (FileChannel f = FileChannel.open(dirs.getFirst().resolve("doomed"), StandardOpenOption.CREATE,
                StandardOpenOption.WRITE)) {
            f.write(ByteBuffer.wrap(new byte[8192]));
            f.force(true);
            throw new AssertionError("fsync in a namespace whose schema is gone succeeded");
        } catch (IOException expected) {
            // EIO or the like: the failure is the broken namespace's own
        }
        // a namespace that cannot be opened on the same server: a schema of that name that is no namespace
        String notANamespace = TestPostgres.freshNamespace();
        TestPostgres.update("CREATE SCHEMA " + notANamespace);
        TestPostgres.update("CREATE TABLE " + notANamespace + ".other(x int)");
        CliProcess refused = mountThroughHost(env(), notANamespace, newMountDir("other"));
        assertThat(refused.exitCode()).as(refused.stderr()).isEqualTo(ExitCode.NAMESPACE.code());
        for (int round = 0; round < 3; round++) {
            for (int i = 1; i < 3; i++) {
                writeAndCommit(dirs.get(i), "after " + round + " in " + i);
            }
        }
        List<Map<String, Object>> listed = namespaces(statusJson(env()));
        assertThat(listed).extracting(n -> n.get("namespace")).containsAll(names.subList(1, 3));

        host.signal("TERM");
        System.out.println("serve's exit code with one namespace broken: " + host.waitFor(WAIT));
        assertThat(host.stderr()).contains(names.getFirst());
        for (int i = 1; i < 3; i++) {
            assertThat(HostScratch.isMounted(dirs.get(i))).isFalse();
            assertStoredStandalone(names.get(i), "after 2 in " + i);
        }
    }

    /**
     * Twenty namespaces mounted and written at once use no more PostgreSQL connections than the
     * host's bound, counted on the server.
     */
    @Test
    void twentyNamespacesShareTheBoundedConnections() throws Exception {
        int bound = 6;
        CliProcess host = serve("--db-connections", Integer.toString(bound));
        Map<String, Path> fresh = freshNamespaces(20);
        List<String> names = List.copyOf(fresh.keySet());
        List<Path> dirs = List.copyOf(fresh.values());
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                int index = i;
                done.add(pool.submit(() -> {
                    mountOk(names.get(index), dirs.get(index));
                    return null;
                }));
            }
            long most = 0;
            for (Future<?> f : done) {
                f.get();
                most = Math.max(most, hostConnections());
            }
            done.clear();
            for (int i = 0; i < 20; i++) {
                int index = i;
                done.add(pool.submit(() -> {
                    writeAndCommit(dirs.get(index), "row " + index);
                    return null;
                }));
            }
            for (Future<?> f : done) {
                most = Math.max(most, hostConnections());
                f.get();
            }
            most = Math.max(most, hostConnections());
            long threads = procStatus(host.pid(), "Threads:");
            System.out.println("host with 20 namespaces: at most " + most + " PostgreSQL connections (bound "
                    + bound + "), " + (procStatus(host.pid(), "VmRSS:") >> 10) + " MiB resident, " + threads + " threads");
            assertThat(most).isPositive().isLessThanOrEqualTo(bound);
            // One request pool serves every mount: twenty mounts of their own would bring 16
            // request threads each (over 320).
            assertThat(threads).as("threads of a host serving 20 namespaces").isLessThan(120);
        } finally {
            pool.shutdownNow();
        }
        assertThat(namespaces(statusJson(env()))).hasSize(20);
        host.signal("TERM");
        assertThat(host.waitFor(WAIT)).as(host.stderr()).isZero();
        assertStoredStandalone(names.get(7), "row 7");
    }

    private static long hostConnections() {
        return TestPostgres.queryLong("SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE"
                + " 'sqlitesuperfs:host:%'");
    }

    /** The number on the line of /proc/PID/status that starts with {@code field} (VmRSS in KiB). */
    private static long procStatus(long pid, String field) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
            if (line.startsWith(field)) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return -1;
    }

    /** GET /metrics of a host started with --metrics 127.0.0.1:0 (its log names the port). */
    private static String scrape(CliProcess host) throws Exception {
        java.util.regex.Matcher port = java.util.regex.Pattern.compile("metrics on http://127\\.0\\.0\\.1:(\\d+)/metrics")
                .matcher(host.stderr());
        assertThat(port.find()).as("the host logs where its metrics are\n%s", host.stderr()).isTrue();
        java.net.http.HttpResponse<String> answer = java.net.http.HttpClient.newHttpClient().send(
                java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:" + port.group(1) + "/metrics"))
                        .build(), java.net.http.HttpResponse.BodyHandlers.ofString());
        assertThat(answer.statusCode()).isEqualTo(200);
        return answer.body();
    }

    /** A refusal for the server's connection limit (SQLState 53300) says so in words. */
    @Test
    void theServersConnectionLimitIsToldInWords() throws Exception {
        String role = "limited_" + TestPostgres.freshNamespace();
        TestPostgres.update("CREATE ROLE " + role + " LOGIN PASSWORD 'pw' CONNECTION LIMIT 1");
        try {
            serve("--db-timeout", "2");
            var c = TestPostgres.config();
            var e = c.endpoints().getFirst();
            String url = "postgresql://" + role + ":pw@" + e.host() + ":" + e.port() + "/" + c.database();
            CliProcess mount = mountThroughHost(Map.of("psql_url", url, "encryption_pass", PASS),
                    TestPostgres.freshNamespace(), newMountDir("m"));
            assertThat(mount.exitCode()).isNotZero();
            assertThat(mount.stderr().lines().toList()).hasSize(1);
            assertThat(mount.stderr()).contains("connection limit").contains("SQLState 53300")
                    .contains("up to " + HostResources.DEFAULT_DB_CONNECTIONS + " connections")
                    .contains("--db-connections");
        } finally {
            TestPostgres.update("DROP ROLE IF EXISTS " + role);
        }
    }
}
