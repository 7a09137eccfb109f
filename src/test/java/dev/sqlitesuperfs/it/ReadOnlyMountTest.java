package dev.sqlitesuperfs.it;

import static dev.sqlitesuperfs.testing.Posix.errnoOf;
import static dev.sqlitesuperfs.fuse.Errno.*;
import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.testing.Posix;
import dev.sqlitesuperfs.testing.TestMount;
import java.nio.file.Files;
import org.junit.jupiter.api.Test;

/** --read-only serves everything and changes nothing. */
class ReadOnlyMountTest {

    @Test
    void readsWorkAndEveryChangeIsRefused() throws Exception {
        TestMount writable = TestMount.fresh();
        Files.writeString(writable.path("kept"), "content");
        Files.createDirectory(writable.path("dir"));
        writable.unmount();
        try (TestMount ro = writable.sameNamespaceElsewhere("--read-only")) {
            assertThat(Files.readString(ro.path("kept"))).isEqualTo("content");
            assertThat(errnoOf(() -> Posix.open(ro.path("new"), Posix.O_CREAT | Posix.O_WRONLY, 0644))).isEqualTo(EROFS);
            assertThat(errnoOf(() -> Posix.open(ro.path("kept"), Posix.O_WRONLY, 0))).isEqualTo(EROFS);
            assertThat(errnoOf(() -> Posix.unlink(ro.path("kept")))).isEqualTo(EROFS);
            assertThat(errnoOf(() -> Posix.rmdir(ro.path("dir")))).isEqualTo(EROFS);
            assertThat(errnoOf(() -> Posix.setxattr(ro.path("kept"), "user.x", new byte[] {1}, 0))).isEqualTo(EROFS);
        }
        writable.close();
    }
}
