package dev.sqlitesuperfs.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
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

    @Test
    void aHeapLargerThanTheMachineIsRefusedNamingTheOptionThatAsksForMore() {
        OptionalLong fourGiB = OptionalLong.of(4096);
        assertThatThrownBy(() -> MountSettings.checkHeapFits(4L << 30, "4G", 64L << 20, null, fourGiB))
                .isInstanceOfSatisfying(CliException.class, e -> {
                    assertThat(e.exitCode()).isEqualTo(ExitCode.USAGE);
                    assertThat(e.getMessage()).isEqualTo("--cache-size 4G is too large: the mount's Java heap"
                            + " (cache + 2 x write buffer + 192 MiB = 4416 MiB) must fit in this machine's memory"
                            + " (4096 MiB)");
                });
        assertThatThrownBy(() -> MountSettings.checkHeapFits(1L << 30, "1G", 2L << 30, "2G", fourGiB))
                .hasMessageStartingWith("--write-buffer 2G is too large");
        assertThatThrownBy(() -> MountSettings.checkHeapFits(256L << 20, null, Long.MAX_VALUE, " 99999999T", fourGiB))
                .hasMessageStartingWith("--write-buffer 99999999T is too large");
        // what fits, what was not asked for (the defaults on a small machine), and an unknown machine
        MountSettings.checkHeapFits(3L << 30, "3G", 64L << 20, null, fourGiB);
        MountSettings.checkHeapFits(256L << 20, null, 64L << 20, null, OptionalLong.of(512));
        MountSettings.checkHeapFits(Long.MAX_VALUE, "9999999T", 64L << 20, null, OptionalLong.empty());
        assertThat(MountSettings.heapMib(256L << 20, 64L << 20)).as("the defaults, as the launcher gives them")
                .isEqualTo(576);
        assertThat(MountSettings.heapMib(1, (1L << 20) + 1)).isEqualTo(1 + 2 * 2 + 192);
    }

    @Test
    void sizesSayWhetherTheyAreNegativeMalformedOrTooLarge() {
        assertThat(Sizes.parse("--quota", "8388607T")).isEqualTo(8388607L << 40);
        assertThat(Sizes.parse("--quota", " 64kib ")).isEqualTo(65536);
        assertThatThrownBy(() -> Sizes.parse("--quota", "-5"))
                .hasMessage("--quota: not a size: '-5' (a size cannot be negative)");
        assertThatThrownBy(() -> Sizes.parse("--quota", "1.5G"))
                .hasMessage("--quota: not a size: '1.5G' (examples: 4096, 64K, 256M, 2G)");
        assertThatThrownBy(() -> Sizes.parse("--quota", "8388608T"))
                .hasMessage("--quota: '8388608T' is too large (at most 8388607T)");
        assertThatThrownBy(() -> Sizes.parse("--quota", "99999999999999999999"))
                .hasMessage("--quota: '99999999999999999999' is too large (at most 8388607T)");
        assertThat(Sizes.parseSaturating("--cache-size", "99999999999999T")).isEqualTo(Long.MAX_VALUE);
    }

    @Test
    void theAnchorLivesInTheStateDirectoryUnlessToldOtherwise() {
        MountSettings byDefault = MountSettings.parse(List.of("--state-dir", "/srv/ssfs", "ns", "/mnt/x"), Map.of());
        assertThat(byDefault.anchorDir()).isEqualTo(java.nio.file.Path.of("/srv/ssfs/anchors"));
        assertThat(byDefault.acceptRollback()).isFalse();
        assertThat(MountSettings.parse(List.of("ns", "/mnt/x"), Map.of(MountSettings.STATE_DIR_VARIABLE, "/srv/env"))
                .anchorDir()).as("$SQLITESUPERFS_STATE_DIR").isEqualTo(java.nio.file.Path.of("/srv/env/anchors"));
        assertThat(MountSettings.parse(List.of("--state-dir", "/srv/ssfs", "ns", "/mnt/x"),
                Map.of(MountSettings.STATE_DIR_VARIABLE, "/srv/env")).anchorDir()).as("--state-dir over the variable")
                .isEqualTo(java.nio.file.Path.of("/srv/ssfs/anchors"));
        MountSettings chosen = MountSettings.parse(List.of("--anchor-dir=/var/anchors", "--accept-rollback", "ns",
                "/mnt/x"), Map.of());
        assertThat(chosen.anchorDir()).isEqualTo(java.nio.file.Path.of("/var/anchors"));
        assertThat(chosen.acceptRollback()).isTrue();
        assertThat(MountSettings.parse(List.of("--no-anchor", "ns", "/mnt/x"), Map.of()).anchorDir()).isNull();
        MountSettings command = MountSettings.parse(List.of("--anchor-command", "/usr/bin/anchor --remote x", "ns",
                "/mnt/x"), Map.of());
        assertThat(command.anchorCommand()).isEqualTo("/usr/bin/anchor --remote x");
        assertThat(command.anchorDir()).isNull();
        assertThatThrownBy(() -> MountSettings.parse(List.of("--anchor-command", "a", "--anchor-dir", "/a", "ns",
                "/mnt/x"), Map.of())).hasMessage("--anchor-dir and --anchor-command: choose one");
        assertThatThrownBy(() -> MountSettings.parse(List.of("--anchor-command", " ", "ns", "/mnt/x"), Map.of()))
                .hasMessage("--anchor-command needs a program");
        assertThat(MountSettings.parse(List.of("--anchor-interval", "250", "ns", "/mnt/x"), Map.of()).anchorInterval())
                .isEqualTo(java.time.Duration.ofMillis(250));
        assertThat(byDefault.anchorInterval()).isZero();
        for (String bad : List.of("-1", "60001", "1s")) {
            assertThatThrownBy(() -> MountSettings.parse(List.of("--anchor-interval", bad, "ns", "/mnt/x"), Map.of()))
                    .isInstanceOfSatisfying(CliException.class, e -> assertThat(e.exitCode()).isEqualTo(ExitCode.USAGE));
        }
        for (String with : List.of("--accept-rollback", "--anchor-dir=/a", "--anchor-command=a", "--anchor-interval=5")) {
            assertThatThrownBy(() -> MountSettings.parse(List.of("--no-anchor", with, "ns", "/mnt/x"), Map.of()))
                    .isInstanceOfSatisfying(CliException.class, e -> {
                        assertThat(e.exitCode()).isEqualTo(ExitCode.USAGE);
                        assertThat(e.getMessage()).startsWith("--no-anchor keeps no record");
                    });
        }
        // a host is handed the directory as this side sees it
        MountSettings viaHost = MountSettings.parse(List.of("--host", "--anchor-dir", "rel", "ns", "/mnt/x"), Map.of());
        assertThat(viaHost.hostOptions()).containsSequence("--anchor-dir",
                java.nio.file.Path.of("rel").toAbsolutePath().toString());
    }

    @Test
    void sealNamesIsForANamespaceBeingCreatedSoNotWithReadOnly() {
        assertThat(MountSettings.parse(List.of("--seal-names", "ns", "/mnt/x"), Map.of()).sealNames()).isTrue();
        assertThat(MountSettings.parse(List.of("ns", "/mnt/x"), Map.of()).sealNames()).isFalse();
        for (List<String> readOnly : List.of(List.of("--read-only"), List.of("-o", "ro"))) {
            List<String> args = new java.util.ArrayList<>(List.of("--seal-names"));
            args.addAll(readOnly);
            args.addAll(List.of("ns", "/mnt/x"));
            assertThatThrownBy(() -> MountSettings.parse(args, Map.of()))
                    .isInstanceOfSatisfying(CliException.class, e -> {
                        assertThat(e.exitCode()).isEqualTo(ExitCode.USAGE);
                        assertThat(e.getMessage()).startsWith("--seal-names chooses how a new namespace");
                    });
        }
    }
}
