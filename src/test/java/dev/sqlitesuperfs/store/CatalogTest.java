package dev.sqlitesuperfs.store;

import static dev.sqlitesuperfs.store.StoreFixtures.dir;
import static dev.sqlitesuperfs.store.StoreFixtures.meta;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sqlitesuperfs.testing.TestPostgres;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The catalog of namespaces kept in step with the namespaces themselves: made once however many
 * creators race for it, a row per namespace created, its format following an upgrade, rows of
 * vanished schemas forgotten and older namespaces found. Some tests drop the whole catalog (test
 * classes run one at a time, and the next listing finds every namespace again).
 */
class CatalogTest {

    private static NamespaceName fresh() {
        return NamespaceName.parse(TestPostgres.freshNamespace());
    }

    private static void create(NamespaceName name) {
        try (PgNamespaceStore store = PgNamespaceStore.open(TestPostgres.config(), name, false)) {
            store.create(meta().withQuota(1 << 20), dir(1, 2));
        }
    }

    private static Catalog.Entry listed(NamespaceName name) {
        try (Catalog catalog = Catalog.open(TestPostgres.config())) {
            return catalog.list().stream().filter(e -> e.name().equals(name.value())).findFirst().orElse(null);
        }
    }

    private static Instant createdAt(NamespaceName name) {
        return TestPostgres.<Timestamp>query("SELECT created_at FROM " + name.quoted() + ".meta").toInstant();
    }

    private static long rows(NamespaceName name) {
        return TestPostgres.<Long>query("SELECT count(*) FROM sqlitesuperfs.namespaces WHERE name = ?", name.value());
    }

    @Test
    void creatorsRacingOnAServerWithoutCatalogMakeItOnceAndEachGetsItsRow() throws Exception {
        TestPostgres.execute("DROP SCHEMA IF EXISTS sqlitesuperfs CASCADE");
        int creators = 6;
        CyclicBarrier start = new CyclicBarrier(creators);
        List<NamespaceName> names = new ArrayList<>();
        List<Callable<Void>> work = new ArrayList<>();
        for (int i = 0; i < creators; i++) {
            NamespaceName name = fresh();
            names.add(name);
            work.add(() -> {
                try (PgNamespaceStore store = PgNamespaceStore.open(TestPostgres.config(), name, false)) {
                    start.await(30, TimeUnit.SECONDS);
                    store.create(meta(), dir(1, 2));
                }
                return null;
            });
        }
        ExecutorService pool = Executors.newFixedThreadPool(creators);
        try {
            for (Future<Void> done : pool.invokeAll(work)) {
                done.get();
            }
        } finally {
            pool.shutdownNow();
        }
        for (NamespaceName name : names) {
            assertThat(rows(name)).as(name.value()).isEqualTo(1);
        }
    }

    @Test
    void aCreatedNamespaceIsListedWithItsMetaRowsValues() {
        NamespaceName name = fresh();
        create(name);
        Catalog.Entry entry = listed(name);
        assertThat(entry).isNotNull();
        assertThat(entry.formatVersion()).isEqualTo(PgNamespaceStore.FORMAT_VERSION);
        assertThat(entry.blockSize()).isEqualTo(StoreFixtures.BLOCK_SIZE);
        assertThat(entry.quotaBytes()).isEqualTo(1 << 20);
        assertThat(entry.uuid().toString()).isEqualTo(
                TestPostgres.<Object>query("SELECT namespace_uuid FROM " + name.quoted() + ".meta").toString());
        assertThat(entry.createdAt().toInstant()).isEqualTo(createdAt(name));
        assertThat(entry.holder()).isNull();
    }

    @Test
    void theCatalogsFormatFollowsAnUpgrade() {
        NamespaceName name = fresh();
        create(name);
        int next = PgNamespaceStore.FORMAT_VERSION + 1;
        List<SchemaMigrations.Step> steps = new ArrayList<>(SchemaMigrations.CURRENT.steps());
        steps.add(new SchemaMigrations.Step(next,
                sql -> List.of("ALTER TABLE " + sql.table("inodes") + " ADD COLUMN flags integer")));
        PgNamespaceStore.open(TestPostgres.config(), name, false, new SchemaMigrations(steps)).close();
        assertThat(listed(name).formatVersion()).isEqualTo(next);
    }

    @Test
    void rowsOfVanishedSchemasAreForgottenAndNamespacesWithoutARowAreFound() {
        NamespaceName vanished = fresh();
        NamespaceName older = fresh();
        create(vanished);
        create(older);
        TestPostgres.execute("DROP SCHEMA " + vanished.quoted() + " CASCADE");
        TestPostgres.execute("DELETE FROM sqlitesuperfs.namespaces WHERE name = ?", older.value());

        assertThat(listed(vanished)).isNull();
        assertThat(rows(vanished)).isZero();
        Catalog.Entry found = listed(older);
        assertThat(found).isNotNull();
        assertThat(found.quotaBytes()).isEqualTo(1 << 20);
        assertThat(found.createdAt().toInstant()).isEqualTo(createdAt(older));
        assertThat(rows(older)).isEqualTo(1);
    }

    @Test
    void aSchemaThatIsNotANamespaceIsNeitherListedNorDropped() {
        NamespaceName other = fresh();
        TestPostgres.execute("CREATE SCHEMA " + other.quoted());
        TestPostgres.execute("CREATE TABLE " + other.quoted() + ".meta (x integer)");
        try (Catalog catalog = Catalog.open(TestPostgres.config())) {
            assertThat(catalog.list()).noneMatch(e -> e.name().equals(other.value()));
            assertThatThrownBy(() -> catalog.drop(other)).isInstanceOf(StoreException.NotANamespace.class);
            assertThatThrownBy(() -> catalog.drop(fresh())).isInstanceOf(StoreException.NoSuchNamespace.class);
        }
        assertThat(TestPostgres.tables(other.value())).containsExactly("meta");
        TestPostgres.execute("DROP SCHEMA " + other.quoted() + " CASCADE");
    }

    @Test
    void anOlderNamespaceNamedLikeTheCatalogIsRefusedWithTheWayOut() {
        TestPostgres.execute("DROP SCHEMA IF EXISTS sqlitesuperfs CASCADE");
        TestPostgres.execute("CREATE SCHEMA sqlitesuperfs");
        TestPostgres.execute("CREATE TABLE sqlitesuperfs.meta (namespace_uuid uuid)");
        try (Catalog catalog = Catalog.open(TestPostgres.config())) {
            assertThatThrownBy(catalog::list).isInstanceOf(StoreException.NotANamespace.class)
                    .hasMessageContaining("ALTER SCHEMA sqlitesuperfs RENAME TO");
        } finally {
            TestPostgres.execute("DROP SCHEMA sqlitesuperfs CASCADE");
        }
        NamespaceName name = fresh();
        create(name);
        assertThat(rows(name)).isEqualTo(1);
    }

    @Test
    void aRoleThatMayOnlyReadGetsTheListAsTheCatalogHasIt() {
        NamespaceName name = fresh();
        create(name);
        String role = "reader_" + fresh().value();
        TestPostgres.execute("CREATE ROLE " + role + " LOGIN PASSWORD 'reads only'");
        try {
            TestPostgres.execute("GRANT USAGE ON SCHEMA sqlitesuperfs TO " + role);
            TestPostgres.execute("GRANT SELECT ON sqlitesuperfs.namespaces TO " + role);
            DatabaseConfig admin = TestPostgres.config();
            DatabaseConfig.Endpoint at = admin.endpoints().getFirst();
            DatabaseConfig reader = DatabaseConfig.of(at.host(), at.port(), admin.database(), role, "reads only");
            try (Catalog catalog = Catalog.open(reader)) {
                assertThat(catalog.list()).anyMatch(e -> e.name().equals(name.value()));
            }
        } finally {
            TestPostgres.execute("DROP OWNED BY " + role);
            TestPostgres.execute("DROP ROLE " + role);
        }
    }

    @Test
    void aNamespaceCannotBeCalledLikeTheCatalog() {
        assertThatThrownBy(() -> NamespaceName.parse("sqlitesuperfs"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("catalog");
    }
}
