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
        KeyWrapping.Wrapping wrapping = KeyWrapping.wrap(dataKey, passphrase, kdf, AD);
        assertThat(wrapping.wrappedKey()).hasSize(KeyWrapping.WRAPPED_BYTES).hasSize(72);
        assertThat(wrapping.keyCheck()).hasSize(KeyWrapping.KEY_CHECK_BYTES).hasSize(40);

        try (Passphrase again = Passphrase.fromBytes("correct horse battery staple".getBytes(StandardCharsets.UTF_8));
             SecretKey unwrapped = unwrap(wrapping, again, kdf, AD)) {
            assertSameKey(dataKey, unwrapped);
            assertThat(unwrapped.segment().mismatch(dataKey.segment())).isEqualTo(-1);
        }
    }

    @Test
    void twoWrapsOfTheSameKeyDifferButBothUnwrap() throws Exception {
        KeyWrapping.Wrapping first = KeyWrapping.wrap(dataKey, passphrase, kdf, AD);
        KeyWrapping.Wrapping second = KeyWrapping.wrap(dataKey, passphrase, kdf, AD);

        assertThat(first.wrappedKey()).isNotEqualTo(second.wrappedKey());
        assertThat(first.keyCheck()).isNotEqualTo(second.keyCheck());
        try (SecretKey fromFirst = unwrap(first, passphrase, kdf, AD);
             SecretKey fromSecond = unwrap(second, passphrase, kdf, AD)) {
            assertSameKey(fromFirst, fromSecond);
        }
    }

    @Test
    void theWrappedFormHoldsNoPlainKeyBytes() {
        KeyWrapping.Wrapping wrapping = KeyWrapping.wrap(dataKey, passphrase, kdf, AD);
        byte[] key = dataKey.segment().toArray(JAVA_BYTE);

        assertThat(Collections.indexOfSubList(asList(wrapping.wrappedKey()), asList(Arrays.copyOf(key, 8))))
                .isEqualTo(-1);
    }

    @Test
    void aWrongPassphraseIsReported() {
        KeyWrapping.Wrapping wrapping = KeyWrapping.wrap(dataKey, passphrase, kdf, AD);

        try (Passphrase wrong = Passphrase.fromChars("correct horse battery stapler".toCharArray())) {
            assertThatThrownBy(() -> unwrap(wrapping, wrong, kdf, AD))
                    .isInstanceOf(WrongPassphraseException.class)
                    .hasMessage("wrong passphrase")
                    .satisfies(e -> assertThat(e.getStackTrace()).isEmpty());
            KeyWrapping.Wrapping withoutCheck = new KeyWrapping.Wrapping(wrapping.wrappedKey(), null);
            assertThatThrownBy(() -> unwrap(withoutCheck, wrong, kdf, AD))
                    .isInstanceOf(WrongPassphraseException.class)
                    .hasMessageContaining("wrong passphrase")
                    .hasMessageContaining("no key check");
        }
    }

    /** Nothing derived from the passphrase can tell these apart; the store's checksum does (see MetaChecksum). */
    @Test
    void anotherSaltOrCostIsLikeAWrongPassphrase() {
        KeyWrapping.Wrapping wrapping = KeyWrapping.wrap(dataKey, passphrase, kdf, AD);
        KdfParams otherSalt = KdfParams.withNewSalt(kdf);
        KdfParams otherCost = new KdfParams(kdf.algorithm(), kdf.opsLimit() + 1, kdf.memLimit(), kdf.salt());
        KdfParams otherMemory = new KdfParams(kdf.algorithm(), kdf.opsLimit(), kdf.memLimit() / 2, kdf.salt());

        for (KdfParams other : List.of(otherSalt, otherCost, otherMemory)) {
            assertThatThrownBy(() -> unwrap(wrapping, passphrase, other, AD))
                    .as("%s", other)
                    .isInstanceOf(WrongPassphraseException.class);
        }
    }

    @Test
    void otherAssociatedDataWithTheRightPassphraseIsDamage() {
        KeyWrapping.Wrapping wrapping = KeyWrapping.wrap(dataKey, passphrase, kdf, AD);
        byte[] other = AD.clone();
        other[other.length - 1] ^= 1;

        for (byte[] ad : List.of(other, new byte[0])) {
            assertThatThrownBy(() -> unwrap(wrapping, passphrase, kdf, ad))
                    .isInstanceOf(DamagedKeyMaterialException.class)
                    .hasMessageContaining("passphrase is right");
        }
    }

    @Test
    void tamperedWrappedBytesWithTheRightPassphraseAreDamage() {
        KeyWrapping.Wrapping wrapping = KeyWrapping.wrap(dataKey, passphrase, kdf, AD);
        // One bit in the nonce, in the encrypted key, in the tag.
        for (int bit : new int[] {5, 24 * 8 + 17, 71 * 8 + 7}) {
            KeyWrapping.Wrapping tampered = new KeyWrapping.Wrapping(flip(wrapping.wrappedKey(), bit), wrapping.keyCheck());
            assertThatThrownBy(() -> unwrap(tampered, passphrase, kdf, AD))
                    .as("bit %d", bit)
                    .isInstanceOf(DamagedKeyMaterialException.class)
                    .hasMessageContaining("wrapped data key does not open");
        }
        for (byte[] wrongLength : List.of(Arrays.copyOf(wrapping.wrappedKey(), 71),
                Arrays.copyOf(wrapping.wrappedKey(), 73), new byte[0])) {
            KeyWrapping.Wrapping tampered = new KeyWrapping.Wrapping(wrongLength, wrapping.keyCheck());
            assertThatThrownBy(() -> unwrap(tampered, passphrase, kdf, AD))
                    .isInstanceOf(DamagedKeyMaterialException.class)
                    .hasMessageContaining("bytes instead of 72");
        }
    }

    @Test
    void aTamperedKeyCheckIsDamageEvenThoughTheKeyOpens() {
        KeyWrapping.Wrapping wrapping = KeyWrapping.wrap(dataKey, passphrase, kdf, AD);
        for (int bit : new int[] {0, 24 * 8, 39 * 8 + 7}) {
            KeyWrapping.Wrapping tampered = new KeyWrapping.Wrapping(wrapping.wrappedKey(), flip(wrapping.keyCheck(), bit));
            assertThatThrownBy(() -> unwrap(tampered, passphrase, kdf, AD))
                    .as("bit %d", bit)
                    .isInstanceOf(DamagedKeyMaterialException.class)
                    .hasMessageContaining("key check does not match");
        }
        KeyWrapping.Wrapping shortCheck = new KeyWrapping.Wrapping(wrapping.wrappedKey(),
                Arrays.copyOf(wrapping.keyCheck(), 39));
        assertThatThrownBy(() -> unwrap(shortCheck, passphrase, kdf, AD))
                .isInstanceOf(DamagedKeyMaterialException.class)
                .hasMessageContaining("bytes instead of 40");
    }

    @Test
    void aKeyCheckFromAnotherWrappingWithAnotherSaltDoesNotOpen() {
        KeyWrapping.Wrapping wrapping = KeyWrapping.wrap(dataKey, passphrase, kdf, AD);
        KeyWrapping.Wrapping elsewhere = KeyWrapping.wrap(dataKey, passphrase, KdfParams.withNewSalt(kdf), AD);
        KeyWrapping.Wrapping mixed = new KeyWrapping.Wrapping(wrapping.wrappedKey(), elsewhere.keyCheck());
        assertThatThrownBy(() -> unwrap(mixed, passphrase, kdf, AD))
                .isInstanceOf(DamagedKeyMaterialException.class);
    }

    @Test
    void aWrappingWithoutKeyCheckOpensAndGetsOne() throws Exception {
        KeyWrapping.Wrapping wrapping = KeyWrapping.wrap(dataKey, passphrase, kdf, AD);
        KeyWrapping.Unwrapped opened = KeyWrapping.unwrap(new KeyWrapping.Wrapping(wrapping.wrappedKey(), null),
                passphrase, kdf, AD);
        try (SecretKey key = opened.dataKey()) {
            assertSameKey(dataKey, key);
        }
        assertThat(opened.keyCheck()).hasSize(KeyWrapping.KEY_CHECK_BYTES);
        try (SecretKey again = unwrap(new KeyWrapping.Wrapping(wrapping.wrappedKey(), opened.keyCheck()), passphrase,
                kdf, AD)) {
            assertSameKey(dataKey, again);
        }
    }

    @Test
    void anEmptyPassphraseStillWrapsAndUnwraps() throws Exception {
        try (Passphrase empty = Passphrase.fromChars(new char[0])) {
            KeyWrapping.Wrapping wrapping = KeyWrapping.wrap(dataKey, empty, kdf, AD);
            try (SecretKey unwrapped = unwrap(wrapping, empty, kdf, AD)) {
                assertSameKey(dataKey, unwrapped);
            }
            assertThatThrownBy(() -> unwrap(wrapping, passphrase, kdf, AD))
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

    private static SecretKey unwrap(KeyWrapping.Wrapping wrapping, Passphrase pass, KdfParams kdf, byte[] ad)
            throws WrongPassphraseException, DamagedKeyMaterialException {
        return KeyWrapping.unwrap(wrapping, pass, kdf, ad).dataKey();
    }

    private static byte[] flip(byte[] bytes, int bit) {
        byte[] copy = bytes.clone();
        copy[bit / 8] ^= (byte) (1 << (bit % 8));
        return copy;
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
