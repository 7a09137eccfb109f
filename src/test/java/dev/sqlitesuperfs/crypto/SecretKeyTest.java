package dev.sqlitesuperfs.crypto;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.MemorySegment;
import java.util.HexFormat;
import java.util.UUID;

import org.junit.jupiter.api.Test;

class SecretKeyTest {

    @Test
    void closeZeroesTheKeyAndTheRestOfItsPages() {
        SecretKey key = SecretKey.random();
        MemorySegment pages = key.pagesForInspection();
        byte[] bytes = key.segment().toArray(JAVA_BYTE);
        assertThat(bytes).hasSize(32).isNotEqualTo(new byte[32]);
        assertThat(pages.asSlice(0, 32).toArray(JAVA_BYTE)).isEqualTo(bytes);

        key.close();

        assertThat(pages.byteSize()).isGreaterThanOrEqualTo(Sodium.pageSize());
        assertThat(pages.toArray(JAVA_BYTE)).containsOnly(0);
    }

    @Test
    void everyKeyHasPagesOfItsOwn() {
        try (SecretKey first = SecretKey.random(); SecretKey second = SecretKey.random()) {
            long pageSize = Sodium.pageSize();
            assertThat(first.pagesForInspection().address() % pageSize).isZero();
            assertThat(second.pagesForInspection().address() % pageSize).isZero();
            assertThat(first.pagesForInspection().address()).isNotEqualTo(second.pagesForInspection().address());
        }
    }

    @Test
    void closingTwiceIsHarmlessAndUseAfterCloseFails() {
        SecretKey key = SecretKey.random();
        key.close();
        key.close();

        assertThatThrownBy(key::segment)
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
        assertThatThrownBy(() -> new Sealer(key, UUID.randomUUID(), 1, 4096))
                .isInstanceOf(IllegalStateException.class);
    }

    @Test
    void aSealerWhoseKeyWasClosedRefusesToSeal() {
        SecretKey key = SecretKey.random();
        try (Sealer sealer = new Sealer(key, UUID.randomUUID(), 1, 4096)) {
            sealer.sealBlock(1, 0, new byte[10], 0, 10);
            key.close();

            assertThatThrownBy(() -> sealer.sealBlock(1, 0, new byte[10], 0, 10))
                    .isInstanceOf(IllegalStateException.class);
        }
    }

    @Test
    void randomKeysDiffer() {
        try (SecretKey first = SecretKey.random(); SecretKey second = SecretKey.random()) {
            assertThat(first.segment().mismatch(second.segment())).isNotEqualTo(-1);
        }
    }

    @Test
    void toStringNeverShowsTheKey() {
        SecretKey key = SecretKey.random();
        String hex = HexFormat.of().formatHex(key.segment().toArray(JAVA_BYTE));

        assertThat(key.toString()).isEqualTo("SecretKey[256 bits]").doesNotContain(hex);
        key.close();
        assertThat(key.toString()).isEqualTo("SecretKey[closed]");
    }

    @Test
    void copyOfTakesExactly32Bytes() {
        assertThatThrownBy(() -> SecretKey.copyOf(new byte[31])).isInstanceOf(IllegalArgumentException.class);
        byte[] bytes = new byte[32];
        bytes[5] = 7;
        try (SecretKey key = SecretKey.copyOf(bytes)) {
            assertThat(key.segment().toArray(JAVA_BYTE)).isEqualTo(bytes);
        }
    }
}
