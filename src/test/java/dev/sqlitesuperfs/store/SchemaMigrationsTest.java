package dev.sqlitesuperfs.store;

import static dev.sqlitesuperfs.store.StoreFixtures.dir;
import static dev.sqlitesuperfs.store.StoreFixtures.file;
import static dev.sqlitesuperfs.store.StoreFixtures.meta;
import static dev.sqlitesuperfs.store.StoreFixtures.name;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sqlitesuperfs.testing.TestPostgres;
import java.util.List;
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

    /** Format 1 had neither key check nor checksum; opening it writably adds both columns, empty. */
    @Test
    void aFormatOneNamespaceGetsTheKeyCheckColumns() {
        NamespaceName ns = formatOneNamespaceWithAFile();
        TestPostgres.execute("ALTER TABLE " + ns.quoted() + ".meta DROP COLUMN key_check, DROP COLUMN meta_checksum");
        TestPostgres.execute("UPDATE " + ns.quoted() + ".meta SET format_version = 1");
        try (PgNamespaceStore store = PgNamespaceStore.open(TestPostgres.config(), ns, false)) {
            NamespaceMeta meta = store.meta().orElseThrow();
            assertThat(meta.formatVersion()).isEqualTo(LATEST);
            assertThat(meta.keyCheck()).isNull();
            assertThat(store.entries(1)).hasSize(1);
        }
        assertThat(TestPostgres.<byte[]>query("SELECT meta_checksum FROM " + ns.quoted() + ".meta")).isNull();
    }

    @Test
    void stepsMustBeNumberedInOrder() {
        assertThatThrownBy(() -> new SchemaMigrations(List.of(ADD_FLAGS)))
                .isInstanceOf(IllegalArgumentException.class);
    }

    private static NamespaceName formatOneNamespaceWithAFile() {
        try (PgNamespaceStore store = StoreFixtures.createdStore()) {
            store.commit(new ChangeSet().putInode(file(2, 1, 0)).putEntry(1, name("f"), 2));
            return store.namespace();
        }
    }
}
