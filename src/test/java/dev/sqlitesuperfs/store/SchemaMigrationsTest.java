package dev.sqlitesuperfs.store;

import static dev.sqlitesuperfs.store.StoreFixtures.dir;
import static dev.sqlitesuperfs.store.StoreFixtures.file;
import static dev.sqlitesuperfs.store.StoreFixtures.meta;
import static dev.sqlitesuperfs.store.StoreFixtures.name;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sqlitesuperfs.testing.TestPostgres;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The upgrade path, exercised with a made-up next format on top of the real ones. */
class SchemaMigrationsTest {

    private static final int LATEST = SchemaMigrations.CURRENT.latestVersion();
    private static final int NEXT = LATEST + 1;

    private static final SchemaMigrations.Step ADD_FLAGS = new SchemaMigrations.Step(NEXT,
            sql -> List.of("ALTER TABLE " + sql.table("inodes") + " ADD COLUMN flags integer NOT NULL DEFAULT 0"));

    private static final SchemaMigrations.Step BROKEN = new SchemaMigrations.Step(NEXT,
            sql -> List.of("ALTER TABLE " + sql.table("inodes") + " ADD COLUMN flags integer", "SELECT 1 / 0"));

    private static SchemaMigrations currentAnd(SchemaMigrations.Step next) {
        List<SchemaMigrations.Step> steps = new java.util.ArrayList<>(SchemaMigrations.CURRENT.steps());
        steps.add(next);
        return new SchemaMigrations(steps);
    }

    @Test
    void anOlderNamespaceIsUpgradedWhenOpened() {
        NamespaceName ns = formatOneNamespaceWithAFile();
        SchemaMigrations two = currentAnd(ADD_FLAGS);
        try (PgNamespaceStore store = PgNamespaceStore.open(TestPostgres.config(), ns, false, two)) {
            // meta() checks the metadata checksum, which the upgrade recomputed for the new version
            assertThat(store.meta().orElseThrow().formatVersion()).isEqualTo(NEXT);
            assertThat(store.entries(1)).hasSize(1);
        }
        assertThat(TestPostgres.<Integer>query("SELECT flags FROM " + ns.quoted() + ".inodes WHERE ino = 2")).isZero();
        // A second open finds nothing left to do.
        PgNamespaceStore.open(TestPostgres.config(), ns, false, two).close();
    }

    @Test
    void aFailingUpgradeChangesNothing() {
        NamespaceName ns = formatOneNamespaceWithAFile();
        SchemaMigrations broken = currentAnd(BROKEN);
        assertThatThrownBy(() -> PgNamespaceStore.open(TestPostgres.config(), ns, false, broken))
                .isInstanceOf(StoreException.class)
                .hasMessageContaining("SQLState 22012");
        assertThat(TestPostgres.<Integer>query("SELECT format_version FROM " + ns.quoted() + ".meta")).isEqualTo(LATEST);
        assertThat(TestPostgres.<Long>query("SELECT count(*) FROM information_schema.columns"
                + " WHERE table_schema = ? AND table_name = 'inodes' AND column_name = 'flags'", ns.value())).isZero();
        // The failed open let the lock go.
        PgNamespaceStore.open(TestPostgres.config(), ns, false).close();
    }

    @Test
    void aReadOnlyOpenDoesNotUpgrade() {
        NamespaceName ns = formatOneNamespaceWithAFile();
        SchemaMigrations two = currentAnd(ADD_FLAGS);
        assertThatThrownBy(() -> PgNamespaceStore.open(TestPostgres.config(), ns, true, two))
                .isInstanceOf(StoreException.UnsupportedFormat.class)
                .hasMessageContaining("open it once without read-only");
    }

    @Test
    void aNewNamespaceGetsEveryStepAndTheLatestVersion() {
        NamespaceName ns = NamespaceName.parse(TestPostgres.freshNamespace());
        SchemaMigrations two = currentAnd(ADD_FLAGS);
        try (PgNamespaceStore store = PgNamespaceStore.open(TestPostgres.config(), ns, false, two)) {
            store.create(meta(), dir(1, 2));
            assertThat(store.meta().orElseThrow().formatVersion()).isEqualTo(NEXT);
        }
        assertThat(TestPostgres.<Integer>query("SELECT flags FROM " + ns.quoted() + ".inodes WHERE ino = 1")).isZero();
    }

    /**
     * Format 1 had neither key check nor checksum; opening it writably adds both columns, empty, and
     * stops before format 3, which needs the key (its authenticators).
     */
    @Test
    void aFormatOneNamespaceGetsTheKeyCheckColumnsAndWaitsForTheKeyedStep() {
        NamespaceName ns = olderNamespaceWithAFile(2);
        TestPostgres.execute("ALTER TABLE " + ns.quoted() + ".meta DROP COLUMN key_check, DROP COLUMN meta_checksum");
        TestPostgres.execute("UPDATE " + ns.quoted() + ".meta SET format_version = 1");
        try (PgNamespaceStore store = PgNamespaceStore.open(TestPostgres.config(), ns, false)) {
            NamespaceMeta meta = store.meta().orElseThrow();
            assertThat(meta.formatVersion()).isEqualTo(2);
            assertThat(meta.keyCheck()).isNull();
            assertThat(store.needsSealingUpgrade()).isTrue();
        }
        assertThat(TestPostgres.<byte[]>query("SELECT meta_checksum FROM " + ns.quoted() + ".meta")).isNull();
    }

    /** The keyed step fills every inode's authenticator and every entry's MAC with what it is given, whole. */
    @Test
    void theKeyedStepStoresWhatTheKeyHolderComputesInOneTransaction() {
        NamespaceName ns = olderNamespaceWithAFile(2);
        try (PgNamespaceStore store = PgNamespaceStore.open(TestPostgres.config(), ns, false)) {
            assertThat(store.needsSealingUpgrade()).isTrue();
            assertThatThrownBy(() -> store.upgradeSealing((inodes, tags, entries, xattrs, commit) -> {
                throw new IllegalStateException("the key holder refuses");
            })).hasMessageContaining("refuses");
            assertThat(store.needsSealingUpgrade()).isTrue();
            store.upgradeSealing((inodes, tags, entries, xattrs, commit) -> {
                assertThat(inodes).extracting(InodeRecord::ino).containsExactlyInAnyOrder(1L, 2L);
                assertThat(entries).hasSize(1);
                Map<Long, byte[]> auth = new HashMap<>();
                for (InodeRecord r : inodes) {
                    auth.put(r.ino(), new byte[] {(byte) r.ino()});
                }
                var e = entries.getFirst();
                return new NamespaceStore.SealingUpgrade.Sealed(auth,
                        List.of(new NamespaceStore.SealingUpgrade.EntryMac(e.parent(), e.name(), new byte[] {42})));
            });
            assertThat(store.needsSealingUpgrade()).isFalse();
            assertThat(store.meta().orElseThrow().formatVersion()).isEqualTo(LATEST);
            assertThat(store.inode(2).orElseThrow().auth()).containsExactly(2);
            assertThat(store.entries(1).getFirst().mac()).containsExactly(42);
        }
    }

    @Test
    void stepsMustBeNumberedInOrder() {
        assertThatThrownBy(() -> new SchemaMigrations(List.of(ADD_FLAGS)))
                .isInstanceOf(IllegalArgumentException.class);
    }

    /**
     * A namespace with one file as format {@code version} (below 3) left it: the format-3 columns
     * dropped again, the version and checksum set back.
     */
    private static NamespaceName olderNamespaceWithAFile(int version) {
        NamespaceName ns = formatOneNamespaceWithAFile();
        TestPostgres.execute("ALTER TABLE " + ns.quoted() + ".blocks DROP COLUMN tag");
        TestPostgres.execute("DROP TABLE " + ns.quoted() + ".block_groups");
        TestPostgres.execute("ALTER TABLE " + ns.quoted() + ".inodes DROP COLUMN auth");
        TestPostgres.execute("ALTER TABLE " + ns.quoted() + ".dirents DROP COLUMN mac");
        TestPostgres.execute("ALTER TABLE " + ns.quoted() + ".meta DROP COLUMN commit_seal, DROP COLUMN seal_names");
        try (var connection = TestPostgres.connect()) {
            connection.setAutoCommit(false);
            try (var update = connection.prepareStatement("UPDATE " + ns.quoted() + ".meta SET format_version = ?")) {
                update.setInt(1, version);
                update.executeUpdate();
            }
            MetaRow.refreshChecksum(connection, ns, new NamespaceSql(ns), version);
            connection.commit();
        } catch (java.sql.SQLException e) {
            throw new IllegalStateException(e);
        }
        return ns;
    }

    private static NamespaceName formatOneNamespaceWithAFile() {
        try (PgNamespaceStore store = StoreFixtures.createdStore()) {
            store.commit(new ChangeSet().putInode(file(2, 1, 0)).putEntry(1, name("f"), 2));
            return store.namespace();
        }
    }
}
