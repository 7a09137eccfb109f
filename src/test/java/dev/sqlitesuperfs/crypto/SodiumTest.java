package dev.sqlitesuperfs.crypto;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import org.junit.jupiter.api.Test;

class SodiumTest {

    @Test
    void aMissingLibraryIsReportedWithTheDebianPackageThatProvidesIt() {
        assertThatThrownBy(() -> Sodium.load("libsodium-absent-for-this-test.so.0"))
                .isInstanceOf(SodiumUnavailableException.class)
                .hasMessageContaining("libsodium-absent-for-this-test.so.0")
                .hasMessageContaining("libsodium23");
    }

    @Test
    void theSystemLibraryReportsArgon2idAsLibsodiumDocumentsIt() {
        Sodium.Argon2id argon2id = Sodium.argon2id();

        assertThat(argon2id.algorithm()).isEqualTo(2);
        assertThat(argon2id.saltBytes()).isEqualTo(KdfParams.SALT_BYTES);
        assertThat(argon2id.interactive()).isEqualTo(new Sodium.Preset(2, 64L << 20));
        assertThat(argon2id.moderate()).isEqualTo(new Sodium.Preset(3, 256L << 20));
        assertThat(argon2id.sensitive()).isEqualTo(new Sodium.Preset(4, 1L << 30));
        assertThat(argon2id.opsLimitMin()).isEqualTo(1);
        assertThat(argon2id.memLimitMin()).isEqualTo(8192);
    }

    @Test
    void pageSizeIsAPowerOfTwo() {
        assertThat(Sodium.pageSize()).isGreaterThanOrEqualTo(4096);
        assertThat(Long.bitCount(Sodium.pageSize())).isEqualTo(1);
    }

    @Test
    void randomBytesFillTheWholeBufferAndDifferEachTime() {
        byte[] first = Sodium.randomBytes(64);
        byte[] second = Sodium.randomBytes(64);

        assertThat(first).hasSize(64).isNotEqualTo(second);
        assertThat(Sodium.randomBytes(0)).isEmpty();
    }

    @Test
    void lengthsThatDoNotFitTheSegmentsNeverReachNativeCode() {
        try (Arena arena = Arena.ofConfined(); SecretKey key = SecretKey.random()) {
            MemorySegment nonce = arena.allocate(Sodium.NONCE_BYTES);
            MemorySegment plain = arena.allocate(100);
            MemorySegment ad = arena.allocate(8);

            assertThatThrownBy(() -> Sodium.aeadEncrypt(arena.allocate(100 + Sodium.TAG_BYTES - 1), plain, 100,
                    ad, 8, nonce, key.segment()))
                    .isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> Sodium.aeadEncrypt(arena.allocate(200), plain, 101,
                    ad, 8, nonce, key.segment()))
                    .isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> Sodium.aeadEncrypt(arena.allocate(200), plain, 100,
                    ad, 9, nonce, key.segment()))
                    .isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> Sodium.aeadEncrypt(arena.allocate(200), plain, 100,
                    ad, 8, nonce.asSlice(1), key.segment()))
                    .isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> Sodium.aeadDecrypt(arena.allocate(10), arena.allocate(200), 200,
                    ad, 8, nonce, key.segment()))
                    .isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void encryptThenDecryptRoundTripsAndDetectsAChangedAssociatedData() {
        try (Arena arena = Arena.ofConfined(); SecretKey key = SecretKey.random()) {
            MemorySegment nonce = arena.allocate(Sodium.NONCE_BYTES);
            Sodium.randomBytes(nonce);
            MemorySegment plain = arena.allocateFrom("hello", java.nio.charset.StandardCharsets.US_ASCII);
            MemorySegment ad = arena.allocateFrom(JAVA_BYTE, new byte[] {1, 2, 3});
            MemorySegment sealed = arena.allocate(plain.byteSize() + Sodium.TAG_BYTES);
            Sodium.aeadEncrypt(sealed, plain, plain.byteSize(), ad, ad.byteSize(), nonce, key.segment());

            MemorySegment opened = arena.allocate(plain.byteSize());
            assertThat(Sodium.aeadDecrypt(opened, sealed, sealed.byteSize(), ad, ad.byteSize(), nonce, key.segment()))
                    .isTrue();
            assertThat(opened.mismatch(plain)).isEqualTo(-1);
            assertThat(Sodium.aeadDecrypt(opened, sealed, sealed.byteSize(), ad, 2, nonce, key.segment()))
                    .isFalse();
            assertThat(Sodium.aeadDecrypt(opened, sealed, Sodium.TAG_BYTES - 1, ad, 3, nonce, key.segment()))
                    .isFalse();
        }
    }
}
