package dev.sqlitesuperfs.it;

import static dev.sqlitesuperfs.testing.Posix.errnoOf;
import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.testing.Posix;
import dev.sqlitesuperfs.testing.TestMount;
import dev.sqlitesuperfs.testing.TestPostgres;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** A file unlinked while open lives until its last close, then its storage goes. */
class UnlinkedOpenFileTest {
    @RegisterExtension
    static final TestMount mount = TestMount.perClass();

    long rows(String table, long ino) {
        return TestPostgres.queryLong("SELECT count(*) FROM \"" + mount.namespace() + "\"." + table + " WHERE ino = ?", ino);
    }

    @Test
    void staysReadableAndWritableUntilTheLastClose() throws IOException {
        Path f = mount.path("doomed");
        Files.write(f, new byte[20_000]);
        int fd = Posix.open(f, Posix.O_RDWR, 0);
        long ino = Posix.fstat(fd).ino();
        try {
            Files.delete(f);
            assertThat(errnoOf(() -> Posix.open(f, Posix.O_RDONLY, 0))).isEqualTo(2);
            Posix.pwrite(fd, "still here".getBytes(), 100_000);
            Posix.fsync(fd);
            assertThat(new String(Posix.pread(fd, 10, 100_000))).isEqualTo("still here");
            assertThat(Posix.fstat(fd).nlink()).isZero();
            assertThat(rows("inodes", ino)).isEqualTo(1);
            assertThat(rows("blocks", ino)).isGreaterThan(0);
        } finally {
            Posix.close(fd);
        }
        // RELEASE arrives after close(2) returns: wait for the reclaim, with a deadline meant for a
        // busy machine, polling gently (each look is a new connection to PostgreSQL)
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
        while (rows("inodes", ino) != 0 && System.nanoTime() < deadline) {
            sleepBriefly();
        }
        assertThat(rows("inodes", ino)).isZero();
        assertThat(rows("blocks", ino)).isZero();
        assertThat(errnoOf(() -> Posix.open(f, Posix.O_RDONLY, 0))).isEqualTo(2);
    }

    private static void sleepBriefly() {
        try {
            Thread.sleep(20);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted");
        }
    }

    @Test
    void unlinkOfAClosedFileRemovesItsStorageAtOnce() throws IOException {
        Path f = mount.path("plain-delete");
        Files.write(f, new byte[10_000]);
        long ino = Posix.lstat(f).ino();
        Posix.setxattr(f, "user.x", "y".getBytes(), 0);
        Files.delete(f);
        assertThat(rows("inodes", ino)).isZero();
        assertThat(rows("blocks", ino)).isZero();
        assertThat(rows("xattrs", ino)).isZero();
    }
}
