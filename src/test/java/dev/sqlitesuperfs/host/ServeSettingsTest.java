package dev.sqlitesuperfs.host;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.sqlitesuperfs.cli.CliException;
import dev.sqlitesuperfs.cli.ExitCode;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What `serve` accepts, and the one-line usage error (exit 2) for everything it does not. */
class ServeSettingsTest {

    @Test
    void theHostsOptionsParseInBothSpellings() {
        Serve.Settings s = Serve.Settings.parse(List.of("--workers", "8", "--db-connections=20", "--metrics",
                "127.0.0.1:9464", "--cache-size", "1G", "--bulk-pause=0"), Map.of());
        assertThat(s.limits().workers()).isEqualTo(8);
        assertThat(s.limits().dbConnections()).isEqualTo(20);
        assertThat(s.limits().cacheBytes()).isEqualTo(1L << 30);
        assertThat(s.metrics().getPort()).isEqualTo(9464);
        assertThat(s.limits().bulkPause()).isZero();
        assertThat(Serve.Settings.parse(List.of(), Map.of()).limits()).isEqualTo(HostResources.Limits.DEFAULT);
    }

    @Test
    void badInputIsOneLineAndTheUsageExitCode() {
        for (List<String> bad : List.of(List.of("--workers", "1"), List.of("--workers", "many"),
                List.of("--db-connections", "2"), List.of("--metrics", "9464"), List.of("--metrics", "host:99999"),
                List.of("--cache-size", "lots"), List.of("--db-timeout", "0"), List.of("--frobnicate"),
                List.of("--bulk-pause", "-1"), List.of("--bulk-pause", "1001"), List.of("--bulk-pause", "5ms"),
                List.of("stray"), List.of("--socket"))) {
            CliException e = catchThrowableOfType(CliException.class, () -> Serve.Settings.parse(bad, Map.of()));
            assertThat(e).as("serve %s", bad).isNotNull();
            assertThat(e.exitCode()).as("serve %s", bad).isEqualTo(ExitCode.USAGE);
            assertThat(e.getMessage()).as("serve %s", bad).isNotBlank().doesNotContain("\n");
        }
    }
}
