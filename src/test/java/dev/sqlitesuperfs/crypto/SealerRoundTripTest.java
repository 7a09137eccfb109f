package dev.sqlitesuperfs.crypto;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.stream.IntStream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class SealerRoundTripTest {

    private final SplittableRandom random = new SplittableRandom(20261123);
    private final SecretKey key = SecretKey.random();

    @AfterEach
    void closeKey() {
        key.close();
    }

    @ParameterizedTest
    @ValueSource(ints = {4096, 65536, 1 << 20})
    void blocksOfEveryInterestingLengthRoundTrip(int blockSize) throws Exception {
        try (Sealer sealer = new Sealer(key, UUID.randomUUID(), 1, blockSize)) {
            for (int length : IntStream.of(0, 1, 4095, 4096, blockSize - 1, blockSize).distinct().toArray()) {
                byte[] plain = bytes(length);
                byte[] sealed = sealer.sealBlock(42, 7, plain, 0, length);
                assertThat(sealed).hasSize(length + Sealer.OVERHEAD);

                byte[] dest = new byte[length + 10];
                Arrays.fill(dest, (byte) 0x5A);
                assertThat(sealer.openBlock(42, 7, sealed, dest, 3)).isEqualTo(length);

                assertThat(Arrays.copyOfRange(dest, 3, 3 + length)).as("length %d", length).isEqualTo(plain);
                assertThat(Arrays.copyOfRange(dest, 0, 3)).containsOnly(0x5A);
                assertThat(Arrays.copyOfRange(dest, 3 + length, dest.length)).containsOnly(0x5A);
            }
        }
    }

    @Test
    void aBlockCanBeSealedFromTheMiddleOfAnArray() throws Exception {
        try (Sealer sealer = new Sealer(key, UUID.randomUUID(), 1, 4096)) {
            byte[] buffer = bytes(10000);
            byte[] sealed = sealer.sealBlock(3, 1, buffer, 4096, 4096);

            byte[] dest = new byte[4096];
            sealer.openBlock(3, 1, sealed, dest, 0);
            assertThat(dest).isEqualTo(Arrays.copyOfRange(buffer, 4096, 8192));
        }
    }

    @Test
    void symlinkTargetsRoundTripIncludingOnesLongerThanABlock() throws Exception {
        try (Sealer sealer = new Sealer(key, UUID.randomUUID(), 1, 4096)) {
            for (int length : new int[] {0, 1, 4095, 4096, 4097, 20000, 5}) {
                byte[] target = bytes(length);
                byte[] sealed = sealer.sealSymlink(9, target);
                assertThat(sealed).hasSize(length + Sealer.OVERHEAD);
                assertThat(sealer.openSymlink(9, sealed)).as("length %d", length).isEqualTo(target);
            }
        }
    }

    @Test
    void xattrValuesRoundTripForShortLongAndEmptyNames() throws Exception {
        try (Sealer sealer = new Sealer(key, UUID.randomUUID(), 1, 4096)) {
            byte[][] names = {"user.comment".getBytes(), new byte[0], bytes(255), bytes(300), bytes(10000), "a".getBytes()};
            for (byte[] name : names) {
                for (int length : new int[] {0, 1, 4095, 4096, 65536, 100_000, 3}) {
                    byte[] value = bytes(length);
                    byte[] sealed = sealer.sealXattr(11, name, value);
                    assertThat(sealed).hasSize(length + Sealer.OVERHEAD);
                    assertThat(sealer.openXattr(11, name.clone(), sealed))
                            .as("name of %d bytes, value of %d", name.length, length)
                            .isEqualTo(value);
                }
            }
        }
    }

    @Test
    void everySealUsesAFreshNonce() {
        try (Sealer sealer = new Sealer(key, UUID.randomUUID(), 1, 4096)) {
            byte[] plain = bytes(100);
            byte[] first = sealer.sealBlock(1, 0, plain, 0, plain.length);
            byte[] second = sealer.sealBlock(1, 0, plain, 0, plain.length);

            assertThat(Arrays.copyOf(first, 24)).isNotEqualTo(Arrays.copyOf(second, 24));
            assertThat(Arrays.copyOfRange(first, 24, first.length))
                    .isNotEqualTo(Arrays.copyOfRange(second, 24, second.length));
            assertThat(Arrays.copyOf(sealer.sealSymlink(1, plain), 24))
                    .isNotEqualTo(Arrays.copyOf(sealer.sealSymlink(1, plain), 24));
            assertThat(Arrays.copyOf(sealer.sealXattr(1, plain, plain), 24))
                    .isNotEqualTo(Arrays.copyOf(sealer.sealXattr(1, plain, plain), 24));
        }
    }

    @Test
    void theSealedFormDoesNotShowThePlaintext() {
        try (Sealer sealer = new Sealer(key, UUID.randomUUID(), 1, 4096)) {
            byte[] sealed = sealer.sealBlock(1, 0, new byte[4096], 0, 4096);

            long zeros = IntStream.range(0, sealed.length).filter(i -> sealed[i] == 0).count();
            assertThat(zeros).isLessThan(100);
        }
    }

    @Test
    void argumentsOutsideTheContractAreRejected() {
        try (Sealer sealer = new Sealer(key, UUID.randomUUID(), 1, 4096)) {
            assertThatThrownBy(() -> sealer.sealBlock(1, 0, new byte[4097], 0, 4097))
                    .isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> sealer.sealBlock(1, 0, new byte[10], 5, 6))
                    .isInstanceOf(IndexOutOfBoundsException.class);
            assertThatThrownBy(() -> sealer.sealBlock(1, 0, new byte[10], -1, 2))
                    .isInstanceOf(IndexOutOfBoundsException.class);

            byte[] sealed = sealer.sealBlock(1, 0, new byte[100], 0, 100);
            assertThatThrownBy(() -> sealer.openBlock(1, 0, sealed, new byte[99], 0))
                    .isInstanceOf(IndexOutOfBoundsException.class);
            assertThatThrownBy(() -> sealer.openBlock(1, 0, sealed, new byte[100], 1))
                    .isInstanceOf(IndexOutOfBoundsException.class);
        }
        for (int blockSize : new int[] {0, 1024, 3000, 4097, 12288, 2 << 20, -4096}) {
            assertThatThrownBy(() -> new Sealer(key, UUID.randomUUID(), 1, blockSize))
                    .as("block size %d", blockSize)
                    .isInstanceOf(IllegalArgumentException.class);
        }
        assertThatThrownBy(() -> new Sealer(key, UUID.randomUUID(), 0, 4096))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Sealer(key, null, 1, 4096)).isInstanceOf(NullPointerException.class);
    }

    @Test
    void closingTheSealerLeavesTheKeyToItsOwner() throws Exception {
        UUID namespace = UUID.randomUUID();
        Sealer sealer = new Sealer(key, namespace, 1, 4096);
        byte[] sealed = sealer.sealBlock(1, 0, bytes(10), 0, 10);

        sealer.close();
        sealer.close();

        assertThatThrownBy(() -> sealer.sealBlock(1, 0, new byte[1], 0, 1))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
        assertThatThrownBy(() -> sealer.openSymlink(1, new byte[50])).isInstanceOf(IllegalStateException.class);
        try (Sealer another = new Sealer(key, namespace, 1, 4096)) {
            assertThat(another.openBlock(1, 0, sealed, new byte[10], 0)).isEqualTo(10);
        }
    }

    private byte[] bytes(int length) {
        byte[] bytes = new byte[length];
        random.nextBytes(bytes);
        return bytes;
    }
}
