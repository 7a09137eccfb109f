package dev.sqlitesuperfs.store;

import static dev.sqlitesuperfs.store.StoreFixtures.BLOCK_SIZE;
import static dev.sqlitesuperfs.store.StoreFixtures.block;
import static dev.sqlitesuperfs.store.StoreFixtures.blocks;
import static dev.sqlitesuperfs.store.StoreFixtures.createdStore;
import static dev.sqlitesuperfs.store.StoreFixtures.dir;
import static dev.sqlitesuperfs.store.StoreFixtures.file;
import static dev.sqlitesuperfs.store.StoreFixtures.meta;
import static dev.sqlitesuperfs.store.StoreFixtures.name;
import static dev.sqlitesuperfs.store.StoreFixtures.rowCount;
import static dev.sqlitesuperfs.store.StoreFixtures.symlink;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sqlitesuperfs.testing.TestPostgres;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

class PgNamespaceStoreTest {

    @Test
    void createsANamespaceAndReadsItsMetadataBack() {
        NamespaceName ns = NamespaceName.parse(TestPostgres.freshNamespace());
        try (PgNamespaceStore store = PgNamespaceStore.open(TestPostgres.config(), ns, false)) {
            assertThat(store.meta()).isEmpty();
            NamespaceMeta meta = meta();
            store.create(meta, dir(1, 2));
            NamespaceMeta read = store.meta().orElseThrow();
            assertThat(read.formatVersion()).isEqualTo(PgNamespaceStore.FORMAT_VERSION);
            assertThat(read.uuid()).isEqualTo(meta.uuid());
            assertThat(read.blockSize()).isEqualTo(BLOCK_SIZE);
            assertThat(read.kdfAlgorithm()).isEqualTo("argon2id13");
            assertThat(read.kdfOpsLimit()).isEqualTo(3);
            assertThat(read.kdfMemLimit()).isEqualTo(64L << 20);
            assertThat(read.kdfSalt()).containsExactly(1, 2, 3, 4);
            assertThat(read.wrappedKey()).containsExactly(9, 8, 7);
            assertThat(read.quotaBytes()).isZero();
            assertThat(store.inode(1)).contains(dir(1, 2));
            assertThat(store.usage()).isEqualTo(new Usage(1, 0));
            assertThat(store.check()).isEmpty();
            assertThatThrownBy(() -> store.create(meta(), dir(1, 2)))
                    .isInstanceOf(StoreException.class).hasMessageContaining("already exists");
        }
        try (PgNamespaceStore reopened = PgNamespaceStore.open(TestPostgres.config(), ns, true)) {
            assertThat(reopened.meta()).isPresent();
        }
    }

    @Test
    void aSecondOpenOfTheSameNamespaceIsBusyUntilTheFirstCloses() {
        NamespaceName ns = NamespaceName.parse(TestPostgres.freshNamespace());
        PgNamespaceStore first = PgNamespaceStore.open(TestPostgres.config(), ns, false);
        try {
            assertThatThrownBy(() -> PgNamespaceStore.open(TestPostgres.config(), ns, false))
                    .isInstanceOf(StoreException.NamespaceBusy.class)
                    .hasMessage("namespace " + ns + " is already mounted by another process");
            assertThatThrownBy(() -> PgNamespaceStore.open(TestPostgres.config(), ns, true))
                    .isInstanceOf(StoreException.NamespaceBusy.class);
        } finally {
            first.close();
            first.close();
        }
        PgNamespaceStore.open(TestPostgres.config(), ns, false).close();
    }

    /**
     * Deferred changes that PostgreSQL refuses for good (here: an entry naming no inode) cannot be
     * taken back, since whoever deferred them counts them as made: the writer stops rather than
     * store anything after them, and the good changes queued before them are stored.
     */
    @Test
    void deferredChangesRefusedForGoodStopTheWriter() {
        try (PgNamespaceStore store = createdStore()) {
            NamespaceStore.Deferred good = store.defer(new ChangeSet().putInode(file(3, 1, 0)).putEntry(1, name("a"), 3));
            NamespaceStore.Deferred bad = store.defer(new ChangeSet().putEntry(1, name("dangling"), 4242));
            assertThatThrownBy(() -> store.commit(new ChangeSet().putInode(file(5, 1, 0)).putEntry(1, name("b"), 5)))
                    .isInstanceOf(StoreException.Fenced.class);
            assertThat(good.stored()).isCompleted();
            assertThat(bad.stored()).isCompletedExceptionally();
            assertThat(store.entries(1)).extracting(e -> new String(e.name())).containsExactly("a");
            assertThatThrownBy(() -> store.commit(new ChangeSet().putXattr(1, name("user.x"), new byte[1])))
                    .isInstanceOf(StoreException.Fenced.class)
                    .hasMessageContaining("deferred changes could not be stored");
        }
    }

    @Test
    void everyKindOfChangeRoundTrips() {
        try (PgNamespaceStore store = createdStore()) {
            InodeRecord highIds = new InodeRecord(3, StoreFixtures.FILE, -2, 0x80000000, 1, 3L * BLOCK_SIZE, 0,
                    0xFFFFFFFF, Long.MIN_VALUE + 1, -5, Long.MAX_VALUE);
            byte[] oddName = {'a', '"', '\'', 0, ';', (byte) 0xff};
            store.commit(new ChangeSet()
                    .putInode(dir(2, 2))
                    .putEntry(1, name("d"), 2)
                    .putInode(dir(1, 3))
                    .putInode(highIds)
                    .putEntry(2, oddName, 3)
                    .putBlocks(3, 0, blocks(3, 0, 3, 1))
                    .putXattr(3, name("user.a"), name("sealed-a"))
                    .putXattr(3, name("user.b"), name("sealed-b"))
                    .putInode(symlink(4))
                    .putEntry(1, name("l"), 4)
                    .putSymlink(4, name("sealed-target")));

            assertThat(store.inode(3).orElseThrow()).isEqualTo(new InodeRecord(3, StoreFixtures.FILE, -2, 0x80000000, 1,
                    3L * BLOCK_SIZE, 3, 0xFFFFFFFF, Long.MIN_VALUE + 1, -5, Long.MAX_VALUE));
            assertThat(TestPostgres.<Long>query("SELECT uid FROM " + store.namespace().quoted() + ".inodes WHERE ino = 3"))
                    .isEqualTo(0xFFFFFFFEL);
            assertThat(store.inode(99)).isEmpty();
            assertThat(store.inodes(new long[] {1, 2, 3, 99}).stream().map(InodeRecord::ino)).containsExactlyInAnyOrder(1L, 2L, 3L);
            assertThat(store.inodes(new long[0])).isEmpty();
            List<DirEntryRecord> root = store.entries(1);
            assertThat(root).extracting(e -> new String(e.name())).containsExactly("d", "l");
            assertThat(root).extracting(DirEntryRecord::ino).containsExactly(2L, 4L);
            assertThat(root).extracting(DirEntryRecord::mode).containsExactly(StoreFixtures.DIR, StoreFixtures.SYMLINK);
            assertThat(store.entries(2)).singleElement().satisfies(e -> {
                assertThat(e.name()).isEqualTo(oddName);
                assertThat(e.ino()).isEqualTo(3);
                assertThat(e.mode()).isEqualTo(StoreFixtures.FILE);
            });
            assertThat(store.parentEntries(2)).singleElement().satisfies(e -> {
                assertThat(e.parent()).isEqualTo(1);
                assertThat(new String(e.name())).isEqualTo("d");
            });
            assertThat(store.parentEntries(1)).isEmpty();
            assertThat(store.parentEntries(77)).isEmpty();
            assertThat(store.symlinkTarget(4)).hasValueSatisfying(t -> assertThat(t).isEqualTo(name("sealed-target")));
            assertThat(store.symlinkTarget(3)).isEmpty();
            assertThat(store.xattrs(3)).extracting(x -> new String(x.name()) + "=" + new String(x.sealedValue()))
                    .containsExactly("user.a=sealed-a", "user.b=sealed-b");
            assertThat(store.blocks(3, 0, 10)).extracting(b -> new String(b.data()))
                    .containsExactly("block 3/0 v1", "block 3/1 v1", "block 3/2 v1");
            assertThat(store.blocks(3, 1, 2)).extracting(SealedBlock::idx).containsExactly(1L);
            assertThat(store.usage()).isEqualTo(new Usage(4, 3));
            assertThat(store.check()).isEmpty();

            // Replace, rename, delete.
            store.commit(new ChangeSet()
                    .deleteXattr(3, name("user.a"))
                    .putXattr(3, name("user.b"), name("sealed-b2"))
                    .putSymlink(4, name("sealed-target-2"))
                    .putEntry(1, name("l"), 4));
            assertThat(store.xattrs(3)).extracting(x -> new String(x.sealedValue())).containsExactly("sealed-b2");
            assertThat(store.symlinkTarget(4)).hasValueSatisfying(t -> assertThat(t).isEqualTo(name("sealed-target-2")));

            store.commit(new ChangeSet()
                    .deleteEntry(2, oddName)
                    .deleteInode(3)
                    .deleteEntry(1, name("l"))
                    .deleteInode(4));
            assertThat(store.inode(3)).isEmpty();
            assertThat(store.entries(2)).isEmpty();
            assertThat(rowCount(store.namespace(), "blocks", 3)).isZero();
            assertThat(rowCount(store.namespace(), "xattrs", 3)).isZero();
            assertThat(rowCount(store.namespace(), "symlinks", 4)).isZero();
            assertThat(store.usage()).isEqualTo(new Usage(2, 0));
            assertThat(store.check()).isEmpty();
        }
    }

    @Test
    void nblocksFollowsInsertedOverwrittenHoleFilledAndTruncatedBlocks() {
        try (PgNamespaceStore store = createdStore()) {
            NamespaceName ns = store.namespace();
            long ino = 5;
            CommitResult created = store.commit(new ChangeSet()
                    .putInode(file(ino, 1, 4L * BLOCK_SIZE))
                    .putEntry(1, name("f"), ino)
                    .putBlocks(ino, 0, blocks(ino, 0, 4, 1)));
            assertThat(created.nblocks(ino, -1)).isEqualTo(4);
            assertNblocks(store, ino, 4);

            CommitResult overwritten = store.commit(new ChangeSet().putBlocks(ino, 4, blocks(ino, 1, 3, 2)));
            assertThat(overwritten.nblocks()).as("neither the row nor the count changed").doesNotContainKey(ino);
            assertThat(store.blocks(ino, 1, 2)).extracting(b -> new String(b.data())).containsExactly("block 5/1 v2");
            assertNblocks(store, ino, 4);

            // Grow to 12 blocks with holes at 4..9; then fill two holes, overwrite one block and append two.
            store.commit(new ChangeSet().putInode(file(ino, 1, 12L * BLOCK_SIZE)));
            CommitResult mixed = store.commit(new ChangeSet()
                    .putBlocks(ino, 12, List.of(block(ino, 6, 1), block(ino, 2, 3), block(ino, 8, 1)))
                    .putInode(file(ino, 1, 14L * BLOCK_SIZE))
                    .putBlocks(ino, 12, List.of(block(ino, 12, 1), block(ino, 13, 1))));
            assertThat(mixed.nblocks(ino, -1)).isEqualTo(8);
            assertNblocks(store, ino, 8);
            assertThat(store.nextMissingBlock(ino, 0)).isEqualTo(4);
            assertThat(store.nextMissingBlock(ino, 6)).isEqualTo(7);
            assertThat(store.nextMissingBlock(ino, 7)).isEqualTo(7);
            assertThat(store.nextMissingBlock(ino, 12)).isEqualTo(14);
            assertThat(store.nextStoredBlock(ino, 4)).isEqualTo(OptionalLong.of(6));
            assertThat(store.nextStoredBlock(ino, 14)).isEmpty();

            // The same block twice in one change set is one row, the last version.
            CommitResult twice = store.commit(new ChangeSet()
                    .putBlocks(ino, 14, List.of(block(ino, 9, 1)))
                    .putBlocks(ino, 14, List.of(block(ino, 9, 2))));
            assertThat(twice.nblocks(ino, -1)).isEqualTo(9);
            assertThat(store.blocks(ino, 9, 10)).extracting(b -> new String(b.data())).containsExactly("block 5/9 v2");
            assertNblocks(store, ino, 9);

            // Shrink to 7 blocks: 8, 9, 12, 13 go.
            CommitResult truncated = store.commit(new ChangeSet()
                    .truncateBlocks(ino, 7)
                    .putInode(file(ino, 1, 7L * BLOCK_SIZE - 100)));
            assertThat(truncated.nblocks(ino, -1)).isEqualTo(5);
            assertNblocks(store, ino, 5);

            // PutInode never overwrites the stored nblocks.
            store.commit(new ChangeSet().putInode(new InodeRecord(ino, StoreFixtures.FILE, 0, 0, 1,
                    7L * BLOCK_SIZE - 100, 999, 0, 0, 0, 0)));
            assertNblocks(store, ino, 5);
            assertThat(rowCount(ns, "blocks", ino)).isEqualTo(5);
            assertThat(store.usage().blocks()).isEqualTo(5);
        }
    }

    /**
     * A change set is applied as its net effect: rows created and deleted again never reach
     * storage, an entry put and then removed is removed, and a block written after a truncation
     * that covers it survives the truncation.
     */
    @Test
    void aChangeSetTakesEffectAsTheLastChangeToEachRow() {
        try (PgNamespaceStore store = createdStore()) {
            NamespaceName ns = store.namespace();
            store.commit(new ChangeSet().putInode(file(2, 1, 6L * BLOCK_SIZE)).putEntry(1, name("kept"), 2)
                    .putBlocks(2, 0, blocks(2, 0, 6, 1)));
            CommitResult result = store.commit(new ChangeSet()
                    .putInode(file(3, 1, 0)).putEntry(1, name("temp"), 3).putXattr(3, name("user.x"), name("v"))
                    .putBlocks(3, 0, blocks(3, 0, 2, 1))
                    .deleteEntry(1, name("temp")).deleteInode(3)
                    .putEntry(1, name("moved"), 2).deleteEntry(1, name("kept"))
                    .truncateBlocks(2, 2).putBlocks(2, 2, List.of(block(2, 3, 2)))
                    .putInode(file(2, 1, 4L * BLOCK_SIZE)));
            assertThat(store.inode(3)).isEmpty();
            assertThat(rowCount(ns, "blocks", 3)).isZero();
            assertThat(rowCount(ns, "xattrs", 3)).isZero();
            assertThat(store.entries(1)).extracting(e -> new String(e.name())).containsExactly("moved");
            assertThat(store.blocks(2, 0, 10)).extracting(b -> new String(b.data()))
                    .containsExactly("block 2/0 v1", "block 2/1 v1", "block 2/3 v2");
            assertThat(result.nblocks(2, -1)).isEqualTo(3);
            assertNblocks(store, 2, 3);
            assertThat(store.check()).isEmpty();
        }
    }

    private static void assertNblocks(PgNamespaceStore store, long ino, long expected) {
        assertThat(store.inode(ino).orElseThrow().nblocks()).isEqualTo(expected);
        assertThat(rowCount(store.namespace(), "blocks", ino)).isEqualTo(expected);
        assertThat(store.check()).isEmpty();
    }

    @Test
    void nextMissingBlockOfAFileWithoutBlocksIsWhereTheSearchStarts() {
        try (PgNamespaceStore store = createdStore()) {
            assertThat(store.nextMissingBlock(42, 0)).isZero();
            assertThat(store.nextMissingBlock(42, 17)).isEqualTo(17);
            assertThat(store.nextStoredBlock(42, 0)).isEmpty();
        }
    }

    @Test
    void orphansAreInodesWithoutLinks() {
        try (PgNamespaceStore store = createdStore()) {
            store.commit(new ChangeSet().putInode(file(7, 1, 0)).putEntry(1, name("x"), 7)
                    .putInode(file(8, 1, 0)).putEntry(1, name("y"), 8));
            assertThat(store.orphans()).isEmpty();
            store.commit(new ChangeSet().deleteEntry(1, name("x")).putInode(file(7, 0, 0)));
            assertThat(store.orphans()).containsExactly(7);
            assertThat(store.check()).isEmpty();
        }
    }

    @Test
    void allocatedInodeRangesNeverOverlapAcrossThreadsAndReopens() throws Exception {
        NamespaceName ns = NamespaceName.parse(TestPostgres.freshNamespace());
        Set<Long> seen = ConcurrentHashMap.newKeySet();
        try (PgNamespaceStore store = PgNamespaceStore.open(TestPostgres.config(), ns, false)) {
            store.create(meta(), dir(1, 2));
            try (ExecutorService pool = Executors.newFixedThreadPool(8)) {
                List<Future<?>> futures = new java.util.ArrayList<>();
                for (int t = 0; t < 8; t++) {
                    futures.add(pool.submit(() -> {
                        for (int i = 0; i < 25; i++) {
                            addRange(seen, store.allocateInodes());
                        }
                    }));
                }
                for (Future<?> f : futures) {
                    f.get();
                }
            }
        }
        try (PgNamespaceStore store = PgNamespaceStore.open(TestPostgres.config(), ns, false)) {
            for (int i = 0; i < 10; i++) {
                addRange(seen, store.allocateInodes());
            }
        }
        assertThat(seen).hasSize(210 * PgNamespaceStore.INODE_RANGE_SIZE);
        assertThat(seen).allMatch(ino -> ino >= 2);
    }

    private static void addRange(Set<Long> seen, InodeRange range) {
        assertThat(range.count()).isEqualTo(PgNamespaceStore.INODE_RANGE_SIZE);
        for (long ino = range.first(); ino < range.first() + range.count(); ino++) {
            assertThat(seen.add(ino)).as("inode %d handed out twice", ino).isTrue();
        }
    }

    @Test
    void checkFindsPlantedInconsistencies() {
        try (PgNamespaceStore store = createdStore()) {
            String s = store.namespace().quoted();
            store.commit(new ChangeSet()
                    .putInode(dir(2, 2)).putEntry(1, name("d"), 2).putInode(dir(1, 3))
                    .putInode(file(3, 1, 2L * BLOCK_SIZE)).putEntry(2, name("f"), 3)
                    .putBlocks(3, 0, blocks(3, 0, 2, 1))
                    .putInode(file(4, 1, 0)).putEntry(1, name("g"), 4)
                    .putInode(symlink(5)).putEntry(1, name("l"), 5).putSymlink(5, name("t")));
            assertThat(store.check()).isEmpty();

            TestPostgres.execute("UPDATE " + s + ".inodes SET nlink = 2 WHERE ino = 4");
            TestPostgres.execute("INSERT INTO " + s + ".blocks VALUES (3, 5, '\\x00')");
            TestPostgres.execute("UPDATE " + s + ".inodes SET nblocks = 7, nlink = 1 WHERE ino = 3");
            TestPostgres.execute("INSERT INTO " + s + ".inodes VALUES (20, 33188, 0, 0, 1, 0, 0, 0, 0, 0, 0)");
            TestPostgres.execute("INSERT INTO " + s + ".inodes VALUES (22, 33188, 0, 0, 1, 0, 0, 0, 0, 0, 0)");
            TestPostgres.execute("DELETE FROM " + s + ".symlinks WHERE ino = 5");
            TestPostgres.execute("INSERT INTO " + s + ".inodes VALUES (21, 16877, 0, 0, 2, 0, 0, 0, 0, 0, 0)");
            TestPostgres.execute("INSERT INTO " + s + ".dirents VALUES (1, 'a', 21), (2, 'b', 21)");
            TestPostgres.execute("INSERT INTO " + s + ".dirents VALUES (4, 'inside-a-file', 20)");
            TestPostgres.execute("INSERT INTO " + s + ".blocks VALUES (999, 0, '\\x00')");
            TestPostgres.execute("INSERT INTO " + s + ".symlinks VALUES (4, '\\x00')");
            try (var connection = TestPostgres.connect(); var statement = connection.createStatement()) {
                // Superuser only: skip the foreign-key triggers to plant an entry for a missing inode.
                statement.execute("SET session_replication_role = replica");
                statement.execute("INSERT INTO " + s + ".dirents VALUES (1, 'ghost', 404)");
            } catch (java.sql.SQLException e) {
                throw new IllegalStateException(e);
            }

            List<String> problems = store.check();
            assertThat(problems).anyMatch(p -> p.equals("inode 4 has nlink 2 but 1 entries name it"));
            assertThat(problems).anyMatch(p -> p.equals("inode 3 has 1 blocks past its size, the first at index 5"));
            assertThat(problems).anyMatch(p -> p.equals("inode 3 has nblocks 7 but 3 stored blocks"));
            assertThat(problems).contains("inode 22 is linked but not reachable from the root",
                    "inode 22 has nlink 1 but 0 entries name it");
            assertThat(problems).anyMatch(p -> p.equals("symlink 5 has no target"));
            assertThat(problems).anyMatch(p -> p.equals("directory 21 is named by 2 entries"));
            assertThat(problems).anyMatch(p -> p.equals("entry 'inside-a-file' is in 4, which is not an existing directory"));
            assertThat(problems).anyMatch(p -> p.equals("inode 999 does not exist but has 1 blocks"));
            assertThat(problems).anyMatch(p -> p.equals("inode 4 has a symlink target but is not a symlink"));
            assertThat(problems).anyMatch(p -> p.equals("entry in directory 1 named 'ghost' points to inode 404, which does not exist"));
            assertThat(problems).anyMatch(p -> p.startsWith("directory 1 has nlink 3 but should have 4"));
        }
    }

    @Test
    void checkReportsAnUnreachableSubtree() {
        try (PgNamespaceStore store = createdStore()) {
            String s = store.namespace().quoted();
            store.commit(new ChangeSet().putInode(dir(2, 2)).putEntry(1, name("d"), 2).putInode(dir(1, 3))
                    .putInode(file(3, 1, 0)).putEntry(2, name("f"), 3));
            // A directory cycle detached from the root: 2 is named only inside itself.
            TestPostgres.execute("UPDATE " + s + ".dirents SET parent = 2 WHERE parent = 1 AND name = 'd'");
            List<String> problems = store.check();
            assertThat(problems).contains("inode 2 is linked but not reachable from the root",
                    "inode 3 is linked but not reachable from the root");
        }
    }

    @Test
    void aReadOnlyStoreReadsButNeverWrites() {
        NamespaceName ns;
        try (PgNamespaceStore store = createdStore()) {
            ns = store.namespace();
            store.commit(new ChangeSet().putInode(file(2, 1, 0)).putEntry(1, name("f"), 2));
        }
        try (PgNamespaceStore readOnly = PgNamespaceStore.open(TestPostgres.config(), ns, true)) {
            assertThat(readOnly.entries(1)).hasSize(1);
            assertThatThrownBy(readOnly::startWriting).isInstanceOf(IllegalStateException.class);
            assertThatThrownBy(() -> readOnly.commit(new ChangeSet().deleteEntry(1, name("f"))))
                    .isInstanceOf(IllegalStateException.class);
            assertThatThrownBy(readOnly::allocateInodes).isInstanceOf(IllegalStateException.class);
            assertThatThrownBy(() -> readOnly.create(meta(), dir(1, 2))).isInstanceOf(IllegalStateException.class);
        }
    }

    @Test
    void keyMaterialIsReplacedWholeOnlyIfItIsStillWhatTheCallerRead() {
        NamespaceName ns = NamespaceName.parse(TestPostgres.freshNamespace());
        try (PgNamespaceStore store = PgNamespaceStore.open(TestPostgres.config(), ns, false)) {
            store.create(meta(), dir(1, 2));
            NamespaceMeta before = store.meta().orElseThrow();
            NamespaceMeta after = before.withKeyMaterial("argon2id13", 4, 32L << 20, new byte[] {5, 6},
                    new byte[] {7, 7, 7}, new byte[] {1});
            store.replaceKeyMaterial(before, after);
            NamespaceMeta read = store.meta().orElseThrow();
            assertThat(read.kdfOpsLimit()).isEqualTo(4);
            assertThat(read.kdfMemLimit()).isEqualTo(32L << 20);
            assertThat(read.kdfSalt()).containsExactly(5, 6);
            assertThat(read.wrappedKey()).containsExactly(7, 7, 7);
            assertThat(read.keyCheck()).containsExactly(1);
            assertThat(read.uuid()).isEqualTo(before.uuid());
            // A second replacement based on the old row changes nothing.
            assertThatThrownBy(() -> store.replaceKeyMaterial(before, before))
                    .isInstanceOf(StoreException.class).hasMessageContaining("changed by someone else");
            assertThat(store.meta().orElseThrow().wrappedKey()).containsExactly(7, 7, 7);
            store.startWriting();
            assertThatThrownBy(() -> store.replaceKeyMaterial(read, before)).isInstanceOf(IllegalStateException.class);
        }
    }

    @Test
    void refusesNamespacesOfANewerFormatAndSchemasThatAreNotNamespaces() {
        NamespaceName ns;
        try (PgNamespaceStore store = createdStore()) {
            ns = store.namespace();
        }
        NamespaceMeta stored;
        try (PgNamespaceStore store = PgNamespaceStore.open(TestPostgres.config(), ns, true)) {
            stored = store.meta().orElseThrow();
        }
        // Set by hand, the version no longer matches the metadata checksum.
        TestPostgres.execute("UPDATE " + ns.quoted() + ".meta SET format_version = 99");
        assertThatThrownBy(() -> PgNamespaceStore.open(TestPostgres.config(), ns, false))
                .isInstanceOf(StoreException.DamagedMetadata.class)
                .hasMessageContaining("checksum does not match");
        // A newer program keeps the checksum right.
        NamespaceMeta newer = new NamespaceMeta(99, stored.uuid(), stored.blockSize(), stored.kdfAlgorithm(),
                stored.kdfOpsLimit(), stored.kdfMemLimit(), stored.kdfSalt(), stored.wrappedKey(), 0, stored.keyCheck());
        TestPostgres.execute("UPDATE " + ns.quoted() + ".meta SET meta_checksum = ?", MetaChecksum.of(newer));
        assertThatThrownBy(() -> PgNamespaceStore.open(TestPostgres.config(), ns, false))
                .isInstanceOf(StoreException.UnsupportedFormat.class)
                .hasMessageContaining("format version 99");

        NamespaceName foreign = NamespaceName.parse(TestPostgres.freshNamespace());
        TestPostgres.execute("CREATE SCHEMA " + foreign.quoted());
        assertThatThrownBy(() -> PgNamespaceStore.open(TestPostgres.config(), foreign, false))
                .isInstanceOf(StoreException.class)
                .hasMessageContaining("not a sqlitesuperfs namespace");
    }

    @Test
    void callsAfterCloseAndBeforeStartWritingAreRefused() {
        PgNamespaceStore store = PgNamespaceStore.open(TestPostgres.config(),
                NamespaceName.parse(TestPostgres.freshNamespace()), false);
        store.create(meta(), dir(1, 2));
        assertThatThrownBy(() -> store.commit(new ChangeSet().putInode(file(2, 0, 0))))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("startWriting");
        store.close();
        assertThatThrownBy(() -> store.inode(1)).isInstanceOf(IllegalStateException.class);
        assertThat(Optional.empty()).isEmpty();
    }

    @Test
    void startWritingOnAMissingNamespaceFails() {
        try (PgNamespaceStore store = PgNamespaceStore.open(TestPostgres.config(),
                NamespaceName.parse(TestPostgres.freshNamespace()), false)) {
            assertThatThrownBy(store::startWriting).isInstanceOf(StoreException.class).hasMessageContaining("does not exist");
        }
    }

    @Test
    void eachStartWritingTakesANewEpoch() {
        NamespaceName ns;
        try (PgNamespaceStore store = createdStore()) {
            ns = store.namespace();
        }
        long before = TestPostgres.<Long>query("SELECT mount_epoch FROM " + ns.quoted() + ".meta");
        try (PgNamespaceStore store = PgNamespaceStore.open(TestPostgres.config(), ns, false)) {
            store.startWriting();
        }
        assertThat(TestPostgres.<Long>query("SELECT mount_epoch FROM " + ns.quoted() + ".meta")).isEqualTo(before + 1);
        assertThat(new HashSet<>(List.of(1))).hasSize(1);
    }
}
