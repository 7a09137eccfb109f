package dev.sqlitesuperfs.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.cli.ExitCode;
import dev.sqlitesuperfs.crypto.KdfStrength;
import dev.sqlitesuperfs.crypto.Passphrase;
import dev.sqlitesuperfs.fleet.Fleet;
import dev.sqlitesuperfs.localpg.LocalFleet;
import dev.sqlitesuperfs.sealed.SealedNamespace;
import dev.sqlitesuperfs.store.NamespaceName;
import dev.sqlitesuperfs.store.NamespaceStore;
import dev.sqlitesuperfs.store.PgNamespaceStore;
import dev.sqlitesuperfs.store.StoreException;
import dev.sqlitesuperfs.testing.CliProcess;
import dev.sqlitesuperfs.testing.Shell;
import dev.sqlitesuperfs.testing.StrictJson;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Namespaces spread over a fleet of three real PostgreSQL clusters, through the command line as an
 * operator runs it: {@code ns create} places, {@code mount --fleet} finds, {@code ns list} shows
 * the server, and {@code ns move} copies, checks, switches over and frees, surviving a SIGKILL
 * after each of its steps (a rerun finishes it, and exactly one copy is ever authoritative).
 */
class FleetTest {
    private static final Duration GENEROUS = Duration.ofSeconds(120);
    private static final String PASS = "a passphrase for the fleet tests";
    private static final AtomicInteger NAMES = new AtomicInteger();

    @TempDir
    static Path state;
    private static LocalFleet fleet;

    private final List<Path> mountDirs = new ArrayList<>();

    @BeforeAll
    static void startFleet() {
        fleet = LocalFleet.start(state, 3);
    }

    @AfterAll
    static void stopFleet() {
        if (fleet != null) {
            fleet.close();
        }
    }

    @AfterEach
    void unmountWhatIsLeft() throws IOException {
        for (Path dir : mountDirs) {
            Shell.unmountLazilyIfMounted(dir);
            Files.deleteIfExists(dir);
        }
    }

    private static String freshName() {
        return "fleet" + ProcessHandle.current().pid() + "_" + NAMES.incrementAndGet();
    }

    private static Map<String, String> env() {
        return Map.of("encryption_pass", PASS);
    }

    /** {@code sqlitesuperfs ARGS... } with the fleet and this test's state directory, run to its end. */
    private static CliProcess cli(Map<String, String> env, String command, String... args) {
        List<String> all = new ArrayList<>(List.of(command.split(" ")));
        all.addAll(List.of("--fleet", fleet.file().toString(), "--state-dir", state.resolve("client").toString()));
        all.addAll(List.of(args));
        return CliProcess.run(env, GENEROUS, all.toArray(String[]::new));
    }

    private static CliProcess ok(String command, String... args) {
        CliProcess p = cli(env(), command, args);
        assertThat(p.exitCode()).as(command + " " + String.join(" ", args) + "\nstdout: " + p.stdout() + "\nstderr: "
                + p.stderr()).isZero();
        return p;
    }

    private CliProcess mount(String namespace, String... options) throws IOException {
        Path dir = Files.createTempDirectory("sqlitesuperfs-fleet-");
        mountDirs.add(dir);
        List<String> args = new ArrayList<>(List.of("mount", "--kdf", "interactive", "--fleet", fleet.file().toString(),
                "--state-dir", state.resolve("client").toString()));
        args.addAll(List.of(options));
        args.addAll(List.of(namespace, dir.toString()));
        return CliProcess.start(env(), args.toArray(String[]::new)).awaitMounted(GENEROUS);
    }

    private static Path dirOf(CliProcess mount) {
        String line = mount.stdout().lines().filter(l -> l.startsWith("mounted namespace")).findFirst().orElseThrow();
        return Path.of(line.substring(line.indexOf(" at ") + 4));
    }

    private static void unmount(CliProcess mount) {
        mount.signal("TERM");
        assertThat(mount.waitFor(GENEROUS)).isZero();
    }

    /** Each server's namespaces by name, from {@code ns list --json}, without the copies of moves under way. */
    @SuppressWarnings("unchecked")
    private static Map<String, List<String>> listed() {
        Map<String, Object> doc = StrictJson.object(ok("ns list", "--json").stdout());
        Map<String, List<String>> byServer = new HashMap<>(Map.of("s1", new ArrayList<>(), "s2", new ArrayList<>(),
                "s3", new ArrayList<>()));
        for (Map<String, Object> n : (List<Map<String, Object>>) doc.get("namespaces")) {
            if (!(Boolean) n.get("moving")) {
                byServer.get((String) n.get("server")).add((String) n.get("name"));
            }
        }
        return byServer;
    }

    /** The server (s1 to s3) whose list has {@code name}; fails if it is on none or on several. */
    private static String serverOf(String name) {
        List<String> on = listed().entrySet().stream().filter(e -> e.getValue().contains(name)).map(Map.Entry::getKey)
                .toList();
        assertThat(on).as("servers listing " + name).hasSize(1);
        return on.getFirst();
    }

    @Test
    void createPlacesEachNewNamespaceOnTheServerHoldingFewestAndListShowsWhere() {
        Map<String, List<String>> before = listed();
        int most = before.values().stream().mapToInt(List::size).max().orElseThrow();
        int total = before.values().stream().mapToInt(List::size).sum();
        // enough to bring every server to the fullest one's count, then two more rounds
        int creations = 3 * most - total + 6;
        for (int i = 0; i < creations; i++) {
            CliProcess created = ok("ns create", "--kdf", "interactive", freshName());
            assertThat(created.stdout()).matches("(?s)created namespace \\S+ on server s[123] .*");
        }
        Map<String, List<String>> after = listed();
        assertThat(after.values().stream().map(List::size).toList()).as("namespaces per server after " + creations
                + " creations from " + before).containsOnly(most + 2);

        String named = freshName();
        ok("ns create", "--kdf", "interactive", "--server", "s3", named);
        assertThat(serverOf(named)).isEqualTo("s3");
        CliProcess again = cli(env(), "ns create", "--kdf", "interactive", "--server", "s1", named);
        assertThat(again.exitCode()).isEqualTo(ExitCode.NAMESPACE.code());
        assertThat(again.stderr()).contains("already exists (on server s3)");
    }

    @Test
    void aMovedNamespaceServesEveryByteFromItsNewServerAndTheOldOneRefusesIt() throws Exception {
        String name = freshName();
        String checksum = mountAndWrite(name, 300, 3 << 20);
        String from = serverOf(name);
        String to = from.equals("s1") ? "s2" : "s1";

        CliProcess busy;
        try (CliProcess mount = mount(name)) {
            busy = cli(env(), "ns move", "--to", to, name);
            unmount(mount);
        }
        assertThat(busy.exitCode()).as("a mounted namespace is not moved").isEqualTo(ExitCode.BUSY.code());
        assertThat(busy.stderr().strip()).contains("unmount it first").doesNotContain("\n");
        try (CliProcess follower = mount(name, "--read-only")) {
            busy = cli(env(), "ns move", "--to", to, name);
            unmount(follower);
        }
        assertThat(busy.exitCode()).as("a namespace a follower reads is not moved: the follower would serve the"
                + " old copy for good\n" + busy.stderr()).isEqualTo(ExitCode.BUSY.code());
        assertThat(busy.stderr().strip()).contains("is read by", "sqlitesuperfs:" + name + ":follow")
                .endsWith("unmount it first, then move it").doesNotContain("\n");
        assertThat(fleet.hasSchema(number(to), name)).as("refused before anything was copied").isFalse();

        CliProcess moved = ok("ns move", "--to", to, name);
        assertThat(moved.stdout()).contains("checked the copy with the key", "moved namespace " + name + " from server "
                + from + " to server " + to);
        assertThat(serverOf(name)).isEqualTo(to);
        assertThat(fleet.tablesOf(number(from), name)).as("the old server keeps only where it went")
                .containsExactly("placement");

        try (CliProcess mount = mount(name)) {
            assertThat(readData(dirOf(mount), 300)).isEqualTo(checksum);
            unmount(mount);
        }
        assertThat(ok("fsck --verify", name).stdout()).contains("clean, every row authentic");

        // straight to the old server: told where it went, not given a new empty namespace
        Path dir = Files.createTempDirectory("sqlitesuperfs-fleet-");
        mountDirs.add(dir);
        CliProcess direct = CliProcess.run(env(), GENEROUS, "mount", "--kdf", "interactive", "--db",
                fleet.url(number(from)), "--state-dir", state.resolve("client").toString(), name, dir.toString());
        assertThat(direct.exitCode()).isEqualTo(ExitCode.NAMESPACE.code());
        assertThat(direct.stderr()).contains("was moved to server " + to);

        CliProcess back = ok("ns move", "--json", "--to", from, name);
        assertThat(StrictJson.object(back.stdout())).containsEntry("moved", name).containsEntry("from", to)
                .containsEntry("to", from).containsEntry("already_there", false);
        assertThat(back.stderr()).as("progress goes to stderr with --json").contains("checked the copy with the key");
        assertThat(fleet.tablesOf(number(to), name)).containsExactly("placement");
        assertThat(fleet.tablesOf(number(from), name)).contains("meta", "blocks").doesNotContain("placement");

        // dropped behind the fleet's back (on its server alone), its name is free again: a new
        // namespace placed where the tombstone is takes its place
        CliProcess dropped = CliProcess.run(env(), GENEROUS, "ns", "drop", "--yes", "--db", fleet.url(number(from)),
                name);
        assertThat(dropped.exitCode()).as(dropped.stderr()).isZero();
        CliProcess again = ok("ns create", "--kdf", "interactive", "--server", to, name);
        assertThat(again.stdout()).contains("created namespace " + name + " on server " + to);
        assertThat(fleet.tablesOf(number(to), name)).contains("meta").doesNotContain("placement");

        // ns drop through the fleet leaves nothing of the name anywhere, tombstones included
        ok("ns move", "--to", from, name);
        assertThat(fleet.tablesOf(number(to), name)).containsExactly("placement");
        CliProcess gone = ok("ns drop", "--yes", name);
        assertThat(gone.stdout()).contains("dropped the tombstone of namespace " + name + " on server " + to
                + " (left for " + from + ")");
        assertThat(fleet.hasSchema(number(from), name)).isFalse();
        assertThat(fleet.hasSchema(number(to), name)).isFalse();
    }

    @Test
    void twoCreationsOfOneNameOnTwoServersMakeOneNamespace() throws Exception {
        Fleet servers = Fleet.read(fleet.file());
        NamespaceName name = NamespaceName.parse(freshName());
        CountDownLatch firstInside = new CountDownLatch(1);
        CountDownLatch letFirstFinish = new CountDownLatch(1);
        AtomicInteger secondInside = new AtomicInteger();
        Thread first = Thread.ofVirtual().start(() -> servers.createLocked(name, servers.server("s1"), false, s -> {
            firstInside.countDown();
            try {
                letFirstFinish.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            try (NamespaceStore store = PgNamespaceStore.open(s.config(), name, false)) {
                SealedNamespace.create(store, name.value(), new SealedNamespace.NewNamespace(4096,
                        KdfStrength.INTERACTIVE, 0, 0, 0, false), Passphrase.fromBytes(PASS.getBytes(java.nio.charset.StandardCharsets.UTF_8))).close();
            }
            return s;
        }));
        assertThat(firstInside.await(120, TimeUnit.SECONDS)).isTrue();
        AtomicReference<Throwable> secondFailure = new AtomicReference<>();
        Thread second = Thread.ofVirtual().start(() -> {
            try {
                servers.createLocked(name, servers.server("s2"), false, s -> secondInside.incrementAndGet());
            } catch (Throwable e) {
                secondFailure.set(e);
            }
        });
        // the second waits for the name's lock while the first is inside
        assertThat(second.join(Duration.ofSeconds(2))).as("the second creation waits").isFalse();
        assertThat(secondInside).hasValue(0);
        letFirstFinish.countDown();
        first.join();
        second.join();
        assertThat(secondInside).as("never placed a second namespace of that name").hasValue(0);
        assertThat(secondFailure.get()).isInstanceOf(StoreException.NamespaceExists.class)
                .hasMessageContaining("already exists (on server s1)");
        assertThat(serverOf(name.value())).isEqualTo("s1");
    }

    /** The two states a kill can leave that differ: before the switch-over, and between it and the activation. */
    @Test
    void aMoveKilledBeforeOrAfterItsSwitchOverLeavesOneAuthoritativeCopyAndARerunFinishesIt() throws Exception {
        killAfterEachOf(List.of("copied", "switched"));
    }

    @Test
    @Tag("slow")
    void aMoveKilledAfterAnyStepLeavesOneAuthoritativeCopyAndARerunFinishesIt() throws Exception {
        killAfterEachOf(List.of("copied", "verified", "switched", "activated"));
    }

    /**
     * Killed at random moments in its first seconds (mostly during the copy of a 48 MiB file): the
     * copy is all or nothing, and the rerun finishes the move with every byte.
     */
    @Test
    @Tag("slow")
    void aMoveKilledDuringItsCopyLeavesTheOldCopyAuthoritative() throws Exception {
        Random random = new Random(7);
        for (int round = 0; round < 3; round++) {
            String name = freshName();
            String checksum = mountAndWrite(name, 100, 48 << 20);
            String from = serverOf(name);
            String to = from.equals("s1") ? "s3" : "s1";
            List<String> args = List.of("ns", "move", "--fleet", fleet.file().toString(), "--state-dir",
                    state.resolve("client").toString(), "--to", to, name);
            try (CliProcess move = CliProcess.start(env(), args.toArray(String[]::new))) {
                move.awaitOutput("moving namespace " + name, GENEROUS);
                Thread.sleep(random.nextInt(1500));
                move.signal("KILL");
                move.waitFor(GENEROUS);
            }
            // at most one copy is the namespace (none while a kill after the switch-over waits for the rerun)
            assertThat(listed().values().stream().filter(l -> l.contains(name)).count()).as("round " + round)
                    .isLessThanOrEqualTo(1);
            ok("ns move", "--to", to, name);
            assertThat(serverOf(name)).isEqualTo(to);
            try (CliProcess mount = mount(name)) {
                assertThat(readData(dirOf(mount), 100)).as("round " + round).isEqualTo(checksum);
                unmount(mount);
            }
        }
    }

    /** For each step: a namespace with data, its move killed right after that step, checked, the move rerun. */
    private void killAfterEachOf(List<String> steps) throws Exception {
        for (String step : steps) {
            String name = freshName();
            String checksum = mountAndWrite(name, 200, 1 << 20);
            String from = serverOf(name);
            String to = from.equals("s3") ? "s2" : "s3";
            Map<String, String> halting = new HashMap<>(env());
            halting.put("SQLITESUPERFS_MOVE_HALT_AFTER", step);
            List<String> args = List.of("ns", "move", "--fleet", fleet.file().toString(), "--state-dir",
                    state.resolve("client").toString(), "--to", to, name);
            try (CliProcess move = CliProcess.start(halting, args.toArray(String[]::new))) {
                move.awaitOutput("halted after " + step, GENEROUS);
                move.signal("KILL");
                move.waitFor(GENEROUS);
            }
            boolean switched = !step.equals("copied") && !step.equals("verified");

            // one authoritative copy: before the switch the old one mounts; between the switch and
            // the new copy's activation none does (a mount is told to rerun the move); after the
            // activation the new one does
            if (!switched || step.equals("activated")) {
                try (CliProcess mount = mount(name)) {
                    assertThat(readData(dirOf(mount), 200)).as("killed after " + step).isEqualTo(checksum);
                    unmount(mount);
                }
                assertThat(serverOf(name)).as("killed after " + step).isEqualTo(switched ? to : from);
            } else {
                Path dir = Files.createTempDirectory("sqlitesuperfs-fleet-");
                mountDirs.add(dir);
                CliProcess refused = CliProcess.run(env(), GENEROUS, "mount", "--fleet", fleet.file().toString(),
                        "--state-dir", state.resolve("client").toString(), name, dir.toString());
                assertThat(refused.exitCode()).as("killed after " + step + ": " + refused.stderr())
                        .isEqualTo(ExitCode.NAMESPACE.code());
                assertThat(refused.stderr()).contains("did not finish; rerun `sqlitesuperfs ns move " + name
                        + " --to " + to + "`");
            }

            CliProcess rerun = ok("ns move", "--to", to, name);
            assertThat(rerun.stdout()).as("killed after " + step).contains(switched ? "finishing an earlier move"
                    : "dropped the unfinished copy");
            assertThat(serverOf(name)).as("killed after " + step).isEqualTo(to);
            assertThat(fleet.tablesOf(number(from), name)).containsExactly("placement");
            try (CliProcess mount = mount(name)) {
                assertThat(readData(dirOf(mount), 200)).as("killed after " + step).isEqualTo(checksum);
                unmount(mount);
            }
        }
    }

    @Test
    void aHostFindsEachNamespaceOnTheServerThatHoldsIt() throws Exception {
        Path socket = state.resolve("host-" + NAMES.incrementAndGet() + ".sock");
        String onS1 = freshName();
        String onS2 = freshName();
        ok("ns create", "--kdf", "interactive", "--server", "s1", onS1);
        ok("ns create", "--kdf", "interactive", "--server", "s2", onS2);
        try (CliProcess host = CliProcess.start(Map.of(), "serve", "--socket", socket.toString())) {
            host.awaitOutput("serving on " + socket, GENEROUS);
            for (String name : List.of(onS1, onS2)) {
                Path dir = Files.createTempDirectory("sqlitesuperfs-fleet-");
                mountDirs.add(dir);
                CliProcess mount = CliProcess.run(env(), GENEROUS, "mount", "--host", "--socket", socket.toString(),
                        "--fleet", fleet.file().toString(), "--state-dir", state.resolve("client").toString(), name,
                        dir.toString());
                assertThat(mount.exitCode()).as(mount.stderr()).isZero();
                Files.writeString(dir.resolve("hello"), "from " + name);
            }
            @SuppressWarnings("unchecked")
            List<Map<String, Object>> all = (List<Map<String, Object>>) StrictJson.object(ok("ns list", "--json")
                    .stdout()).get("namespaces");
            for (Map<String, Object> n : all) {
                if (n.get("name").equals(onS1) || n.get("name").equals(onS2)) {
                    assertThat(n.get("server")).isEqualTo(n.get("name").equals(onS1) ? "s1" : "s2");
                    assertThat(n.get("mounted")).as("mounted by the host: " + n).isNotNull();
                }
            }
            host.signal("TERM");
            assertThat(host.waitFor(GENEROUS)).isZero();
        }
        try (CliProcess mount = mount(onS2)) {
            assertThat(Files.readString(dirOf(mount).resolve("hello"))).isEqualTo("from " + onS2);
            unmount(mount);
        }
    }

    @Test
    void aServerThatIsDownLeavesTheOthersListedAndTheirNamespacesMountable() throws Exception {
        String name = freshName();
        ok("ns create", "--kdf", "interactive", "--server", "s2", name);
        Path withDown = state.resolve("fleet-with-a-down-server");
        Files.writeString(withDown, Files.readString(fleet.file()) + "s4 postgresql://nobody@127.0.0.1:1/postgres\n");

        CliProcess list = CliProcess.run(env(), GENEROUS, "ns", "list", "--json", "--fleet", withDown.toString());
        assertThat(list.exitCode()).as("the list is not the whole fleet's").isEqualTo(ExitCode.DATABASE.code());
        assertThat(list.stderr().strip()).startsWith("sqlitesuperfs: server s4 of the fleet: ").doesNotContain("\n");
        Map<String, Object> doc = StrictJson.object(list.stdout());
        assertThat(doc.get("unreachable")).isEqualTo(List.of("s4"));
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> listed = (List<Map<String, Object>>) doc.get("namespaces");
        assertThat(listed).anySatisfy(n -> assertThat(n).containsEntry("name", name).containsEntry("server", "s2"));

        // a namespace on a server that answers is found without waiting for the one that does not
        Path dir = Files.createTempDirectory("sqlitesuperfs-fleet-");
        mountDirs.add(dir);
        try (CliProcess mount = CliProcess.start(env(), "mount", "--fleet", withDown.toString(), "--state-dir",
                state.resolve("client").toString(), name, dir.toString()).awaitMounted(GENEROUS)) {
            Files.writeString(dir.resolve("f"), "x");
            unmount(mount);
        }
    }

    @Test
    void aBadFleetFileIsOneLineAndAUsageError() throws Exception {
        Path bad = state.resolve("bad-fleet");
        Files.writeString(bad, "s1 postgresql://a@127.0.0.1/x\nS2 nothing\n");
        CliProcess p = CliProcess.run(env(), GENEROUS, "ns", "list", "--fleet", bad.toString());
        assertThat(p.exitCode()).isEqualTo(ExitCode.USAGE.code());
        assertThat(p.stderr().strip()).isEqualTo("sqlitesuperfs: fleet file " + bad
                + " line 2: server name 'S2' is not 1 to 32 lower-case letters, digits, '-' or '_' (starting with a"
                + " letter or digit)");
        CliProcess unknown = cli(env(), "ns move", "--to", "s9", "whatever");
        assertThat(unknown.exitCode()).isEqualTo(ExitCode.USAGE.code());
        assertThat(unknown.stderr()).contains("server 's9' is not in fleet file");
    }

    private static int number(String server) {
        return Integer.parseInt(server.substring(1));
    }

    /** Mounts {@code name} (made where the fleet places it), writes {@link #writeData} there, unmounts. */
    private String mountAndWrite(String name, int rows, int fileBytes) throws Exception {
        try (CliProcess mount = mount(name)) {
            String checksum = writeData(dirOf(mount), rows, fileBytes);
            unmount(mount);
            return checksum;
        }
    }

    /** A SQLite database of {@code rows} rows in WAL mode and a file of random bytes; returns their digest. */
    private static String writeData(Path dir, int rows, int fileBytes) throws Exception {
        try (Connection db = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("app.db"));
                Statement s = db.createStatement()) {
            s.execute("PRAGMA journal_mode=WAL");
            s.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
            for (int i = 0; i < rows; i++) {
                s.execute("INSERT INTO t (v) VALUES ('row " + i + "')");
            }
        }
        byte[] bytes = new byte[fileBytes];
        new Random(fileBytes).nextBytes(bytes);
        Files.write(dir.resolve("blob"), bytes);
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }

    /** Checks the database ({@code rows} rows, integrity ok) and returns the file's digest. */
    private static String readData(Path dir, int rows) throws Exception {
        try (Connection db = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("app.db"));
                Statement s = db.createStatement()) {
            try (ResultSet r = s.executeQuery("PRAGMA integrity_check")) {
                r.next();
                assertThat(r.getString(1)).isEqualTo("ok");
            }
            try (ResultSet r = s.executeQuery("SELECT count(*) FROM t")) {
                r.next();
                assertThat(r.getInt(1)).isEqualTo(rows);
            }
        }
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(
                Files.readAllBytes(dir.resolve("blob"))));
    }
}
