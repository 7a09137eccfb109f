package dev.sqlitesuperfs.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sqlitesuperfs.cli.ExitCode;
import dev.sqlitesuperfs.sealed.SealedNamespace;
import dev.sqlitesuperfs.store.PgNamespaceStore;
import dev.sqlitesuperfs.sealed.TamperedException;
import dev.sqlitesuperfs.testing.CliProcess;
import dev.sqlitesuperfs.testing.LogCapture;
import dev.sqlitesuperfs.testing.Posix;
import dev.sqlitesuperfs.testing.TestMount;
import dev.sqlitesuperfs.testing.TestPostgres;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Namespaces of format 3 (entry MACs that were also the terms of their directory's digest, see
 * {@code Sealer}) are brought to format 4 by the first writable mount, which checks every
 * directory it reseals under format 3's rules first: one that does not check out is refused and
 * left as it was. A read-only mount does not upgrade.
 */
class FormatUpgradeTest {

    @Test
    void aFormatThreeNamespaceIsCheckedAndUpgradedByItsFirstWritableMount() throws IOException {
        try (TestMount mount = TestMount.fresh()) {
            writeTree(mount);
            mount.unmount();
            mount.downgradeToFormatThree();
            assertThat(formatOf(mount)).isEqualTo(3);
            String dirents = "\"" + mount.namespace() + "\".dirents";
            byte[] oldMac = TestPostgres.queryBytes("SELECT mac FROM " + dirents + " WHERE name = 'a'::bytea");

            assertThatThrownBy(() -> mount.sameNamespaceElsewhere("--read-only").close())
                    .hasMessageContaining("has format 3, which a read-only mount cannot upgrade");

            try (LogCapture log = LogCapture.of(SealedNamespace.class)) {
                mount.mountAgain();
                assertThat(log.lines()).anySatisfy(l -> assertThat(l).contains("checked and upgraded from format 3 to " + PgNamespaceStore.FORMAT_VERSION));
            }
            assertThat(formatOf(mount)).isEqualTo(PgNamespaceStore.FORMAT_VERSION);
            checkTree(mount);
            mount.unmount();
            assertThat(TestPostgres.queryBytes("SELECT mac FROM " + dirents + " WHERE name = 'a'::bytea"))
                    .as("the entry's MAC is no longer its digest term").isNotEqualTo(oldMac);
            assertThat(mount.verify()).isEmpty();
            mount.mountAgain();
            checkTree(mount);
        }
    }

    @Test
    void aFormatThreeNamespaceThatDoesNotCheckOutIsNotUpgraded() throws IOException {
        try (TestMount mount = TestMount.fresh()) {
            writeTree(mount);
            long dir = Posix.lstat(mount.path("dir")).ino();
            mount.unmount();
            mount.downgradeToFormatThree();
            String dirents = "\"" + mount.namespace() + "\".dirents";
            // an entry of dir copied under another name, its MAC kept: not authentic
            TestPostgres.update("INSERT INTO " + dirents + " (parent, name, ino, mac) SELECT parent, 'copy'::bytea,"
                    + " ino, mac FROM " + dirents + " WHERE parent = ? AND name = 'b'::bytea", dir);
            assertThatThrownBy(mount::mountAgain).isInstanceOf(TamperedException.class)
                    .hasMessageContaining("cannot be upgraded to the current format")
                    .hasMessageContaining("directory " + dir + ": the entry 'copy' is not authentic");
            assertThat(formatOf(mount)).as("nothing changed").isEqualTo(3);
            TestPostgres.update("DELETE FROM " + dirents + " WHERE name = 'copy'::bytea");
            mount.mountAgain();
            assertThat(formatOf(mount)).isEqualTo(PgNamespaceStore.FORMAT_VERSION);
            checkTree(mount);
        }
    }

    /** {@code sqlitesuperfs upgrade} brings a format 1 namespace to the current format in one step, saying each step. */
    @Test
    void theUpgradeCommandShowsItsProgressAndReachesTheCurrentFormatInOneStep() throws IOException {
        try (TestMount mount = TestMount.fresh()) {
            writeTree(mount);
            mount.unmount();
            mount.downgradeToFormatOne();
            CliProcess upgrade = CliProcess.run(Map.of("psql_url", TestPostgres.url(), "encryption_pass",
                    TestMount.PASSPHRASE), Duration.ofSeconds(120), "upgrade", mount.namespace());
            assertThat(upgrade.exitCode()).as(upgrade.stderr()).isZero();
            assertThat(upgrade.stdout()).containsPattern("\\d s  opened the key")
                    .containsPattern("\\d s  read 7 inodes")
                    .containsPattern("\\d s  read \\d+ block tags")
                    .containsPattern("\\d s  sealed 7 inode authenticators")
                    .containsPattern("\\d s  stored 7 inode authenticators")
                    .contains("upgraded namespace " + mount.namespace());
            assertThat(formatOf(mount)).isEqualTo(PgNamespaceStore.FORMAT_VERSION);
            assertThat(mount.verify()).isEmpty();
            mount.mountAgain();
            checkTree(mount);
        }
    }

    /**
     * A follower of an older program (a rolling upgrade: the writer's machine upgraded first)
     * keeps a snapshot of the namespace open, and with it a lock on each table it read. The
     * upgrade, which alters tables, is refused within seconds naming it, not left waiting behind
     * it with the follower's next snapshot queued behind the upgrade.
     */
    @Test
    void anUpgradeIsRefusedWhileAnotherSessionKeepsTheTablesAndDoneOnceItIsGone() throws Exception {
        try (TestMount mount = TestMount.fresh()) {
            writeTree(mount);
            mount.unmount();
            mount.downgradeToFormatOne();
            Map<String, String> env = Map.of("psql_url", TestPostgres.url(), "encryption_pass", TestMount.PASSPHRASE);
            try (Connection follower = TestPostgres.connect()) {
                follower.setAutoCommit(false);
                follower.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
                try (Statement read = follower.createStatement()) {
                    read.executeQuery("SELECT count(*) FROM \"" + mount.namespace() + "\".inodes").close();
                }
                CliProcess busy = CliProcess.run(env, Duration.ofSeconds(60), "upgrade", mount.namespace());
                assertThat(busy.exitCode()).as(busy.stderr()).isEqualTo(ExitCode.BUSY.code());
                assertThat(busy.stderr()).doesNotContain("\tat ");
                assertThat(busy.stderr().strip().lines().toList().getLast()).contains("is read by backend pid",
                        "sqlitesuperfs-test", "unmount it first, then try again");
                assertThat(formatOf(mount)).as("not upgraded past the step that alters its tables")
                        .isLessThan(PgNamespaceStore.FORMAT_VERSION);
                follower.rollback();
            }
            CliProcess upgrade = CliProcess.run(env, Duration.ofSeconds(120), "upgrade", mount.namespace());
            assertThat(upgrade.exitCode()).as(upgrade.stderr()).isZero();
            assertThat(formatOf(mount)).isEqualTo(PgNamespaceStore.FORMAT_VERSION);
        }
    }

    private static void writeTree(TestMount mount) throws IOException {
        Files.writeString(mount.path("a"), "file a");
        Files.createDirectories(mount.path("dir/sub"));
        Files.writeString(mount.path("dir/b"), "file b");
        Files.writeString(mount.path("dir/sub/c"), "file c");
        Files.createSymbolicLink(mount.path("link"), Path.of("dir/b"));
        Posix.setxattr(mount.path("dir"), "user.tag", "v".getBytes(StandardCharsets.UTF_8), 0);
    }

    private static void checkTree(TestMount mount) throws IOException {
        assertThat(Files.readString(mount.path("a"))).isEqualTo("file a");
        assertThat(Files.readString(mount.path("dir/b"))).isEqualTo("file b");
        assertThat(Files.readString(mount.path("dir/sub/c"))).isEqualTo("file c");
        assertThat(Files.readString(mount.path("link"))).isEqualTo("file b");
        assertThat(new String(Posix.getxattr(mount.path("dir"), "user.tag"), StandardCharsets.UTF_8)).isEqualTo("v");
        try (var list = Files.list(mount.path("dir"))) {
            assertThat(list.map(p -> p.getFileName().toString()).toList()).containsExactlyInAnyOrder("b", "sub");
        }
    }

    private static long formatOf(TestMount mount) {
        return TestPostgres.queryLong("SELECT format_version FROM \"" + mount.namespace() + "\".meta");
    }
}
