package dev.sqlitesuperfs.it;

import static dev.sqlitesuperfs.fuse.Errno.ENOSPC;
import static dev.sqlitesuperfs.testing.Posix.errnoOf;
import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.store.PgNamespaceStore;
import dev.sqlitesuperfs.cli.ExitCode;
import dev.sqlitesuperfs.testing.CliProcess;
import dev.sqlitesuperfs.testing.Posix;
import dev.sqlitesuperfs.testing.Shell;
import dev.sqlitesuperfs.testing.StrictJson;
import dev.sqlitesuperfs.testing.TestPostgres;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@code sqlitesuperfs ns ...} as an operator runs it: the real command line in a process of its
 * own, against the test PostgreSQL, with namespaces made by {@code ns create}, by a mount, and by
 * an older version (no catalog row).
 */
class NamespaceAdminTest {
    static final Duration READY = Duration.ofSeconds(60);
    static final String PASS = "a passphrase for the admin tests";

    private final List<Path> mountDirs = new ArrayList<>();

    @AfterEach
    void unmountWhatIsLeft() throws IOException {
        for (Path dir : mountDirs) {
            Shell.unmountLazilyIfMounted(dir);
            Files.deleteIfExists(dir);
        }
    }

    static Map<String, String> db() {
        return Map.of("psql_url", TestPostgres.url(), "encryption_pass", PASS);
    }

    /** {@code sqlitesuperfs ns ARGS...}, run to its end. */
    static CliProcess ns(String... args) {
        String[] all = Stream.concat(Stream.of("ns"), Stream.of(args)).toArray(String[]::new);
        return CliProcess.run(db(), READY, all);
    }

    static CliProcess nsOk(String... args) {
        CliProcess p = ns(args);
        assertThat(p.exitCode()).as("ns " + String.join(" ", args) + "\nstderr: " + p.stderr()).isZero();
        return p;
    }

    CliProcess mount(String namespace, String... options) throws IOException {
        Path dir = Files.createTempDirectory("sqlitesuperfs-ns-");
        mountDirs.add(dir);
        List<String> args = new ArrayList<>(List.of("mount", "--kdf", "interactive"));
        args.addAll(List.of(options));
        args.addAll(List.of(namespace, dir.toString()));
        return CliProcess.start(db(), args.toArray(String[]::new)).awaitMounted(READY);
    }

    static Path dirOf(CliProcess mount) {
        String line = mount.stdout().lines().filter(l -> l.startsWith("mounted namespace")).findFirst().orElseThrow();
        return Path.of(line.substring(line.indexOf(" at ") + 4));
    }

    static void unmount(CliProcess mount) {
        mount.signal("TERM");
        assertThat(mount.waitFor(READY)).isZero();
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> listed(Map<String, Object> list, String name) {
        return ((List<Map<String, Object>>) list.get("namespaces")).stream()
                .filter(n -> name.equals(n.get("name"))).findFirst()
                .orElseThrow(() -> new AssertionError(name + " not listed in " + list));
    }

    @Test
    void listInfoAndUsageShowNamespacesMadeByCreateByAMountAndByAnOlderVersion() throws Exception {
        String created = TestPostgres.freshNamespace();
        String mounted = TestPostgres.freshNamespace();
        String older = TestPostgres.freshNamespace();
        nsOk("create", "--kdf", "interactive", "--quota", "1M", created);
        nsOk("create", "--kdf", "interactive", "--block-size", "8K", older);
        // what a namespace made before the catalog looks like: no row
        assertThat(TestPostgres.update("DELETE FROM sqlitesuperfs.namespaces WHERE name = ?", older)).isEqualTo(1);

        try (CliProcess mount = mount(mounted)) {
            Path file = dirOf(mount).resolve("three-blocks");
            int fd = Posix.open(file, Posix.O_CREAT | Posix.O_WRONLY, 0644);
            try {
                Posix.pwrite(fd, new byte[3 * 4096], 0);
                Posix.fsync(fd);
            } finally {
                Posix.close(fd);
            }

            CliProcess list = nsOk("list", "--json");
            Map<String, Object> doc = StrictJson.object(list.stdout());
            assertThat(list.stderr()).isEmpty();
            Map<String, Object> c = listed(doc, created);
            assertThat(c).containsEntry("quota_bytes", 1048576L).containsEntry("block_size", 4096L)
                    .containsEntry("format", (long) PgNamespaceStore.FORMAT_VERSION).containsEntry("mounted", null);
            assertThat((String) c.get("created_at")).matches("\\d{4}-\\d\\d-\\d\\dT.*Z");
            Map<String, Object> o = listed(doc, older);
            assertThat(o).containsEntry("block_size", 8192L).containsEntry("quota_bytes", null);
            assertThat(TestPostgres.<Long>query("SELECT count(*) FROM sqlitesuperfs.namespaces WHERE name = ?", older))
                    .as("registered by the listing").isEqualTo(1L);
            @SuppressWarnings("unchecked")
            Map<String, Object> holder = (Map<String, Object>) listed(doc, mounted).get("mounted");
            assertThat(holder).isNotNull();
            assertThat((String) holder.get("application_name")).isEqualTo("sqlitesuperfs:" + mounted + ":lock");
            assertThat((Long) holder.get("pid")).isPositive();
            assertThat(holder).containsKeys("client_address", "since");
            assertThat((Long) doc.get("mounted")).isPositive();
            assertThat((String) doc.get("approximate")).contains("statistics");

            // the common options may come before the subcommand too
            CliProcess before = CliProcess.run(Map.of(), READY, "ns", "--json", "--db", TestPostgres.url(), "list");
            assertThat(before.exitCode()).as(before.stderr()).isZero();
            listed(StrictJson.object(before.stdout()), created);

            String table = nsOk("list").stdout();
            assertThat(table.lines().findFirst().orElseThrow()).contains("NAME", "FORMAT", "~BLOCKS", "~SIZE", "QUOTA",
                    "MOUNTED BY");
            assertThat(table).contains(created, older, "sqlitesuperfs:" + mounted + ":lock");

            Map<String, Object> info = StrictJson.object(nsOk("info", "--json", mounted).stdout());
            assertThat(info).containsEntry("name", mounted).containsEntry("format", (long) PgNamespaceStore.FORMAT_VERSION).containsEntry("key_check", true)
                    .containsEntry("mounts", 1L);
            assertThat((Long) info.get("last_commit")).as("the fsync of three blocks was committed").isPositive();
            assertThat(info.get("mounted")).isNotNull();
            assertThat((String) info.get("uuid")).matches("[0-9a-f-]{36}");
            assertThat(nsOk("info", created).stdout()).contains("quota:          1 MiB", "mounted by:     nobody",
                    "last commit:    ");

            Map<String, Object> usage = StrictJson.object(nsOk("usage", "--json", mounted).stdout());
            assertThat(usage).containsEntry("inodes", 2L).containsEntry("blocks", 3L)
                    .containsEntry("used_bytes", 3L * 4096).containsEntry("sealed_bytes", 3L * (4096 + 40))
                    .containsEntry("quota_bytes", null).containsEntry("quota_used_percent", null);
            assertThat((Long) usage.get("disk_bytes")).isGreaterThan(3L * 4096);
            unmount(mount);
        }
        Map<String, Object> usage = StrictJson.object(nsOk("usage", "--json", created).stdout());
        assertThat(usage).containsEntry("blocks", 0L).containsEntry("quota_bytes", 1048576L)
                .containsEntry("quota_used_percent", 0.0);
        assertThat(nsOk("usage", created).stdout()).contains("quota:      1 MiB, 0.0% used");
    }

    @Test
    void theStoredQuotaBindsAMountWithoutQuotaAndQuotaChangesItForTheNextMount() throws Exception {
        String name = TestPostgres.freshNamespace();
        nsOk("create", "--kdf", "interactive", "--quota", "256K", name);
        try (CliProcess mount = mount(name)) {
            assertThat(fillUntilFull(dirOf(mount).resolve("a"))).isEqualTo(256 * 1024);
            CliProcess set = nsOk("quota", name, "512K");
            assertThat(set.stdout()).contains("quota 512 KiB (was 256 KiB)", "mounted now");
            unmount(mount);
        }
        Map<String, Object> info = StrictJson.object(nsOk("info", "--json", name).stdout());
        assertThat(info).containsEntry("quota_bytes", 512L * 1024);
        try (CliProcess mount = mount(name)) {
            assertThat(fillUntilFull(dirOf(mount).resolve("b"))).as("512K less the 256K file a").isEqualTo(256 * 1024);
            unmount(mount);
        }
        // --quota overrides the stored one for that mount only
        try (CliProcess mount = mount(name, "--quota", "1M")) {
            assertThat(fillUntilFull(dirOf(mount).resolve("c"))).isEqualTo(512 * 1024);
            unmount(mount);
        }
        Map<String, Object> none = StrictJson.object(nsOk("quota", "--json", name, "none").stdout());
        assertThat(none).containsEntry("quota_bytes", null).containsEntry("previous_quota_bytes", 512L * 1024)
                .containsEntry("mounted", false);
    }

    /** Writes 64 KiB at a time until a write fails; that must be ENOSPC. Returns what was accepted. */
    static long fillUntilFull(Path file) {
        byte[] chunk = new byte[64 * 1024];
        int fd = Posix.open(file, Posix.O_CREAT | Posix.O_WRONLY, 0644);
        long accepted = 0;
        try {
            while (true) {
                long at = accepted;
                int refusal = errnoOf(() -> Posix.pwrite(fd, chunk, at));
                if (refusal != 0) {
                    assertThat(refusal).isEqualTo(ENOSPC);
                    break;
                }
                accepted += chunk.length;
                assertThat(accepted).as("no end in sight").isLessThanOrEqualTo(16 << 20);
            }
            Posix.fsync(fd);
        } finally {
            Posix.close(fd);
        }
        return accepted;
    }

    @Test
    void dropRefusesAMountedNamespaceThenDropsItWithItsCatalogRow() throws Exception {
        String name = TestPostgres.freshNamespace();
        try (CliProcess mount = mount(name)) {
            Files.write(dirOf(mount).resolve("data"), new byte[100_000]);
            CliProcess busy = ns("drop", "--yes", name);
            assertThat(busy.exitCode()).isEqualTo(ExitCode.BUSY.code());
            assertThat(busy.stderr().lines()).hasSize(1);
            assertThat(busy.stderr()).contains("is mounted", "sqlitesuperfs:" + name + ":lock")
                    .doesNotContain("\tat ");
            assertThat(TestPostgres.tables(name)).contains("blocks");
            unmount(mount);
        }
        Map<String, Object> dropped = StrictJson.object(nsOk("drop", "--yes", "--json", name).stdout());
        assertThat(dropped).containsEntry("dropped", name);
        assertThat((Long) dropped.get("freed_bytes")).isGreaterThan(100_000L);
        assertThat(TestPostgres.<Boolean>query("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = ?)", name))
                .isFalse();
        assertThat(TestPostgres.<Long>query("SELECT count(*) FROM sqlitesuperfs.namespaces WHERE name = ?", name))
                .isZero();
        CliProcess gone = ns("info", name);
        assertThat(gone.exitCode()).isEqualTo(ExitCode.NAMESPACE.code());
        assertThat(gone.stderr()).isEqualTo("sqlitesuperfs: namespace " + name + " does not exist\n");
    }

    /**
     * A follower (a read-only mount) holds no namespace lock but keeps the tables it read locked
     * for as long as it is mounted. Before, a drop waited behind it (minutes, then "lost
     * PostgreSQL") and the follower's next snapshot queued behind the drop; now the drop is
     * refused within seconds, naming the follower, which goes on serving.
     */
    @Test
    void dropRefusesANamespaceThatAFollowerReadsAndTheFollowerGoesOnServing() throws Exception {
        String name = TestPostgres.freshNamespace();
        try (CliProcess writer = mount(name)) {
            Files.writeString(dirOf(writer).resolve("data"), "kept");
            unmount(writer);
        }
        try (CliProcess follower = mount(name, "--read-only")) {
            Path file = dirOf(follower).resolve("data");
            assertThat(Files.readString(file)).isEqualTo("kept");

            CliProcess busy = ns("drop", "--yes", name);
            assertThat(busy.exitCode()).as(busy.stderr()).isEqualTo(ExitCode.BUSY.code());
            assertThat(busy.stderr().lines()).hasSize(1);
            assertThat(busy.stderr()).contains("is read by backend pid", "sqlitesuperfs:" + name + ":follow",
                    "read-only mount", "unmount it first, then drop it").doesNotContain("\tat ");
            assertThat(TestPostgres.tables(name)).contains("blocks", "meta");
            assertThat(nsOk("info", name).stdout()).containsPattern(
                    "read by: +backend pid \\d+, sqlitesuperfs:" + name + ":follow from ");
            @SuppressWarnings("unchecked")
            List<Map<String, Object>> readers = (List<Map<String, Object>>) StrictJson.object(
                    nsOk("info", "--json", name).stdout()).get("read_by");
            assertThat(readers).singleElement().satisfies(r -> assertThat(r)
                    .containsEntry("application_name", "sqlitesuperfs:" + name + ":follow"));
            assertThat(listed(StrictJson.object(nsOk("list", "--json").stdout()), name)).containsEntry("followers", 1L)
                    .containsEntry("mounted", null);
            assertThat(nsOk("list").stdout().lines().filter(l -> l.startsWith(name + " ")).findFirst().orElseThrow())
                    .endsWith("-; 1 follower(s)");

            Shell.run("sh", "-c", "echo 3 > /proc/sys/vm/drop_caches");
            assertThat(Files.readString(file)).as("the follower, after the refusal").isEqualTo("kept");
            unmount(follower);
        }
        assertThat(nsOk("info", name).stdout()).contains("read by:        nobody (no follower)");
        assertThat(listed(StrictJson.object(nsOk("list", "--json").stdout()), name)).containsEntry("followers", 0L);
        nsOk("drop", "--yes", name);
        assertThat(TestPostgres.tables(name)).isEmpty();
    }

    @Test
    void dropAsksForTheNameOnATerminalAndRefusesWithoutOne() throws Exception {
        String name = TestPostgres.freshNamespace();
        nsOk("create", "--kdf", "interactive", name);

        CliProcess noTerminal = ns("drop", name);
        assertThat(noTerminal.exitCode()).isEqualTo(ExitCode.USAGE.code());
        assertThat(noTerminal.stderr().lines()).hasSize(1);
        assertThat(noTerminal.stderr()).contains("no terminal", "--yes");

        Map<String, String> db = Map.of("psql_url", TestPostgres.url());
        try (CliProcess p = CliProcess.startOnTerminal(db, "ns", "drop", name)) {
            p.awaitOutput("Type its name to confirm", READY);
            p.type("something_else\n");
            assertThat(p.waitFor(READY)).isEqualTo(ExitCode.USAGE.code());
            assertThat(p.stdout()).contains("was not dropped");
        }
        assertThat(TestPostgres.tables(name)).contains("meta");

        try (CliProcess p = CliProcess.startOnTerminal(db, "ns", "drop", name)) {
            p.awaitOutput("Type its name to confirm", READY);
            p.type(name + "\n");
            assertThat(p.waitFor(READY)).isZero();
            assertThat(p.stdout()).contains("dropped namespace " + name);
        }
        assertThat(TestPostgres.tables(name)).isEmpty();
    }

    @Test
    void badInputGetsOneLineAndItsExitCode() {
        String missing = TestPostgres.freshNamespace();
        String existing = TestPostgres.freshNamespace();
        nsOk("create", "--kdf", "interactive", existing);
        record Case(int code, String[] args, String says) {}
        List<Case> cases = List.of(
                new Case(2, new String[] {}, "needs a subcommand"),
                new Case(2, new String[] {"frobnicate"}, "unknown ns subcommand 'frobnicate'"),
                new Case(2, new String[] {"info"}, "missing NAMESPACE"),
                new Case(2, new String[] {"drop", "--yes"}, "missing NAMESPACE"),
                new Case(2, new String[] {"list", "extra"}, "unexpected 'extra'"),
                new Case(2, new String[] {"info", "--yes", existing}, "unknown option '--yes'"),
                new Case(2, new String[] {"quota", existing}, "missing SIZE"),
                new Case(2, new String[] {"quota", existing, "lots"}, "not a size"),
                new Case(2, new String[] {"quota", existing, "-5M"}, "cannot be negative"),
                new Case(2, new String[] {"quota", existing, "100"}, "less than one block"),
                new Case(2, new String[] {"create", "--quota", "2X", missing}, "not a size"),
                new Case(2, new String[] {"info", "Not-A-Name"}, "invalid namespace name"),
                new Case(2, new String[] {"create", "sqlitesuperfs"}, "catalog"),
                new Case(2, new String[] {"usage", "pg_catalog"}, "reserved by PostgreSQL"),
                new Case(7, new String[] {"info", missing}, "namespace " + missing + " does not exist"),
                new Case(7, new String[] {"usage", missing}, "does not exist"),
                new Case(7, new String[] {"quota", missing, "1G"}, "does not exist"),
                new Case(7, new String[] {"drop", "--yes", missing}, "does not exist"),
                new Case(7, new String[] {"create", "--kdf", "interactive", existing}, "already exists"),
                new Case(7, new String[] {"info", "public"}, "not a sqlitesuperfs namespace"));
        for (Case c : cases) {
            CliProcess p = ns(c.args());
            String what = "ns " + String.join(" ", c.args());
            assertThat(p.exitCode()).as(what + "\nstderr: " + p.stderr()).isEqualTo(c.code());
            assertThat(p.stderr().lines()).as(what).hasSize(1);
            assertThat(p.stderr()).as(what).startsWith("sqlitesuperfs: ").contains(c.says())
                    .doesNotContain("Exception", "\tat ");
            assertThat(p.stdout()).as(what).isEmpty();
        }
        assertThat(TestPostgres.tables(missing)).as("nothing made by a refused command").isEmpty();
    }
}
