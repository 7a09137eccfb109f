package dev.sqlitesuperfs.crypto;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.UUID;

import org.assertj.core.api.AbstractThrowableAssert;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class SealerTamperTest {

    private static final byte[] NAME = "user.comment".getBytes(StandardCharsets.US_ASCII);

    private final SplittableRandom random = new SplittableRandom(7);
    private final UUID namespace = UUID.randomUUID();
    private final SecretKey key = SecretKey.random();
    private final Sealer sealer = new Sealer(key, namespace, 1, 4096);
    private final byte[] plain = bytes(100);
    private final byte[] block = sealer.sealBlock(5, 9, plain, 0, plain.length);
    private final byte[] symlink = sealer.sealSymlink(5, plain);
    private final byte[] xattr = sealer.sealXattr(5, NAME, plain);

    @AfterEach
    void close() {
        sealer.close();
        key.close();
    }

    @Test
    void theUntamperedPayloadsOpen() throws Exception {
        assertThat(sealer.openBlock(5, 9, block, new byte[100], 0)).isEqualTo(100);
        assertThat(sealer.openSymlink(5, symlink)).isEqualTo(plain);
        assertThat(sealer.openXattr(5, NAME, xattr)).isEqualTo(plain);
    }

    @Test
    void flippingAnyBitOfTheNonceIsDetected() {
        assertEveryBitFlipFails(0, 24);
    }

    @Test
    void flippingAnyBitOfTheCiphertextIsDetected() {
        assertEveryBitFlipFails(24, 24 + plain.length);
    }

    @Test
    void flippingAnyBitOfTheTagIsDetected() {
        assertEveryBitFlipFails(24 + plain.length, block.length);
    }

    @Test
    void bitFlipsInSymlinkTargetsAndXattrValuesAreDetected() {
        for (int bit : new int[] {0, 24 * 8 + 3, 24 * 8 + 99 * 8, (symlink.length - 1) * 8 + 7}) {
            byte[] tamperedSymlink = flip(symlink, bit);
            byte[] tamperedXattr = flip(xattr, bit);
            assertFails(() -> sealer.openSymlink(5, tamperedSymlink));
            assertFails(() -> sealer.openXattr(5, NAME, tamperedXattr));
        }
    }

    @Test
    void truncatedExtendedEmptyAndTooShortPayloadsAreDetected() {
        for (int length = 0; length < block.length; length++) {
            byte[] prefix = Arrays.copyOf(block, length);
            byte[] suffix = Arrays.copyOfRange(block, block.length - length, block.length);
            assertFails(() -> sealer.openBlock(5, 9, prefix, new byte[200], 0));
            assertFails(() -> sealer.openBlock(5, 9, suffix, new byte[200], 0));
        }
        byte[] extended = Arrays.copyOf(block, block.length + 1);
        assertFails(() -> sealer.openBlock(5, 9, extended, new byte[200], 0));
        assertFails(() -> sealer.openBlock(5, 9, new byte[Sealer.OVERHEAD], new byte[0], 0));

        for (byte[] malformed : new byte[][] {new byte[0], new byte[1], new byte[39], Arrays.copyOf(symlink, 39)}) {
            assertFails(() -> sealer.openBlock(5, 9, malformed, new byte[200], 0)).hasMessageContaining("malformed");
            assertFails(() -> sealer.openSymlink(5, malformed)).hasMessageContaining("malformed");
            assertFails(() -> sealer.openXattr(5, NAME, malformed)).hasMessageContaining("malformed");
        }
        assertFails(() -> sealer.openSymlink(5, Arrays.copyOf(symlink, symlink.length - 1)));
        assertFails(() -> sealer.openXattr(5, NAME, Arrays.copyOf(xattr, xattr.length + 1)));
    }

    @Test
    void aSealedBlockLongerThanABlockIsMalformed() {
        byte[] tooLong = new byte[4096 + Sealer.OVERHEAD + 1];
        assertFails(() -> sealer.openBlock(5, 9, tooLong, new byte[8192], 0)).hasMessageContaining("malformed");
    }

    @Test
    void aBlockOpenedAtAnotherPlaceFails() {
        assertFails(() -> sealer.openBlock(5, 8, block, new byte[100], 0));
        assertFails(() -> sealer.openBlock(5, 10, block, new byte[100], 0));
        assertFails(() -> sealer.openBlock(4, 9, block, new byte[100], 0));
        assertFails(() -> sealer.openBlock(9, 5, block, new byte[100], 0));
        assertFails(() -> sealer.openBlock(5, 9 + (1L << 32), block, new byte[100], 0));
        assertFails(() -> sealer.openBlock(5 + (1L << 32), 9, block, new byte[100], 0));
        assertFails(() -> sealer.openBlock(-5, -9, block, new byte[100], 0));
    }

    @Test
    void aSymlinkOrXattrOfAnotherInodeFails() {
        assertFails(() -> sealer.openSymlink(6, symlink));
        assertFails(() -> sealer.openXattr(6, NAME, xattr));
    }

    @Test
    void anXattrValueUnderAnotherNameFails() {
        byte[][] otherNames = {
                "user.commenT".getBytes(StandardCharsets.US_ASCII),
                "user.commen".getBytes(StandardCharsets.US_ASCII),
                "user.comment\0".getBytes(StandardCharsets.US_ASCII),
                new byte[0],
        };
        for (byte[] name : otherNames) {
            assertFails(() -> sealer.openXattr(5, name, xattr));
        }
    }

    @Test
    void aPayloadOpenedAsAnotherKindFails() {
        assertFails(() -> sealer.openSymlink(5, block));
        assertFails(() -> sealer.openXattr(5, NAME, block));
        assertFails(() -> sealer.openBlock(5, 9, symlink, new byte[100], 0));
        assertFails(() -> sealer.openXattr(5, NAME, symlink));
        assertFails(() -> sealer.openXattr(5, new byte[0], symlink));
        assertFails(() -> sealer.openBlock(5, 9, xattr, new byte[100], 0));
        assertFails(() -> sealer.openSymlink(5, xattr));
    }

    @Test
    void aPayloadOpenedInAnotherNamespaceWithTheSameKeyFails() {
        try (Sealer other = new Sealer(key, UUID.randomUUID(), 1, 4096)) {
            assertAllFail(other);
        }
        UUID oneBitOff = new UUID(namespace.getMostSignificantBits(), namespace.getLeastSignificantBits() ^ 1);
        try (Sealer other = new Sealer(key, oneBitOff, 1, 4096)) {
            assertAllFail(other);
        }
    }

    @Test
    void aPayloadOpenedUnderAnotherFormatVersionFails() {
        try (Sealer other = new Sealer(key, namespace, 2, 4096)) {
            assertAllFail(other);
        }
    }

    @Test
    void aPayloadOpenedUnderAnotherKeyFails() {
        try (SecretKey otherKey = SecretKey.random(); Sealer other = new Sealer(otherKey, namespace, 1, 4096)) {
            assertAllFail(other);
        }
    }

    @Test
    void theSameContextUnderAnotherSealerInstanceOpens() throws Exception {
        try (Sealer same = new Sealer(key, namespace, 1, 65536)) {
            assertThat(same.openBlock(5, 9, block, new byte[100], 0)).isEqualTo(100);
            assertThat(same.openSymlink(5, symlink)).isEqualTo(plain);
            assertThat(same.openXattr(5, NAME, xattr)).isEqualTo(plain);
        }
    }

    private void assertAllFail(Sealer other) {
        assertFails(() -> other.openBlock(5, 9, block, new byte[100], 0));
        assertFails(() -> other.openSymlink(5, symlink));
        assertFails(() -> other.openXattr(5, NAME, xattr));
    }

    private void assertEveryBitFlipFails(int fromByte, int toByte) {
        for (int bit = fromByte * 8; bit < toByte * 8; bit++) {
            byte[] tampered = flip(block, bit);
            assertFails(() -> sealer.openBlock(5, 9, tampered, new byte[100], 0));
        }
    }

    private static AbstractThrowableAssert<?, ? extends Throwable> assertFails(ThrowingCallable open) {
        return assertThatThrownBy(open).isInstanceOf(IntegrityException.class);
    }

    private static byte[] flip(byte[] bytes, int bit) {
        byte[] copy = bytes.clone();
        copy[bit / 8] ^= (byte) (1 << (bit % 8));
        return copy;
    }

    private byte[] bytes(int length) {
        byte[] bytes = new byte[length];
        random.nextBytes(bytes);
        return bytes;
    }
}
