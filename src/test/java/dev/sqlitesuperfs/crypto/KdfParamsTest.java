package dev.sqlitesuperfs.crypto;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.HexFormat;

import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.Test;

class KdfParamsTest {

    private static final long MIB = 1L << 20;

    @Test
    void generateUsesLibsodiumsPresetsAndAFreshSalt() {
        KdfParams first = KdfParams.generate(KdfStrength.INTERACTIVE);
        KdfParams second = KdfParams.generate(KdfStrength.INTERACTIVE);

        assertThat(first.algorithm()).isEqualTo("argon2id13");
        assertThat(first.opsLimit()).isEqualTo(2);
        assertThat(first.memLimit()).isEqualTo(64 * MIB);
        assertThat(first.salt()).hasSize(16).isNotEqualTo(second.salt());
        assertThat(first).isNotEqualTo(second);
    }

    @Test
    void strongerPresetsCostMore() {
        KdfParams interactive = KdfParams.generate(KdfStrength.INTERACTIVE);
        KdfParams moderate = KdfParams.generate(KdfStrength.MODERATE);
        KdfParams sensitive = KdfParams.generate(KdfStrength.SENSITIVE);

        assertThat(moderate.opsLimit()).isGreaterThan(interactive.opsLimit());
        assertThat(moderate.memLimit()).isEqualTo(256 * MIB);
        assertThat(sensitive.opsLimit()).isGreaterThan(moderate.opsLimit());
        assertThat(sensitive.memLimit()).isEqualTo(1024 * MIB);
    }

    @Test
    void damagedParametersAreRejected() {
        byte[] salt = new byte[16];
        Sodium.Argon2id limits = Sodium.argon2id();

        assertDamaged(() -> new KdfParams("argon2i13", 2, 64 * MIB, salt));
        assertDamaged(() -> new KdfParams("", 2, 64 * MIB, salt));
        assertDamaged(() -> new KdfParams("argon2id13", 2, 64 * MIB, new byte[15]));
        assertDamaged(() -> new KdfParams("argon2id13", 2, 64 * MIB, new byte[17]));
        assertDamaged(() -> new KdfParams("argon2id13", 2, 64 * MIB, new byte[0]));
        assertDamaged(() -> new KdfParams("argon2id13", 0, 64 * MIB, salt));
        assertDamaged(() -> new KdfParams("argon2id13", -1, 64 * MIB, salt));
        assertDamaged(() -> new KdfParams("argon2id13", limits.opsLimitMax() + 1, 64 * MIB, salt));
        assertDamaged(() -> new KdfParams("argon2id13", 2, limits.memLimitMin() - 1, salt));
        assertDamaged(() -> new KdfParams("argon2id13", 2, limits.memLimitMax() + 1, salt));
        assertDamaged(() -> new KdfParams("argon2id13", 2, -1, salt));
        assertThatThrownBy(() -> new KdfParams(null, 2, 64 * MIB, salt)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> new KdfParams("argon2id13", 2, 64 * MIB, null))
                .isInstanceOf(NullPointerException.class);
    }

    @Test
    void theBoundsThemselvesAreAccepted() {
        Sodium.Argon2id limits = Sodium.argon2id();
        byte[] salt = new byte[16];

        new KdfParams("argon2id13", limits.opsLimitMin(), limits.memLimitMin(), salt);
        new KdfParams("argon2id13", limits.opsLimitMax(), limits.memLimitMax(), salt);
    }

    @Test
    void theSaltIsCopiedInAndOut() {
        byte[] salt = new byte[16];
        salt[0] = 1;
        KdfParams params = new KdfParams("argon2id13", 2, 64 * MIB, salt);

        salt[0] = 2;
        params.salt()[0] = 3;

        assertThat(params.salt()[0]).isEqualTo((byte) 1);
    }

    @Test
    void equalityIsByValue() {
        byte[] salt = Sodium.randomBytes(16);
        KdfParams params = new KdfParams("argon2id13", 2, 64 * MIB, salt);
        KdfParams same = new KdfParams("argon2id13", 2, 64 * MIB, salt.clone());

        assertThat(params).isEqualTo(same).hasSameHashCodeAs(same);
        assertThat(params).isNotEqualTo(new KdfParams("argon2id13", 3, 64 * MIB, salt));
        assertThat(params.toString()).contains("argon2id13", "opsLimit=2", HexFormat.of().formatHex(salt));
    }

    private static void assertDamaged(ThrowingCallable construction) {
        assertThatThrownBy(construction)
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("damaged");
    }
}
