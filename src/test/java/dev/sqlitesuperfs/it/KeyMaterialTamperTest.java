package dev.sqlitesuperfs.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.sqlitesuperfs.cli.ExitCode;
import dev.sqlitesuperfs.store.PgNamespaceStore;
import dev.sqlitesuperfs.testing.Shell;
import dev.sqlitesuperfs.testing.TestMount;
import dev.sqlitesuperfs.testing.TestPostgres;
import java.io.IOException;
import java.nio.file.Files;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

/**
 * Attacks on the key material in the meta row, by SQL from outside: each must refuse the mount
 * before anything is mounted, saying the key material is damaged (exit code 10), not that the
 * passphrase is wrong. The two attacks that can only look like a wrong passphrase are shown too,
 * as documented in SECURITY.md.
 */
class KeyMaterialTamperTest {

    /**
     * SQL that recomputes meta_checksum from the row, as anyone can: it has no key. The layout is
     * MetaChecksum's, rebuilt from PostgreSQL's own binary send functions.
     */
    static final String RECOMPUTE_CHECKSUM = "meta_checksum = sha256('sqlitesuperfs/meta-checksum/v1'::bytea"
            + " || int4send(format_version) || uuid_send(namespace_uuid) || int4send(block_size)"
            + " || int4send(octet_length(convert_to(kdf_algorithm, 'UTF8'))) || convert_to(kdf_algorithm, 'UTF8')"
            + " || int8send(kdf_opslimit) || int8send(kdf_memlimit)"
            + " || int4send(octet_length(kdf_salt)) || kdf_salt || int4send(octet_length(wrapped_key)) || wrapped_key"
            + " || CASE WHEN key_check IS NULL THEN int4send(-1) ELSE int4send(octet_length(key_check)) || key_check END)";

    static Stream<Arguments> damage() {
        return Stream.of(
                Arguments.of("a bit of the salt", "kdf_salt = set_byte(kdf_salt, 3, get_byte(kdf_salt, 3) # 16)",
                        "checksum does not match"),
                Arguments.of("the salt shortened", "kdf_salt = substring(kdf_salt from 2)", "checksum does not match"),
                Arguments.of("the time cost", "kdf_opslimit = kdf_opslimit + 1", "checksum does not match"),
                Arguments.of("the memory cost", "kdf_memlimit = kdf_memlimit * 2", "checksum does not match"),
                Arguments.of("the algorithm", "kdf_algorithm = 'argon2i13'", "checksum does not match"),
                Arguments.of("a bit of the wrapped key",
                        "wrapped_key = set_byte(wrapped_key, 40, get_byte(wrapped_key, 40) # 1)", "checksum does not match"),
                Arguments.of("the wrapped key truncated", "wrapped_key = substring(wrapped_key for 71)",
                        "checksum does not match"),
                Arguments.of("the wrapped key emptied", "wrapped_key = ''::bytea", "checksum does not match"),
                Arguments.of("a bit of the key check",
                        "key_check = set_byte(key_check, 30, get_byte(key_check, 30) # 128)", "checksum does not match"),
                Arguments.of("a bit of the checksum",
                        "meta_checksum = set_byte(meta_checksum, 0, get_byte(meta_checksum, 0) # 1)",
                        "checksum does not match"),
                Arguments.of("the checksum removed, the key check kept", "meta_checksum = NULL", "checksum does not match"),
                Arguments.of("the namespace UUID", "namespace_uuid = gen_random_uuid()", "checksum does not match"),
                Arguments.of("the block size", "block_size = 8192", "checksum does not match"),
                Arguments.of("the format version lowered to 1", "format_version = 1", "columns of format 2"),
                Arguments.of("the format version set to 0", "format_version = 0", "columns of format 2"),
                Arguments.of("the format version raised to 99", "format_version = 99", "checksum does not match"),
                // The checksum has no key: an attacker can recompute it. Then the key check or the
                // wrapped key's associated data still tells damage from a wrong passphrase.
                Arguments.of("a bit of the wrapped key, checksum recomputed",
                        "wrapped_key = set_byte(wrapped_key, 30, get_byte(wrapped_key, 30) # 2); " + RECOMPUTE_CHECKSUM,
                        "wrapped data key does not open, although the passphrase is right"),
                Arguments.of("the key check replaced, checksum recomputed",
                        "key_check = set_byte(key_check, 0, get_byte(key_check, 0) # 1); " + RECOMPUTE_CHECKSUM,
                        "key check does not match"),
                Arguments.of("the namespace UUID, checksum recomputed",
                        "namespace_uuid = gen_random_uuid(); " + RECOMPUTE_CHECKSUM,
                        "wrapped data key does not open, although the passphrase is right"),
                Arguments.of("the block size, checksum recomputed", "block_size = 16384; " + RECOMPUTE_CHECKSUM,
                        "wrapped data key does not open, although the passphrase is right"),
                Arguments.of("a memory cost of 64 GiB, checksum recomputed",
                        "kdf_memlimit = 68719476736; " + RECOMPUTE_CHECKSUM, "more than the 4096 MiB"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("damage")
    void damagedKeyMaterialRefusesTheMountAsDamage(String what, String assignment, String detail) throws IOException {
        try (TestMount mount = TestMount.fresh()) {
            Files.writeString(mount.path("kept"), "still here afterwards");
            mount.unmount();
            byte[][] before = keyMaterial(mount.namespace());
            tamper(mount.namespace(), assignment);

            Refusal refused = refusal(mount);
            assertThat(refused.exitCode()).as(refused.getMessage()).isEqualTo(ExitCode.DAMAGED);
            assertThat(refused.getMessage()).contains("key material of namespace " + mount.namespace() + " is damaged",
                    detail).doesNotContain("wrong passphrase");
            assertNotMounted(mount);

            restore(mount.namespace(), before);
            mount.mountAgain();
            assertThat(Files.readString(mount.path("kept"))).isEqualTo("still here afterwards");
        }
    }

    /**
     * Nothing derived from the passphrase tells a changed salt or cost from a wrong passphrase, and
     * the checksum is no obstacle to someone who recomputes it: then it looks like a wrong
     * passphrase. Still refused, still before anything is mounted; nothing opens.
     */
    @Test
    void aSaltChangedWithTheChecksumRecomputedCanOnlyLookLikeAWrongPassphrase() {
        try (TestMount mount = TestMount.fresh()) {
            mount.unmount();
            tamper(mount.namespace(), "kdf_salt = set_byte(kdf_salt, 0, get_byte(kdf_salt, 0) # 1); " + RECOMPUTE_CHECKSUM);
            Refusal refused = refusal(mount);
            assertThat(refused.exitCode()).isEqualTo(ExitCode.PASSPHRASE);
            assertThat(refused.getMessage()).isEqualTo("wrong passphrase for namespace " + mount.namespace());
            assertNotMounted(mount);
        }
    }

    /**
     * Removing both the key check and the checksum makes the namespace look like one from before
     * format 2: damage then reads as "wrong passphrase (...no key check yet...)". Still refused.
     */
    @Test
    void removingTheKeyCheckAndChecksumFallsBackToTheAmbiguousAnswer() {
        try (TestMount mount = TestMount.fresh()) {
            mount.unmount();
            tamper(mount.namespace(), "key_check = NULL, meta_checksum = NULL,"
                    + " wrapped_key = set_byte(wrapped_key, 50, get_byte(wrapped_key, 50) # 1)");
            Refusal refused = refusal(mount);
            assertThat(refused.exitCode()).isEqualTo(ExitCode.PASSPHRASE);
            assertThat(refused.getMessage()).contains("wrong passphrase", "no key check yet");
            assertNotMounted(mount);
        }
    }

    /**
     * The whole key material of another namespace that has the same passphrase (salt, costs,
     * wrapped key, key check, checksum recomputed): the key check opens, the wrapped key is bound
     * to the other namespace's UUID and does not.
     */
    @Test
    void keyMaterialCopiedFromANamespaceWithTheSamePassphraseIsDamage() {
        try (TestMount victim = TestMount.fresh(); TestMount donor = TestMount.fresh()) {
            victim.unmount();
            donor.unmount();
            tamper(victim.namespace(), "(kdf_algorithm, kdf_opslimit, kdf_memlimit, kdf_salt, wrapped_key, key_check) = "
                    + "(SELECT kdf_algorithm, kdf_opslimit, kdf_memlimit, kdf_salt, wrapped_key, key_check FROM \""
                    + donor.namespace() + "\".meta)");
            tamper(victim.namespace(), RECOMPUTE_CHECKSUM);
            Refusal refused = refusal(victim);
            assertThat(refused.exitCode()).isEqualTo(ExitCode.DAMAGED);
            assertThat(refused.getMessage()).contains("wrapped data key does not open");
            assertNotMounted(victim);
        }
    }

    /**
     * A namespace of format 1 (no key check, no checksum, no authenticators): the first writable
     * attempt to mount stores a key check, so that from then on damage is reported as damage, but
     * refuses to mount until `sqlitesuperfs upgrade` has authenticated its metadata; after that its
     * old blocks still open (sealing did not change with the format).
     */
    @Test
    void aFormatOneNamespaceGetsItsKeyCheckAndIsMountedOnlyOnceUpgraded() throws IOException {
        try (TestMount mount = TestMount.fresh()) {
            Files.write(mount.path("old-data"), new byte[20_000]);
            mount.unmount();
            mount.downgradeToFormatOne();

            // the passphrase proves the key material genuine, so the key check is stored; but the
            // metadata is not authenticated yet, which only an explicit upgrade does
            Refusal refused = refusal(mount);
            assertThat(refused.exitCode()).isEqualTo(ExitCode.NAMESPACE);
            assertThat(refused.getMessage()).contains("sqlitesuperfs upgrade " + mount.namespace());
            assertThat(TestPostgres.<Integer>query("SELECT format_version FROM \"" + mount.namespace() + "\".meta"))
                    .isEqualTo(2);
            assertThat(TestPostgres.<byte[]>query("SELECT key_check FROM \"" + mount.namespace() + "\".meta")).hasSize(40);

            assertThat(mount.upgrade()).isTrue();
            assertThat(mount.upgrade()).as("a second upgrade has nothing to do").isFalse();
            mount.mountAgain();
            assertThat(Files.readAllBytes(mount.path("old-data"))).hasSize(20_000).containsOnly(0);
            mount.unmount();
            assertThat(TestPostgres.<Integer>query("SELECT format_version FROM \"" + mount.namespace() + "\".meta"))
                    .isEqualTo(PgNamespaceStore.FORMAT_VERSION);
            assertThat(TestPostgres.<byte[]>query("SELECT meta_checksum FROM \"" + mount.namespace() + "\".meta"))
                    .hasSize(32);

            tamper(mount.namespace(), "wrapped_key = set_byte(wrapped_key, 1, get_byte(wrapped_key, 1) # 1)");
            assertThat(refusal(mount).exitCode()).isEqualTo(ExitCode.DAMAGED);
        }
    }

    /**
     * Runs one UPDATE per {@code ;}-separated assignment: the checksum must be recomputed from the
     * row as changed, and an UPDATE's expressions see the row as it was.
     */
    static void tamper(String namespace, String assignments) {
        for (String assignment : assignments.split(";")) {
            assertThat(TestPostgres.execute("UPDATE \"" + namespace + "\".meta SET " + assignment)).isEqualTo(1);
        }
    }

    /** What the command line would have said: its exit code and its one line. */
    record Refusal(ExitCode exitCode, String getMessage) {}

    private static Refusal refusal(TestMount mount) {
        RuntimeException refused = catchThrowableOfType(RuntimeException.class, mount::mountAgain);
        assertThat(refused).as("the mount was refused").isNotNull();
        return new Refusal(ExitCode.of(refused), refused.getMessage());
    }

    private static void assertNotMounted(TestMount mount) {
        assertThat(Shell.run("cat", "/proc/self/mountinfo")).doesNotContain(" " + mount.root() + " ");
    }

    private static final String KEY_COLUMNS = "format_version::text::bytea, namespace_uuid::text::bytea,"
            + " block_size::text::bytea, kdf_algorithm::bytea, kdf_opslimit::text::bytea, kdf_memlimit::text::bytea,"
            + " kdf_salt, wrapped_key, key_check, meta_checksum";

    private static byte[][] keyMaterial(String namespace) {
        byte[][] columns = new byte[10][];
        for (int i = 0; i < columns.length; i++) {
            columns[i] = TestPostgres.query("SELECT (ARRAY[" + KEY_COLUMNS + "])[" + (i + 1) + "] FROM \"" + namespace
                    + "\".meta");
        }
        return columns;
    }

    private static void restore(String namespace, byte[][] columns) {
        TestPostgres.execute("UPDATE \"" + namespace + "\".meta SET format_version = convert_from(?, 'UTF8')::integer,"
                + " namespace_uuid = convert_from(?, 'UTF8')::uuid, block_size = convert_from(?, 'UTF8')::integer,"
                + " kdf_algorithm = convert_from(?, 'UTF8'), kdf_opslimit = convert_from(?, 'UTF8')::bigint,"
                + " kdf_memlimit = convert_from(?, 'UTF8')::bigint, kdf_salt = ?, wrapped_key = ?, key_check = ?,"
                + " meta_checksum = ?", (Object[]) columns);
    }
}
