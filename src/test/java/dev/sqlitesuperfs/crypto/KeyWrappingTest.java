package dev.sqlitesuperfs.crypto;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.UUID;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class KeyWrappingTest {

    private static final byte[] AD = "namespace 1234, format 1".getBytes(StandardCharsets.US_ASCII);

    private SecretKey dataKey;
    private Passphrase passphrase;
    private KdfParams kdf;

    @BeforeEach
    void setUp() {
        dataKey = SecretKey.random();
        passphrase = Passphrase.fromChars("correct horse battery staple".toCharArray());
        kdf = KdfParams.generate(KdfStrength.INTERACTIVE);
    }

    @AfterEach
    void tearDown() {
        dataKey.close();
        passphrase.close();
    }

    @Test
    void theRightPassphraseUnwrapsTheSameKey() throws Exception {
        byte[] wrapped = KeyWrapping.wrap(dataKey, passphrase, kdf, AD);
        assertThat(wrapped).hasSize(KeyWrapping.WRAPPED_BYTES).hasSize(72);

        try (Passphrase again = Passphrase.fromBytes("correct horse battery staple".getBytes(StandardCharsets.UTF_8));
             SecretKey unwrapped = KeyWrapping.unwrap(wrapped, again, kdf, AD)) {
            assertSameKey(dataKey, unwrapped);
            assertThat(unwrapped.segment().mismatch(dataKey.segment())).isEqualTo(-1);
        }
    }

    @Test
    void twoWrapsOfTheSameKeyDifferButBothUnwrap() throws Exception {
        byte[] first = KeyWrapping.wrap(dataKey, passphrase, kdf, AD);
        byte[] second = KeyWrapping.wrap(dataKey, passphrase, kdf, AD);

        assertThat(first).isNotEqualTo(second);
        try (SecretKey fromFirst = KeyWrapping.unwrap(first, passphrase, kdf, AD);
             SecretKey fromSecond = KeyWrapping.unwrap(second, passphrase, kdf, AD)) {
            assertSameKey(fromFirst, fromSecond);
        }
    }

    @Test
    void theWrappedFormHoldsNoPlainKeyBytes() {
        byte[] wrapped = KeyWrapping.wrap(dataKey, passphrase, kdf, AD);
        byte[] key = dataKey.segment().toArray(JAVA_BYTE);

        assertThat(Collections.indexOfSubList(asList(wrapped), asList(Arrays.copyOf(key, 8))))
                .isEqualTo(-1);
    }

    @Test
    void aWrongPassphraseIsReported() {
        byte[] wrapped = KeyWrapping.wrap(dataKey, passphrase, kdf, AD);

        try (Passphrase wrong = Passphrase.fromChars("correct horse battery stapler".toCharArray())) {
            assertThatThrownBy(() -> KeyWrapping.unwrap(wrapped, wrong, kdf, AD))
                    .isInstanceOf(WrongPassphraseException.class)
                    .hasMessageContaining("wrong passphrase")
                    .hasMessageNotContaining("stapler")
                    .satisfies(e -> assertThat(e.getStackTrace()).isEmpty());
        }
    }

    @Test
    void anotherSaltOrCostIsLikeAWrongPassphrase() {
        byte[] wrapped = KeyWrapping.wrap(dataKey, passphrase, kdf, AD);
        KdfParams otherSalt = KdfParams.generate(KdfStrength.INTERACTIVE);
        KdfParams otherCost = new KdfParams(kdf.algorithm(), kdf.opsLimit() + 1, kdf.memLimit(), kdf.salt());
        KdfParams otherMemory = new KdfParams(kdf.algorithm(), kdf.opsLimit(), kdf.memLimit() / 2, kdf.salt());

        assertThatThrownBy(() -> KeyWrapping.unwrap(wrapped, passphrase, otherSalt, AD))
                .isInstanceOf(WrongPassphraseException.class);
        assertThatThrownBy(() -> KeyWrapping.unwrap(wrapped, passphrase, otherCost, AD))
                .isInstanceOf(WrongPassphraseException.class);
        assertThatThrownBy(() -> KeyWrapping.unwrap(wrapped, passphrase, otherMemory, AD))
                .isInstanceOf(WrongPassphraseException.class);
    }

    @Test
    void otherAssociatedDataIsLikeAWrongPassphrase() {
        byte[] wrapped = KeyWrapping.wrap(dataKey, passphrase, kdf, AD);
        byte[] other = AD.clone();
        other[other.length - 1] ^= 1;

        assertThatThrownBy(() -> KeyWrapping.unwrap(wrapped, passphrase, kdf, other))
                .isInstanceOf(WrongPassphraseException.class);
        assertThatThrownBy(() -> KeyWrapping.unwrap(wrapped, passphrase, kdf, new byte[0]))
                .isInstanceOf(WrongPassphraseException.class);
    }

    @Test
    void tamperedWrappedBytesAreLikeAWrongPassphrase() {
        byte[] wrapped = KeyWrapping.wrap(dataKey, passphrase, kdf, AD);
        // One bit in the nonce, in the encrypted key, in the tag.
        for (int bit : new int[] {5, 24 * 8 + 17, 71 * 8 + 7}) {
            byte[] tampered = wrapped.clone();
            tampered[bit / 8] ^= (byte) (1 << (bit % 8));
            assertThatThrownBy(() -> KeyWrapping.unwrap(tampered, passphrase, kdf, AD))
                    .as("bit %d", bit)
                    .isInstanceOf(WrongPassphraseException.class);
        }
        assertThatThrownBy(() -> KeyWrapping.unwrap(Arrays.copyOf(wrapped, 71), passphrase, kdf, AD))
                .isInstanceOf(WrongPassphraseException.class)
                .hasMessageContaining("damaged");
        assertThatThrownBy(() -> KeyWrapping.unwrap(Arrays.copyOf(wrapped, 73), passphrase, kdf, AD))
                .isInstanceOf(WrongPassphraseException.class);
        assertThatThrownBy(() -> KeyWrapping.unwrap(new byte[0], passphrase, kdf, AD))
                .isInstanceOf(WrongPassphraseException.class);
    }

    @Test
    void anEmptyPassphraseStillWrapsAndUnwraps() throws Exception {
        try (Passphrase empty = Passphrase.fromChars(new char[0])) {
            byte[] wrapped = KeyWrapping.wrap(dataKey, empty, kdf, AD);
            try (SecretKey unwrapped = KeyWrapping.unwrap(wrapped, empty, kdf, AD)) {
                assertSameKey(dataKey, unwrapped);
            }
            assertThatThrownBy(() -> KeyWrapping.unwrap(wrapped, passphrase, kdf, AD))
                    .isInstanceOf(WrongPassphraseException.class);
        }
    }

    @Test
    void aClosedKeyOrPassphraseCannotBeUsed() {
        SecretKey closedKey = SecretKey.random();
        closedKey.close();
        Passphrase closedPassphrase = Passphrase.fromChars("x".toCharArray());
        closedPassphrase.close();

        assertThatThrownBy(() -> KeyWrapping.wrap(closedKey, passphrase, kdf, AD))
                .isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> KeyWrapping.wrap(dataKey, closedPassphrase, kdf, AD))
                .isInstanceOf(IllegalStateException.class);
    }

    /** The two keys are the same if what one seals the other opens. */
    private static void assertSameKey(SecretKey sealing, SecretKey opening) throws IntegrityException {
        UUID namespace = UUID.randomUUID();
        byte[] plain = "the same key opens it".getBytes(StandardCharsets.US_ASCII);
        try (Sealer sealer = new Sealer(sealing, namespace, 1, 4096);
             Sealer opener = new Sealer(opening, namespace, 1, 4096)) {
            byte[] dest = new byte[plain.length];
            assertThat(opener.openBlock(1, 0, sealer.sealBlock(1, 0, plain, 0, plain.length), dest, 0))
                    .isEqualTo(plain.length);
            assertThat(dest).isEqualTo(plain);
            assertThat(sealer.openSymlink(2, opener.sealSymlink(2, plain))).isEqualTo(plain);
        }
    }

    private static List<Byte> asList(byte[] bytes) {
        List<Byte> list = new ArrayList<>(bytes.length);
        for (byte b : bytes) {
            list.add(b);
        }
        return list;
    }
}
