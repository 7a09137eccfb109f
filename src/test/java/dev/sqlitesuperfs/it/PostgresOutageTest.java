package dev.sqlitesuperfs.it;

import static dev.sqlitesuperfs.testing.Posix.errnoOf;
import static dev.sqlitesuperfs.fuse.Errno.*;
import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.localpg.StopMode;
import dev.sqlitesuperfs.testing.Posix;
import dev.sqlitesuperfs.testing.TestMount;
import dev.sqlitesuperfs.testing.TestPostgres;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The mount outlives PostgreSQL going away: calls wait, then work again without a remount. */
class PostgresOutageTest {

    @Test
    void aPostgresCrashAndRestartUnderTheMountLosesNothing() throws Exception {
        try (TestMount mount = TestMount.fresh()) {
            Files.writeString(mount.path("before"), "committed before the crash");
            TestPostgres.server().stopServer(StopMode.IMMEDIATE);
            // a change while PostgreSQL is down waits for it (within --db-timeout) ...
            CompletableFuture<Void> during = CompletableFuture.runAsync(() -> {
                try {
                    Files.writeString(mount.path("during"), "written while the server was down");
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            });
            Thread.sleep(2000);
            assertThat(during).isNotDone();
            TestPostgres.server().startServer();
            during.get(60, TimeUnit.SECONDS);
            // ... and the mount goes on without being remounted
            Files.writeString(mount.path("after"), "written after the restart");
            mount.remount();
            assertThat(Files.readString(mount.path("before"))).isEqualTo("committed before the crash");
            assertThat(Files.readString(mount.path("during"))).isEqualTo("written while the server was down");
            assertThat(Files.readString(mount.path("after"))).isEqualTo("written after the restart");
        }
    }

    @Test
    void pastTheTimeoutCallsFailWithEioAndTheMountRecovers() throws Exception {
        try (TestMount mount = TestMount.fresh("--db-timeout", "2")) {
            Path f = mount.path("file");
            Files.writeString(f, "v1");
            TestPostgres.server().stopServer(StopMode.IMMEDIATE);
            try {
                assertThat(errnoOf(() -> Posix.mknod(mount.path("refused"), 0100644, 0))).isEqualTo(EIO);
            } finally {
                TestPostgres.server().startServer();
            }
            Files.writeString(f, "v2");
            assertThat(Files.exists(mount.path("refused"))).isFalse();
            mount.remount();
            assertThat(Files.readString(f)).isEqualTo("v2");
        }
    }
}
