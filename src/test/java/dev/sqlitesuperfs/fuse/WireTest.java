package dev.sqlitesuperfs.fuse;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class WireTest {
    @Test
    void splitsTimesWithFloorDivision() {
        assertThat(Wire.seconds(1_500_000_000L)).isEqualTo(1);
        assertThat(Wire.subsecondNanos(1_500_000_000L)).isEqualTo(500_000_000);
        assertThat(Wire.seconds(-1)).isEqualTo(-1);
        assertThat(Wire.subsecondNanos(-1)).isEqualTo(999_999_999);
        assertThat(Wire.seconds(-1_000_000_000L)).isEqualTo(-1);
        assertThat(Wire.subsecondNanos(-1_000_000_000L)).isZero();
    }

    @Test
    void joinsTimesAndSaturatesOutsideTheLongRange() {
        assertThat(Wire.toNanos(-2, 500_000_000)).isEqualTo(-1_500_000_000L);
        assertThat(Wire.toNanos(1_700_000_000L, 1)).isEqualTo(1_700_000_000_000_000_001L);
        assertThat(Wire.toNanos(Long.MAX_VALUE / 2, 0)).isEqualTo(Long.MAX_VALUE);
        assertThat(Wire.toNanos(-(1L << 62), 0)).isEqualTo(Long.MIN_VALUE);
        assertThat(Wire.toNanos(9_223_372_036L, 999_999_999)).isEqualTo(Long.MAX_VALUE);
    }

    @Test
    void direntTypeIsTheFileTypeBits() {
        assertThat(Wire.direntType(0100644)).isEqualTo(8);
        assertThat(Wire.direntType(040755)).isEqualTo(4);
        assertThat(Wire.direntType(0120777)).isEqualTo(10);
        assertThat(Wire.direntType(0010644)).isEqualTo(1);
    }

    @Test
    void recordsAreEightByteAligned() {
        assertThat(Wire.direntSize(1)).isEqualTo(32);
        assertThat(Wire.direntSize(8)).isEqualTo(32);
        assertThat(Wire.direntSize(9)).isEqualTo(40);
        assertThat(Wire.direntPlusSize(1)).isEqualTo(160);
        assertThat(Wire.direntPlusSize(8)).isEqualTo(160);
        assertThat(Wire.direntPlusSize(9)).isEqualTo(168);
    }
}
