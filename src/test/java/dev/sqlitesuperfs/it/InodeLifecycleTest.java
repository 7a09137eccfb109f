package dev.sqlitesuperfs.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.testing.Posix;
import dev.sqlitesuperfs.testing.Shell;
import dev.sqlitesuperfs.testing.TestMount;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * Lookup counts are exact: once the kernel forgets the inodes (here: told to drop its caches),
 * the mount lets them go too, however they were made known (create, mkdir, mknod, symlink, link,
 * lookup, readdirplus).
 */
class InodeLifecycleTest {

    @Test
    void inodesTheKernelForgetsLeaveMemory() throws Exception {
        try (TestMount mount = TestMount.fresh()) {
            Path dir = Files.createDirectory(mount.path("many"));
            for (int i = 0; i < 100; i++) {
                Files.writeString(dir.resolve("file-" + i), "x");
                Files.createDirectory(dir.resolve("dir-" + i));
                Files.createSymbolicLink(dir.resolve("link-" + i), Path.of("file-" + i));
                Posix.mknod(dir.resolve("fifo-" + i), 0010644, 0);
                Posix.link(dir.resolve("file-" + i), dir.resolve("hard-" + i));
            }
            Shell.run("ls", "-lR", dir.toString()); // lookups and readdirplus entries
            assertThat(mount.fs().inodesInMemory()).isGreaterThan(400);
            // the kernel forgets in its own time: a deadline meant for a busy machine
            long deadline = System.currentTimeMillis() + 120_000;
            while (mount.fs().inodesInMemory() > 5 && System.currentTimeMillis() < deadline) {
                Shell.run("sh", "-c", "sync; echo 2 > /proc/sys/vm/drop_caches");
                Thread.sleep(200);
            }
            // what may stay: the root, and entries the kernel pins for the mount itself
            assertThat(mount.fs().inodesInMemory()).isLessThanOrEqualTo(5);
            assertThat(Files.readString(dir.resolve("hard-42"))).isEqualTo("x");
        }
    }
}
