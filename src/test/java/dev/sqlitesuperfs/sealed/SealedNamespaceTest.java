package dev.sqlitesuperfs.sealed;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sqlitesuperfs.crypto.KdfStrength;
import dev.sqlitesuperfs.crypto.Passphrase;
import dev.sqlitesuperfs.sealed.SealedNamespace.Access;
import dev.sqlitesuperfs.store.FormatThree;
import dev.sqlitesuperfs.store.NamespaceName;
import dev.sqlitesuperfs.store.NamespaceStore;
import dev.sqlitesuperfs.store.PgNamespaceStore;
import dev.sqlitesuperfs.testing.TestPostgres;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The entry point of the sealed layer on a real PostgreSQL, without a mount: when the passphrase
 * is asked for, what each refusal is and what it leaves behind, and that closing zeroes the key.
 * (What the command line makes of these, messages and exit codes, is CommandLineTest's,
 * KeyMaterialTamperTest's and FormatUpgradeTest's.)
 */
class SealedNamespaceTest {
    private static final String PASSPHRASE = "the right one";
    private static final int BLOCK_SIZE = 4096;
    /** A prompt for tests where the passphrase must not be needed. */
    private static final SealedNamespace.PassphrasePrompt NEVER = chosenNow -> {
        throw new AssertionError("the passphrase was asked for");
    };

    private final String namespace = TestPostgres.freshNamespace();
    private final String meta = "\"" + namespace + "\".meta";

    /** Gives one passphrase, and remembers each time it was asked for (and whether as a new one). */
    private static final class Prompt implements SealedNamespace.PassphrasePrompt {
        final String passphrase;
        final List<Boolean> asked = new ArrayList<>();

        Prompt(String passphrase) {
            this.passphrase = passphrase;
        }

        @Override
        public Passphrase obtain(boolean chosenNow) {
            asked.add(chosenNow);
            return Passphrase.fromChars(passphrase.toCharArray());
        }
    }

    @BeforeEach
    void createNamespace() {
        Prompt prompt = new Prompt(PASSPHRASE);
        try (NamespaceStore store = store(false);
                SealedNamespace created = SealedNamespace.openOrCreate(store, namespace, 0,
                        new SealedNamespace.NewNamespace(BLOCK_SIZE, KdfStrength.INTERACTIVE, 0, 0, 0), prompt)) {
            assertThat(created.store().inode(1)).isPresent();
        }
        assertThat(prompt.asked).as("a new namespace's passphrase is one being chosen").containsExactly(true);
    }

    @Test
    void aWrongPassphraseIsRefusedAsSuchAndChangesNothing() {
        // as a namespace from before key checks: a right passphrase would get one stored
        TestPostgres.execute("UPDATE " + meta + " SET key_check = NULL, meta_checksum = NULL");
        String before = metaRow();

        Prompt wrong = new Prompt("not the one");
        try (NamespaceStore store = store(false)) {
            assertThatThrownBy(() -> SealedNamespace.open(store, namespace, Access.WRITABLE, 0, wrong))
                    .isInstanceOf(SealedNamespaceException.WrongPassphrase.class)
                    .hasMessageStartingWith("wrong passphrase").hasMessageEndingWith(" for namespace " + namespace);
        }
        assertThat(wrong.asked).containsExactly(false);
        assertThat(metaRow()).as("the meta row, key check still absent").isEqualTo(before);

        try (NamespaceStore store = store(true);
                SealedNamespace opened = SealedNamespace.open(store, namespace, Access.READ_ONLY, 0,
                        new Prompt(PASSPHRASE))) {
            assertThat(opened.store().inode(1)).isPresent();
        }
        assertThat(metaRow()).as("a read-only opening stores no key check").isEqualTo(before);

        try (NamespaceStore store = store(false);
                SealedNamespace opened = SealedNamespace.open(store, namespace, Access.WRITABLE, 0,
                        new Prompt(PASSPHRASE))) {
            assertThat(opened.store().inode(1)).isPresent();
        }
        assertThat(TestPostgres.<byte[]>query("SELECT key_check FROM " + meta)).as("stored by a writable opening")
                .hasSize(40);
    }

    @Test
    void whatIsWrongWithoutTheKeyIsRefusedBeforeThePassphraseIsAskedFor() {
        try (NamespaceStore store = store(false)) {
            assertThatThrownBy(() -> SealedNamespace.open(store, namespace, Access.WRITABLE, 2 * BLOCK_SIZE, NEVER))
                    .isInstanceOf(SealedNamespaceException.Mismatch.class)
                    .hasMessage("namespace " + namespace + " has block size 4096; --block-size 8192 does not match");
        }
        String missing = TestPostgres.freshNamespace();
        try (NamespaceStore store = PgNamespaceStore.open(TestPostgres.config(), NamespaceName.parse(missing), true)) {
            assertThatThrownBy(() -> SealedNamespace.open(store, missing, Access.READ_ONLY, 0, NEVER))
                    .isInstanceOf(SealedNamespaceException.Mismatch.class)
                    .hasMessage("namespace " + missing + " does not exist; a read-only mount cannot create it");
            assertThatThrownBy(() -> SealedNamespace.audit(store, missing, NEVER))
                    .isInstanceOf(SealedNamespaceException.Mismatch.class)
                    .hasMessage("namespace " + missing + " does not exist");
        }
        // key derivation parameters no namespace is made with (the checksum removed with the key
        // check, so that the store lets them through as a namespace from before format 2)
        TestPostgres.execute("UPDATE " + meta + " SET key_check = NULL, meta_checksum = NULL,"
                + " kdf_memlimit = 68719476736");
        try (NamespaceStore store = store(false)) {
            assertThatThrownBy(() -> SealedNamespace.open(store, namespace, Access.WRITABLE, 0, NEVER))
                    .isInstanceOf(SealedNamespaceException.DamagedKeyMaterial.class)
                    .hasMessageContaining("key material of namespace " + namespace + " is damaged",
                            "more than the 4096 MiB");
        }
    }

    @Test
    void formatThreeIsUpgradedByAWritableOpeningOnlyAndRefusedByAReadOnlyOne() {
        try (NamespaceStore store = store(true); TestKeys keys = TestKeys.open(store, PASSPHRASE, namespace)) {
            FormatThree.downgrade(namespace, keys.sealer());
        }
        try (NamespaceStore store = store(true)) {
            assertThatThrownBy(() -> SealedNamespace.open(store, namespace, Access.READ_ONLY, 0, new Prompt(PASSPHRASE)))
                    .isInstanceOf(SealedNamespaceException.Mismatch.class)
                    .hasMessageContaining("has format 3, which a read-only mount cannot upgrade");
        }
        assertThat(format()).isEqualTo(3);

        try (NamespaceStore store = store(false);
                SealedNamespace opened = SealedNamespace.open(store, namespace, Access.WRITABLE, 0,
                        new Prompt(PASSPHRASE))) {
            assertThat(opened.store().entries(1).entries()).isEmpty();
        }
        assertThat(format()).isEqualTo(PgNamespaceStore.FORMAT_VERSION);
    }

    /** Blocks of a file that spans three groups of blocks: its first, and groups 1 and 2. */
    private static final long[] LARGE_FILE_BLOCKS = {0, 1, 1500, 2900};

    /** Makes file 'large' (its blocks: version 0 of each) and rewrites block 1500 (version 1); returns its inode. */
    private long largeFile() {
        try (NamespaceStore store = store(false);
                SealedNamespace opened = SealedNamespace.open(store, namespace, Access.WRITABLE, 0, new Prompt(PASSPHRASE))) {
            SealedStore sealed = opened.store();
            long ino = sealed.allocateInodes().first();
            long t = 1_000_000_000L;
            var row = new dev.sqlitesuperfs.store.InodeRecord(ino, SealedTree.FILE, 0, 0, 1, 2901L * BLOCK_SIZE, 0, 0,
                    t, t, t);
            List<PlainBlock> blocks = new ArrayList<>();
            for (long idx : LARGE_FILE_BLOCKS) {
                blocks.add(new PlainBlock(idx, blockData(idx, 0), BLOCK_SIZE));
            }
            var root = sealed.inode(1).orElseThrow();
            sealed.transaction().putInode(row).putBlocks(ino, 0, blocks)
                    .putEntry(1, SealedTree.bytes("large"), ino, 0).putInode(root).commit();
            sealed.transaction().putInode(row).putBlocks(ino, 3000, List.of(new PlainBlock(1500, blockData(1500, 1),
                    BLOCK_SIZE))).commit();
            return ino;
        }
    }

    private static byte[] blockData(long idx, int version) {
        byte[] data = new byte[BLOCK_SIZE];
        new java.util.SplittableRandom(idx * 7 + version).nextBytes(data);
        return data;
    }

    private void assertLargeFileReads(SealedStore sealed, long ino) {
        for (long idx : LARGE_FILE_BLOCKS) {
            List<byte[]> read = new ArrayList<>();
            sealed.readBlocks(ino, idx, idx + 1, (i, plain) -> read.add(plain));
            assertThat(read).as("block %d", idx).singleElement().isEqualTo(blockData(idx, idx == 1500 ? 1 : 0));
        }
    }

    @Test
    void formatSixGivesLargeFilesGroupDigestsWhenAWritableOpeningUpgradesIt() {
        long ino = largeFile();
        try (NamespaceStore store = store(true); TestKeys keys = TestKeys.open(store, PASSPHRASE, namespace)) {
            dev.sqlitesuperfs.store.FormatSix.downgrade(namespace, keys.sealer());
        }
        assertThat(format()).isEqualTo(6);
        try (NamespaceStore store = store(false);
                SealedNamespace opened = SealedNamespace.open(store, namespace, Access.WRITABLE, 0, new Prompt(PASSPHRASE))) {
            assertLargeFileReads(opened.store(), ino);
        }
        assertThat(format()).isEqualTo(PgNamespaceStore.FORMAT_VERSION);
        assertThat(TestPostgres.queryLong("SELECT count(*) FROM \"" + namespace + "\".block_groups WHERE ino = " + ino))
                .isEqualTo(2);
        try (NamespaceStore store = store(true);
                SealedNamespace opened = SealedNamespace.open(store, namespace, Access.READ_ONLY, 0, new Prompt(PASSPHRASE))) {
            assertLargeFileReads(opened.store(), ino);
            assertThat(SealedNamespace.audit(store, namespace, new Prompt(PASSPHRASE))).isEmpty();
        }
    }

    /** The writer's statements keep block_groups right: a group cut in part, groups cut whole, a file removed. */
    @Test
    void groupDigestRowsFollowTruncationsAndRemovals() {
        long ino = largeFile();
        String groups = "SELECT count(*) FROM \"" + namespace + "\".block_groups WHERE ino = " + ino;
        assertThat(TestPostgres.queryLong(groups)).isEqualTo(2);
        try (NamespaceStore store = store(false);
                SealedNamespace opened = SealedNamespace.open(store, namespace, Access.WRITABLE, 0, new Prompt(PASSPHRASE))) {
            SealedStore sealed = opened.store();
            var row = sealed.inode(ino).orElseThrow();
            sealed.transaction().truncateBlocks(ino, 1501).putInode(SealedTree.withSize(row, 1501L * BLOCK_SIZE)).commit();
            assertThat(TestPostgres.queryLong(groups)).as("group 2 cut whole, group 1 in part").isEqualTo(1);
        }
        try (NamespaceStore store = store(false);
                SealedNamespace opened = SealedNamespace.open(store, namespace, Access.WRITABLE, 0, new Prompt(PASSPHRASE))) {
            SealedStore sealed = opened.store();
            List<byte[]> read = new ArrayList<>();
            sealed.readBlocks(ino, 1500, 1501, (i, plain) -> read.add(plain));
            assertThat(read).singleElement().isEqualTo(blockData(1500, 1));
            var row = sealed.inode(ino).orElseThrow();
            sealed.transaction().truncateBlocks(ino, 1024).putInode(SealedTree.withSize(row, 1024L * BLOCK_SIZE)).commit();
            assertThat(TestPostgres.queryLong(groups)).as("group 1 cut whole at its first block").isZero();
            sealed.transaction().putInode(sealed.inode(ino).orElseThrow()).putBlocks(ino, 1024,
                    List.of(new PlainBlock(5000, blockData(5000, 0), BLOCK_SIZE))).commit();
            assertThat(TestPostgres.queryLong(groups)).isEqualTo(1);
            var root = sealed.inode(1).orElseThrow();
            sealed.transaction().deleteEntry(1, SealedTree.bytes("large"), ino).deleteInode(ino).putInode(root).commit();
            assertThat(TestPostgres.queryLong(groups)).as("removed with its file").isZero();
        }
    }

    @Test
    void aFormatSixFileWithABlockPutBackIsNotUpgradedAndNothingChanges() {
        long ino = largeFile();
        byte[] old = TestPostgres.query("SELECT data FROM \"" + namespace + "\".blocks WHERE ino = " + ino + " AND idx = 1500");
        try (NamespaceStore store = store(false);
                SealedNamespace opened = SealedNamespace.open(store, namespace, Access.WRITABLE, 0, new Prompt(PASSPHRASE))) {
            opened.store().transaction().putInode(opened.store().inode(ino).orElseThrow()).putBlocks(ino, 3000,
                    List.of(new PlainBlock(1500, blockData(1500, 2), BLOCK_SIZE))).commit();
        }
        try (NamespaceStore store = store(true); TestKeys keys = TestKeys.open(store, PASSPHRASE, namespace)) {
            dev.sqlitesuperfs.store.FormatSix.downgrade(namespace, keys.sealer());
        }
        try (var c = TestPostgres.connect();
                var put = c.prepareStatement("UPDATE \"" + namespace + "\".blocks SET data = ? WHERE ino = ? AND idx = 1500")) {
            put.setBytes(1, old);
            put.setLong(2, ino);
            put.executeUpdate();
        } catch (java.sql.SQLException e) {
            throw new IllegalStateException(e);
        }
        String before = metaRow();
        try (NamespaceStore store = store(false)) {
            assertThatThrownBy(() -> SealedNamespace.open(store, namespace, Access.WRITABLE, 0, new Prompt(PASSPHRASE)))
                    .isInstanceOf(TamperedException.class)
                    .hasMessageContaining("cannot be upgraded to the current format")
                    .hasMessageContaining("inode " + ino + ": its blocks are not the ones last stored");
        }
        assertThat(format()).isEqualTo(6);
        assertThat(metaRow()).isEqualTo(before);
    }

    @Test
    void formatsBeforeAuthenticationAreOpenedOnlyAfterTheExplicitUpgrade() {
        // as format 1 left it (TestMount.downgradeToFormatOne); a writable store brings it to 2 unkeyed
        String ns = "\"" + namespace + "\"";
        TestPostgres.execute("ALTER TABLE " + ns + ".meta DROP COLUMN key_check, DROP COLUMN meta_checksum,"
                + " DROP COLUMN commit_seal, DROP COLUMN seal_names");
        TestPostgres.execute("ALTER TABLE " + ns + ".blocks DROP COLUMN tag");
        TestPostgres.execute("DROP TABLE " + ns + ".block_groups");
        TestPostgres.execute("ALTER TABLE " + ns + ".inodes DROP COLUMN auth");
        TestPostgres.execute("ALTER TABLE " + ns + ".dirents DROP COLUMN mac");
        TestPostgres.execute("UPDATE " + meta + " SET format_version = 1");
        try (NamespaceStore store = store(false)) {
            assertThatThrownBy(() -> SealedNamespace.open(store, namespace, Access.WRITABLE, 0, new Prompt(PASSPHRASE)))
                    .isInstanceOf(SealedNamespaceException.Mismatch.class)
                    .hasMessageContaining("run `sqlitesuperfs upgrade " + namespace + "` once");
            assertThat(SealedNamespace.audit(store, namespace, NEVER))
                    .containsExactly("namespace " + namespace + " predates authenticated metadata: nothing to verify"
                            + " until `sqlitesuperfs upgrade " + namespace + "`");
        }
        assertThat(format()).isEqualTo(2);

        try (NamespaceStore store = store(false)) {
            assertThat(SealedNamespace.upgrade(store, namespace, new Prompt(PASSPHRASE))).isEqualTo(2);
        }
        try (NamespaceStore store = store(false)) {
            assertThat(SealedNamespace.upgrade(store, namespace, NEVER)).as("nothing left to do, no key needed")
                    .isZero();
            assertThat(SealedNamespace.audit(store, namespace, new Prompt(PASSPHRASE))).isEmpty();
        }
    }

    @Test
    void aWrongCurrentPassphraseChangesNothingAndTheNewOneIsNeverAskedFor() {
        String before = metaRow();
        try (NamespaceStore store = store(false)) {
            assertThatThrownBy(() -> SealedNamespace.changePassphrase(store, namespace, new Prompt("not the one"),
                    NEVER, null)).isInstanceOf(SealedNamespaceException.WrongPassphrase.class);
        }
        assertThat(metaRow()).isEqualTo(before);

        Prompt next = new Prompt("the next one");
        try (NamespaceStore store = store(false)) {
            SealedNamespace.changePassphrase(store, namespace, new Prompt(PASSPHRASE), next, null);
        }
        assertThat(next.asked).as("asked for as one being chosen").containsExactly(true);
        try (NamespaceStore store = store(true)) {
            assertThatThrownBy(() -> SealedNamespace.open(store, namespace, Access.READ_ONLY, 0, new Prompt(PASSPHRASE)))
                    .isInstanceOf(SealedNamespaceException.WrongPassphrase.class);
            SealedNamespace.open(store, namespace, Access.READ_ONLY, 0, next).close();
        }
    }

    @Test
    void closingZeroesTheDataKey() {
        SealedNamespace opened;
        try (NamespaceStore store = store(true)) {
            opened = SealedNamespace.open(store, namespace, Access.READ_ONLY, 0, new Prompt(PASSPHRASE));
            assertThat(opened.dataKey().isClosed()).isFalse();
            opened.close();
            assertThat(opened.dataKey().isClosed()).isTrue();
            assertThatThrownBy(() -> opened.sealer().sealSymlink(2, new byte[] {1}))
                    .isInstanceOf(IllegalStateException.class);
            opened.close();
        }
    }

    private NamespaceStore store(boolean readOnly) {
        return PgNamespaceStore.open(TestPostgres.config(), NamespaceName.parse(namespace), readOnly);
    }

    /** The whole meta row as text: any change to it shows. */
    private String metaRow() {
        return TestPostgres.query("SELECT m::text FROM " + meta + " m");
    }

    private long format() {
        return TestPostgres.queryLong("SELECT format_version FROM " + meta);
    }
}
