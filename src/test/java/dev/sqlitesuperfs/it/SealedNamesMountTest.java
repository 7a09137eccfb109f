package dev.sqlitesuperfs.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.sqlitesuperfs.cli.ExitCode;
import dev.sqlitesuperfs.crypto.Sealer;
import dev.sqlitesuperfs.testing.Posix;
import dev.sqlitesuperfs.testing.StrictJson;
import dev.sqlitesuperfs.testing.TestMount;
import dev.sqlitesuperfs.testing.TestPostgres;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import org.junit.jupiter.api.Test;

/**
 * A namespace created with {@code --seal-names}, on a real mount and PostgreSQL: names and symlink
 * targets never reach the database, a SQLite database works from it, and the choice can be neither
 * turned off behind the key holder's back nor asked of a namespace that exists.
 */
class SealedNamesMountTest {
    static final String MARKER = StorageSecrecyTest.MARKER;

    @Test
    void namesAndSymlinkTargetsNeverReachPostgresAndEverythingWorksAcrossAMount() throws Exception {
        try (TestMount mount = TestMount.fresh("--seal-names")) {
            Path dir = Files.createDirectory(mount.path(MARKER + "-dir"));
            Files.writeString(dir.resolve(MARKER + "-file"), "content");
            Files.createSymbolicLink(mount.path("link"), Path.of(MARKER + "/" + MARKER));
            Posix.setxattr(mount.path(MARKER + "-dir"), "user." + MARKER, new byte[] {1}, 0);
            Path db = dir.resolve("app-" + MARKER + ".db");
            try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db); Statement s = c.createStatement()) {
                s.execute("PRAGMA journal_mode=WAL");
                s.execute("CREATE TABLE t(v TEXT)");
                s.execute("INSERT INTO t VALUES ('kept')");
            }
            Files.move(dir.resolve(MARKER + "-file"), mount.path(MARKER + "-renamed"));
            mount.unmount();

            String ns = "\"" + mount.namespace() + "\"";
            assertThat(StorageSecrecyTest.rowsMentioningMarker(mount.namespace())).isZero();
            assertThat(TestPostgres.<Boolean>query("SELECT seal_names FROM " + ns + ".meta")).isTrue();
            assertThat(TestPostgres.queryLong("SELECT count(*) FROM " + ns + ".dirents WHERE (octet_length(name) - ?) % ? <> 0",
                    Sealer.OVERHEAD, Sealer.NAME_BUCKET)).as("names padded to their bucket").isZero();
            long linkIno = TestPostgres.queryLong("SELECT ino FROM " + ns + ".inodes WHERE mode & 61440 = 40960");
            long target = (MARKER + "/" + MARKER).length();
            assertThat(TestPostgres.queryLong("SELECT size FROM " + ns + ".inodes WHERE ino = ?", linkIno))
                    .isEqualTo(Sealer.paddedLength((int) target));

            mount.mountAgain();
            assertThat(Posix.lstat(mount.path("link")).size()).isEqualTo(target);
            assertThat(Files.readSymbolicLink(mount.path("link"))).isEqualTo(Path.of(MARKER + "/" + MARKER));
            assertThat(Files.readString(mount.path(MARKER + "-renamed"))).isEqualTo("content");
            assertThat(Posix.getxattr(mount.path(MARKER + "-dir"), "user." + MARKER)).containsExactly(1);
            try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db); Statement s = c.createStatement();
                    ResultSet rows = s.executeQuery("SELECT v FROM t")) {
                assertThat(rows.next()).isTrue();
                assertThat(rows.getString(1)).isEqualTo("kept");
            }
            try (var listing = Files.list(mount.root())) {
                assertThat(listing.map(p -> p.getFileName().toString()).toList())
                        .containsExactlyInAnyOrder(MARKER + "-dir", MARKER + "-renamed", "link");
            }
            mount.unmount();
            assertThat(mount.verify()).isEmpty();
            assertThat(StrictJson.object(NamespaceAdminTest.nsOk("info", "--json", mount.namespace()).stdout()))
                    .containsEntry("names_sealed", true);
        }
    }

    /**
     * Turning the stored choice off (checksum recomputed, as anyone can) would make a mount write new
     * names in the clear; the choice is bound into the wrapped key's associated data, so the key no
     * longer opens and the namespace is refused as damaged.
     */
    @Test
    void theChoiceCannotBeTurnedOffInTheDatabase() {
        try (TestMount mount = TestMount.fresh("--seal-names")) {
            mount.unmount();
            KeyMaterialTamperTest.tamper(mount.namespace(), "seal_names = false; " + KeyMaterialTamperTest.RECOMPUTE_CHECKSUM);
            // without --seal-names, as a mount of an existing namespace is asked for
            RuntimeException refused = catchThrowableOfType(RuntimeException.class,
                    () -> mount.sameNamespaceElsewhere().close());
            assertThat(refused).isNotNull();
            assertThat(ExitCode.of(refused)).isEqualTo(ExitCode.DAMAGED);
            assertThat(refused.getMessage()).contains("damaged");
        }
    }

    @Test
    void sealNamesOnANamespaceThatExistsIsRefusedBeforeTheKeyIsTried() throws IOException {
        try (TestMount mount = TestMount.fresh()) {
            Files.writeString(mount.path("plain"), "x");
            mount.unmount();
            RuntimeException refused = catchThrowableOfType(RuntimeException.class,
                    () -> mount.sameNamespaceElsewhere("--seal-names").close());
            assertThat(refused).isNotNull();
            assertThat(ExitCode.of(refused)).isEqualTo(ExitCode.NAMESPACE);
            assertThat(refused.getMessage()).contains("--seal-names applies only to a namespace being created");
            assertThat(StrictJson.object(NamespaceAdminTest.nsOk("info", "--json", mount.namespace()).stdout()))
                    .containsEntry("names_sealed", false);
        }
    }
}
