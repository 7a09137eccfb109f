package dev.sqlitesuperfs.crypto;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Sealed names: deterministic per directory and name, padded, bound to their directory, one form each. */
class SealedNamesTest {

    private final UUID namespace = UUID.randomUUID();
    private final SecretKey key = SecretKey.random();
    private final Sealer sealer = new Sealer(key, namespace, 1, 4096);

    @AfterEach
    void close() {
        sealer.close();
        key.close();
    }

    private static byte[] name(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void aNameSealsToTheSameBytesEveryTimeAndOpensBack() throws Exception {
        byte[] sealed = sealer.sealName(7, name("report.db"));
        assertThat(sealer.sealName(7, name("report.db"))).isEqualTo(sealed);
        assertThat(sealer.openName(7, sealed)).isEqualTo(name("report.db"));
        assertThat(new String(sealed, StandardCharsets.ISO_8859_1)).doesNotContain("report");
    }

    @Test
    void otherNamesOtherDirectoriesAndOtherKeysGiveUnrelatedBytes() {
        byte[] sealed = sealer.sealName(7, name("a"));
        assertThat(sealer.sealName(8, name("a"))).isNotEqualTo(sealed);
        assertThat(sealer.sealName(7, name("b"))).isNotEqualTo(sealed);
        try (SecretKey other = SecretKey.random(); Sealer otherSealer = new Sealer(other, namespace, 1, 4096)) {
            assertThat(otherSealer.sealName(7, name("a"))).isNotEqualTo(sealed);
        }
    }

    @Test
    void lengthsShowOnlyTheirBucket() throws Exception {
        for (int length : new int[] {1, 31, 32, 33, 64, 65, 255}) {
            byte[] sealed = sealer.sealName(1, name("n".repeat(length)));
            int bucket = Math.max(1, (length + Sealer.NAME_BUCKET - 1) / Sealer.NAME_BUCKET);
            assertThat(sealed).as("length %d", length).hasSize(bucket * Sealer.NAME_BUCKET + Sealer.OVERHEAD);
            assertThat(sealer.openName(1, sealed)).hasSize(length);
        }
        assertThat(Sealer.paddedLength(0)).isEqualTo(Sealer.NAME_BUCKET);
        assertThat(Sealer.paddedLength(33)).isEqualTo(2 * Sealer.NAME_BUCKET);
    }

    @Test
    void aNameDoesNotOpenInAnotherDirectoryNorWhenChanged() {
        byte[] sealed = sealer.sealName(7, name("secret"));
        assertThatThrownBy(() -> sealer.openName(8, sealed)).isInstanceOf(IntegrityException.class);
        for (int i = 0; i < sealed.length; i++) {
            byte[] changed = sealed.clone();
            changed[i] ^= 1;
            assertThatThrownBy(() -> sealer.openName(7, changed)).as("byte %d flipped", i)
                    .isInstanceOf(IntegrityException.class);
        }
        assertThatThrownBy(() -> sealer.openName(7, java.util.Arrays.copyOf(sealed, sealed.length - 1)))
                .isInstanceOf(IntegrityException.class).hasMessageContaining("malformed");
    }

    @Test
    void anAttributeNameAndAnEntryNameOfOneInodeNumberAreUnrelatedAndDoNotOpenAsEachOther() throws Exception {
        byte[] entry = sealer.sealName(7, name("user.tag"));
        byte[] attribute = sealer.sealXattrName(7, name("user.tag"));
        assertThat(attribute).isNotEqualTo(entry).hasSameSizeAs(entry);
        assertThat(sealer.openXattrName(7, attribute)).isEqualTo(name("user.tag"));
        assertThatThrownBy(() -> sealer.openName(7, attribute)).isInstanceOf(IntegrityException.class);
        assertThatThrownBy(() -> sealer.openXattrName(7, entry)).isInstanceOf(IntegrityException.class);
    }

    /**
     * A sealing of the name under the right key and place, but with a nonce of its own choosing (as
     * a careless writer could make): it authenticates, yet is not the one form, so that nobody can
     * store one name twice in a directory under two spellings.
     */
    @Test
    void aSecondValidSealingOfTheSameNameIsRefused() {
        byte[] padded = java.util.Arrays.copyOf(name("twin"), Sealer.NAME_BUCKET);
        byte[] sealed = new byte[padded.length + Sealer.OVERHEAD];
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ad = arena.allocate(AssociatedData.SYMLINK_BYTES);
            AssociatedData.writePrefix(ad, AssociatedData.Kind.NAME, namespace, 1);
            int adLength = AssociatedData.writeNamePosition(ad, 7);
            MemorySegment nonce = arena.allocate(Sodium.NONCE_BYTES);
            Sodium.randomBytes(nonce);
            MemorySegment plain = arena.allocateFrom(ValueLayout.JAVA_BYTE, padded);
            MemorySegment out = arena.allocate(padded.length + Sodium.TAG_BYTES);
            Sodium.aeadEncrypt(out, plain, padded.length, ad, adLength, nonce, key.segment());
            MemorySegment.copy(nonce, ValueLayout.JAVA_BYTE, 0, sealed, 0, Sodium.NONCE_BYTES);
            MemorySegment.copy(out, ValueLayout.JAVA_BYTE, 0, sealed, Sodium.NONCE_BYTES, (int) out.byteSize());
        }
        assertThatThrownBy(() -> sealer.openName(7, sealed)).isInstanceOf(IntegrityException.class)
                .hasMessageContaining("one sealed form");
    }
}
