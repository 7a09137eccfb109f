package dev.sqlitesuperfs.it;

import static dev.sqlitesuperfs.testing.Posix.errnoOf;
import static dev.sqlitesuperfs.fuse.Errno.*;
import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.sealed.SealedStore;
import dev.sqlitesuperfs.testing.LogCapture;
import dev.sqlitesuperfs.testing.Posix;
import dev.sqlitesuperfs.testing.TestMount;
import dev.sqlitesuperfs.testing.TestPostgres;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

/**
 * What PostgreSQL holds is ciphertext: a marker written through the mount appears in no row, and
 * stored payloads changed or moved behind the mount's back are refused, never served.
 */
class StorageSecrecyTest {
    static final String MARKER = "MARKER-7f3a9c-the-plaintext-must-never-reach-postgres";

    /** Rows of every table of the namespace whose text form contains the marker, as text or as hex. */
    static long rowsMentioningMarker(String namespace) {
        String hex = HexFormat.of().formatHex(MARKER.getBytes(StandardCharsets.US_ASCII));
        long total = 0;
        for (String table : TestPostgres.tables(namespace)) {
            total += TestPostgres.queryLong("SELECT count(*) FROM \"" + namespace + "\".\"" + table + "\" t"
                    + " WHERE strpos(t::text, ?) > 0 OR strpos(lower(t::text), ?) > 0", MARKER, hex);
        }
        return total;
    }

    @Test
    void contentSymlinkTargetsAndXattrValuesAreNeverStoredInClear() throws IOException {
        try (TestMount mount = TestMount.fresh()) {
            Files.writeString(mount.path("plain.txt"), (MARKER + "\n").repeat(1000));
            Files.writeString(mount.path("short.txt"), MARKER);
            Files.createSymbolicLink(mount.path("link"), Path.of(MARKER));
            Posix.setxattr(mount.path("short.txt"), "user.secret", MARKER.getBytes(), 0);
            mount.unmount();
            assertThat(TestPostgres.queryLong("SELECT count(*) FROM \"" + mount.namespace() + "\".blocks")).isPositive();
            assertThat(rowsMentioningMarker(mount.namespace())).isZero();
            mount.mountAgain();
            assertThat(Files.readString(mount.path("short.txt"))).isEqualTo(MARKER);
        }
    }

    @Test
    void aChangedBlockIsRefusedWithEioAndTheMountGoesOn() throws IOException {
        try (TestMount mount = TestMount.fresh()) {
            Files.write(mount.path("victim"), new byte[3 * 4096]);
            Files.writeString(mount.path("bystander"), "fine");
            long ino = Posix.lstat(mount.path("victim")).ino();
            mount.unmount();
            // flip one bit in the ciphertext of block 1
            TestPostgres.update("UPDATE \"" + mount.namespace() + "\".blocks SET data = set_byte(data, 30, get_byte(data, 30) # 1)"
                    + " WHERE ino = ? AND idx = 1", ino);
            mount.mountAgain();
            try (LogCapture log = LogCapture.of(SealedStore.class)) {
                int fd = Posix.open(mount.path("victim"), Posix.O_RDONLY, 0);
                try {
                    assertThat(Posix.pread(fd, 4096, 0)).hasSize(4096);
                    assertThat(errnoOf(() -> Posix.pread(fd, 4096, 4096))).isEqualTo(EIO);
                } finally {
                    Posix.close(fd);
                }
                assertThat(log.lines()).anySatisfy(line -> assertThat(line).contains("namespace " + mount.namespace(),
                        "inode " + ino + " block 1", "failed authentication"));
            }
            assertThat(Files.readString(mount.path("bystander"))).isEqualTo("fine");
        }
    }

    @Test
    void aBlockMovedToAnotherPositionOrFileIsRefused() throws IOException {
        try (TestMount mount = TestMount.fresh()) {
            Files.write(mount.path("a"), new byte[2 * 4096]);
            Files.write(mount.path("b"), new byte[2 * 4096]);
            long a = Posix.lstat(mount.path("a")).ino();
            long b = Posix.lstat(mount.path("b")).ino();
            mount.unmount();
            String blocks = "\"" + mount.namespace() + "\".blocks";
            byte[] a1 = TestPostgres.queryBytes("SELECT data FROM " + blocks + " WHERE ino = ? AND idx = 1", a);
            byte[] b0 = TestPostgres.queryBytes("SELECT data FROM " + blocks + " WHERE ino = ? AND idx = 0", b);
            // a's block 0 copied over a's block 1; b's block 0 replaced by a's block 0
            TestPostgres.update("UPDATE " + blocks + " SET data = (SELECT data FROM " + blocks + " WHERE ino = ? AND idx = 0)"
                    + " WHERE ino = ? AND idx = 1", a, a);
            TestPostgres.update("UPDATE " + blocks + " SET data = (SELECT data FROM " + blocks + " WHERE ino = ? AND idx = 0)"
                    + " WHERE ino = ? AND idx = 0", a, b);
            mount.mountAgain();
            int fa = Posix.open(mount.path("a"), Posix.O_RDONLY, 0);
            int fb = Posix.open(mount.path("b"), Posix.O_RDONLY, 0);
            try {
                // the files' blocks no longer add up to their digests: both files are refused whole
                assertThat(errnoOf(() -> Posix.pread(fa, 4096, 4096))).isEqualTo(EIO);
                assertThat(errnoOf(() -> Posix.pread(fb, 4096, 0))).isEqualTo(EIO);
                assertThat(errnoOf(() -> Posix.pread(fa, 4096, 0))).isEqualTo(EIO);
            } finally {
                Posix.close(fa);
                Posix.close(fb);
            }
            // the originals, put back, open again: nothing was damaged for good
            mount.unmount();
            TestPostgres.update("UPDATE " + blocks + " SET data = ? WHERE ino = ? AND idx = 1", a1, a);
            TestPostgres.update("UPDATE " + blocks + " SET data = ? WHERE ino = ? AND idx = 0", b0, b);
            mount.mountAgain();
            assertThat(Files.readAllBytes(mount.path("a"))).hasSize(2 * 4096).containsOnly(0);
            assertThat(Files.readAllBytes(mount.path("b"))).hasSize(2 * 4096).containsOnly(0);
        }
    }
}
