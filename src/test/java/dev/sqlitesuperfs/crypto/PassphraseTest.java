package dev.sqlitesuperfs.crypto;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import org.junit.jupiter.api.Test;

class PassphraseTest {

    @Test
    void fromCharsEncodesNonAsciiExactlyAsFromBytesOfTheUtf8() {
        String text = "pässwörd € 日本語 𝄞 Ωmega ok";
        byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
        try (Passphrase fromChars = Passphrase.fromChars(text.toCharArray());
             Passphrase fromBytes = Passphrase.fromBytes(utf8)) {
            assertThat(fromChars.segment().byteSize()).isEqualTo(utf8.length);
            assertThat(fromChars.segment().mismatch(fromBytes.segment())).isEqualTo(-1);
            assertThat(fromChars.segment().toArray(JAVA_BYTE)).isEqualTo(utf8);
        }
    }

    @Test
    void everyUtf8LengthBoundaryEncodesLikeTheJdk() {
        int[] codePoints = {0x00, 0x7F, 0x80, 0x7FF, 0x800, 0xD7FF, 0xE000, 0xFFFF, 0x10000, 0x10FFFF};
        for (int codePoint : codePoints) {
            String text = "a" + Character.toString(codePoint) + "z";
            try (Passphrase passphrase = Passphrase.fromChars(text.toCharArray())) {
                assertThat(passphrase.segment().toArray(JAVA_BYTE))
                        .as("U+%04X", codePoint)
                        .isEqualTo(text.getBytes(StandardCharsets.UTF_8));
            }
        }
    }

    @Test
    void anUnpairedSurrogateIsRejectedWithoutShowingThePassphrase() {
        char[][] broken = {
                {'s', 'e', 'c', '\uD834'},
                {'s', 'e', 'c', '\uDD1E', 'x'},
                {'s', 'e', 'c', '\uD834', 'x'},
        };
        for (char[] chars : broken) {
            assertThatThrownBy(() -> Passphrase.fromChars(chars))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("surrogate")
                    .hasMessageNotContaining("sec");
        }
    }

    @Test
    void emptiness() {
        try (Passphrase emptyChars = Passphrase.fromChars(new char[0]);
             Passphrase emptyBytes = Passphrase.fromBytes(new byte[0]);
             Passphrase one = Passphrase.fromChars(new char[] {'x'})) {
            assertThat(emptyChars.isEmpty()).isTrue();
            assertThat(emptyBytes.isEmpty()).isTrue();
            assertThat(one.isEmpty()).isFalse();
        }
    }

    @Test
    void fromBytesCopiesSoTheCallerCanZeroItsArray() {
        byte[] utf8 = "secret".getBytes(StandardCharsets.UTF_8);
        try (Passphrase passphrase = Passphrase.fromBytes(utf8)) {
            Arrays.fill(utf8, (byte) 0);

            assertThat(passphrase.segment().toArray(JAVA_BYTE))
                    .isEqualTo("secret".getBytes(StandardCharsets.UTF_8));
        }
    }

    @Test
    void closeZeroesTheBytesAndLaterUseFails() {
        Passphrase passphrase = Passphrase.fromChars("correct horse battery staple".toCharArray());
        MemorySegment pages = passphrase.pagesForInspection();
        assertThat(pages.asSlice(0, 7).toArray(JAVA_BYTE))
                .isEqualTo("correct".getBytes(StandardCharsets.US_ASCII));

        passphrase.close();
        passphrase.close();

        assertThat(pages.toArray(JAVA_BYTE)).containsOnly(0);
        assertThatThrownBy(passphrase::segment).isInstanceOf(IllegalStateException.class);
        assertThat(passphrase.toString()).isEqualTo("Passphrase[closed]");
    }

    @Test
    void toStringHidesThePassphrase() {
        try (Passphrase passphrase = Passphrase.fromChars("hunter2".toCharArray())) {
            assertThat(passphrase.toString()).doesNotContain("hunter2").isEqualTo("Passphrase[hidden]");
        }
    }
}
