package dev.sqlitesuperfs.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Option syntax of {@code mount} (the commands themselves are run in {@code CommandLineTest}). */
class MountSettingsTest {

    @Test
    void aValueMayFollowItsOptionOrBeAttachedWithAnEqualsSign() {
        MountSettings apart = MountSettings.parse(List.of("--cache-size", "1G", "--block-size", "64K",
                "--db", "postgresql://h/d?sslmode=verify-full", "ns", "/mnt/x"), Map.of());
        MountSettings attached = MountSettings.parse(List.of("--cache-size=1G", "--block-size=64K",
                "--db=postgresql://h/d?sslmode=verify-full", "ns", "/mnt/x"), Map.of());
        assertThat(attached).isEqualTo(apart);
        assertThat(attached.cacheBytes()).isEqualTo(1L << 30);
        assertThat(attached.blockSize()).isEqualTo(65536);
        assertThat(attached.databaseUrl()).isEqualTo("postgresql://h/d?sslmode=verify-full");
    }

    @Test
    void anAttachedValueOnAFlagOrAnEmptyOneIsRefused() {
        assertThatThrownBy(() -> MountSettings.parse(List.of("--allow-other=yes", "ns", "/mnt/x"), Map.of()))
                .isInstanceOfSatisfying(CliException.class, e -> assertThat(e.getMessage())
                        .isEqualTo("--allow-other takes no value"));
        assertThatThrownBy(() -> MountSettings.parse(List.of("ns", "/mnt/x", "--read-only="), Map.of()))
                .isInstanceOfSatisfying(CliException.class, e -> assertThat(e.getMessage())
                        .isEqualTo("--read-only takes no value"));
        assertThatThrownBy(() -> MountSettings.parse(List.of("--cache-size=", "ns", "/mnt/x"), Map.of()))
                .isInstanceOf(CliException.class);
        assertThatThrownBy(() -> MountSettings.parse(List.of("--frobnicate=1", "ns", "/mnt/x"), Map.of()))
                .isInstanceOfSatisfying(CliException.class, e -> assertThat(e.getMessage())
                        .startsWith("unknown option --frobnicate"));
    }
}
