package dev.sqlitesuperfs.model;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.testing.Posix;
import dev.sqlitesuperfs.testing.TestMount;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** What the model-based test found, each shrunk to the few calls that show it. */
class ModelFindingsTest {

    @Test
    void readOnlyOpenWithTruncationTruncatesForGood() {
        try (TestMount mount = TestMount.fresh()) {
            Path f = mount.path("f");
            int fd = Posix.open(f, Posix.O_WRONLY | Posix.O_CREAT, 0644);
            Posix.pwrite(fd, new byte[5000], 10_000);
            Posix.close(fd);
            // Linux truncates on O_TRUNC whatever the access mode, and with atomic_o_trunc the kernel
            // leaves the truncation to the filesystem's open.
            Posix.close(Posix.open(f, Posix.O_RDONLY | Posix.O_TRUNC, 0));
            assertThat(Posix.lstat(f).size()).isZero();
            mount.remount();
            assertThat(Posix.lstat(f).size()).isZero();
        }
    }
}
