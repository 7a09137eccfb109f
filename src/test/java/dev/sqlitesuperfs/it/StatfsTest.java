package dev.sqlitesuperfs.it;

import static dev.sqlitesuperfs.testing.Posix.errnoOf;
import static dev.sqlitesuperfs.fuse.Errno.*;
import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.testing.Posix;
import dev.sqlitesuperfs.testing.TestMount;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** statfs reports what is stored and what the quota allows; writes past the quota fail. */
class StatfsTest {

    @Test
    void usedSpaceFollowsStoredData() throws IOException {
        try (TestMount mount = TestMount.fresh()) {
            Posix.StatFs before = Posix.statfs(mount.root());
            assertThat(before.bsize()).isEqualTo(4096);
            assertThat(before.namelen()).isEqualTo(255);
            Files.write(mount.path("one-mib"), new byte[1 << 20]);
            Posix.StatFs after = Posix.statfs(mount.root());
            assertThat((before.blocks() - before.bfree()) + 256).isEqualTo(after.blocks() - after.bfree());
            assertThat(after.files() - after.ffree()).isEqualTo(2); // root and the file
        }
    }

    @Test
    void quotaIsTheCapacityAndIsEnforced() throws IOException {
        try (TestMount mount = TestMount.fresh("--quota", "1M")) {
            Posix.StatFs st = Posix.statfs(mount.root());
            assertThat(st.blocks() * st.frsize()).isEqualTo(1 << 20);
            Path f = mount.path("filler");
            int fd = Posix.open(f, Posix.O_CREAT | Posix.O_WRONLY, 0644);
            long accepted;
            try {
                Posix.write(fd, new byte[900_000]);
                Posix.fsync(fd);
                // 200,000 bytes more need 49 new blocks where 36 are left: the write stops at the
                // quota (as a short write, then ENOSPC), at once, not at fsync or close
                long[] more = {0};
                int refused;
                while ((refused = errnoOf(() -> more[0] += Posix.write(fd, new byte[200_000]))) == 0) {
                    assertThat(more[0]).isLessThan(200_000);
                }
                assertThat(refused).isEqualTo(ENOSPC);
                accepted = 900_000 + more[0];
                Posix.fsync(fd);
            } finally {
                Posix.close(fd);
            }
            // 900,000 bytes are 220 blocks of 4 KiB; what was accepted past them fit in the last one
            assertThat(accepted).isLessThanOrEqualTo(220 * 4096);
            assertThat(Posix.statfs(mount.root()).bavail()).isEqualTo(256 - 220);
            assertThat(Files.size(f)).isEqualTo(accepted);
        }
    }
}
