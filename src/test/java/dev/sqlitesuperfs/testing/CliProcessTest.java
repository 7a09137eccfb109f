package dev.sqlitesuperfs.testing;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A command that does not end in time fails the test with every thread's stack in the message,
 * so that a hang seen once in CI says where it was (a host's first mount hung once, and nothing
 * showed where).
 */
class CliProcessTest {
    @Test
    void aProcessThatOutlivesItsWaitIsFailedWithItsThreadsStacks() throws Exception {
        Path dir = Files.createTempDirectory("sqlitesuperfs-cliprocess-");
        Path socket = dir.resolve("host.sock");
        try (CliProcess host = CliProcess.start(Map.of("psql_url", TestPostgres.url()), "serve", "--socket",
                socket.toString())) {
            host.awaitOutput("serving on " + socket, Duration.ofSeconds(120));
            assertThatThrownBy(() -> host.waitFor(Duration.ofSeconds(1)))
                    .isInstanceOf(AssertionError.class)
                    .hasMessageContaining("process did not exit within")
                    .hasMessageContaining("Full thread dump")
                    .hasMessageContaining("\"main\"");
        } finally {
            Shell.run("rm", "-rf", dir.toString());
        }
    }
}
