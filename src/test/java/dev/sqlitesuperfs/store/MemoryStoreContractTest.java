package dev.sqlitesuperfs.store;

import static dev.sqlitesuperfs.store.StoreFixtures.BLOCK_SIZE;
import static dev.sqlitesuperfs.store.StoreFixtures.block;
import static dev.sqlitesuperfs.store.StoreFixtures.blocks;
import static dev.sqlitesuperfs.store.StoreFixtures.dir;
import static dev.sqlitesuperfs.store.StoreFixtures.file;
import static dev.sqlitesuperfs.store.StoreFixtures.meta;
import static dev.sqlitesuperfs.store.StoreFixtures.name;
import static dev.sqlitesuperfs.store.StoreFixtures.symlink;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;

/**
 * The expectations {@link PgNamespaceStoreTest} holds PostgreSQL's store to, held against the
 * memory store, so that the layers tested on it are tested against the same contract. Each test
 * is its namesake there with the SQL left out: rows are counted and planted through the memory
 * store's tables and {@link MemoryNamespaceStore#tamper}. Keep the two in step.
 */
class MemoryStoreContractTest {

    private static MemoryNamespaceStore createdStore() {
        MemoryNamespaceStore store = new MemoryNamespaceStore("contract");
        store.create(meta(), dir(1, 2));
        store.startWriting();
        return store;
    }

    @Test
    void createsANamespaceAndReadsItsMetadataBack() {
        try (MemoryNamespaceStore store = new MemoryNamespaceStore("contract")) {
            assertThat(store.meta()).isEmpty();
            NamespaceMeta meta = meta();
            store.create(meta, dir(1, 2));
            NamespaceMeta read = store.meta().orElseThrow();
            assertThat(read.formatVersion()).isEqualTo(PgNamespaceStore.FORMAT_VERSION);
            assertThat(read.uuid()).isEqualTo(meta.uuid());
            assertThat(read.blockSize()).isEqualTo(BLOCK_SIZE);
            assertThat(read.kdfSalt()).containsExactly(1, 2, 3, 4);
            assertThat(read.wrappedKey()).containsExactly(9, 8, 7);
            assertThat(store.inode(1)).contains(dir(1, 2));
            assertThat(store.usage()).isEqualTo(new Usage(1, 0));
            assertThat(store.check()).isEmpty();
            assertThatThrownBy(() -> store.create(meta(), dir(1, 2)))
                    .isInstanceOf(StoreException.class).hasMessageContaining("already exists");
        }
    }

    @Test
    void aSecondOpenOfTheSameNamespaceIsBusyUntilTheFirstCloses() {
        MemoryNamespaceStore first = createdStore();
        assertThatThrownBy(first::reopen).isInstanceOf(StoreException.NamespaceBusy.class);
        assertThatThrownBy(first::reopenReadOnly).isInstanceOf(StoreException.NamespaceBusy.class);
        first.close();
        first.close();
        first.reopen().close();
    }

    @Test
    void everyKindOfChangeRoundTrips() {
        try (MemoryNamespaceStore store = createdStore()) {
            InodeRecord highIds = new InodeRecord(3, StoreFixtures.FILE, -2, 0x80000000, 1, 3L * BLOCK_SIZE, 0,
                    0xFFFFFFFF, Long.MIN_VALUE + 1, -5, Long.MAX_VALUE);
            byte[] oddName = {'a', '"', '\'', 0, ';', (byte) 0xff};
            store.commit(new ChangeSet()
                    .putInode(dir(2, 2)).putEntry(1, name("d"), 2).putInode(dir(1, 3))
                    .putInode(highIds).putEntry(2, oddName, 3)
                    .putBlocks(3, 0, blocks(3, 0, 3, 1))
                    .putXattr(3, name("user.a"), name("sealed-a")).putXattr(3, name("user.b"), name("sealed-b"))
                    .putInode(symlink(4)).putEntry(1, name("l"), 4).putSymlink(4, name("sealed-target")));

            assertThat(store.inode(3).orElseThrow()).isEqualTo(new InodeRecord(3, StoreFixtures.FILE, -2, 0x80000000, 1,
                    3L * BLOCK_SIZE, 3, 0xFFFFFFFF, Long.MIN_VALUE + 1, -5, Long.MAX_VALUE));
            assertThat(store.inode(99)).isEmpty();
            assertThat(store.inodes(new long[] {1, 2, 3, 99}).stream().map(InodeRecord::ino))
                    .containsExactlyInAnyOrder(1L, 2L, 3L);
            List<DirEntryRecord> root = store.entries(1);
            assertThat(root).extracting(e -> new String(e.name())).containsExactly("d", "l");
            assertThat(root).extracting(DirEntryRecord::mode).containsExactly(StoreFixtures.DIR, StoreFixtures.SYMLINK);
            assertThat(store.entries(2)).singleElement().satisfies(e -> assertThat(e.name()).isEqualTo(oddName));
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

            store.commit(new ChangeSet().deleteXattr(3, name("user.a")).putXattr(3, name("user.b"), name("sealed-b2"))
                    .putSymlink(4, name("sealed-target-2")).putEntry(1, name("l"), 4));
            assertThat(store.xattrs(3)).extracting(x -> new String(x.sealedValue())).containsExactly("sealed-b2");
            assertThat(store.symlinkTarget(4)).hasValueSatisfying(t -> assertThat(t).isEqualTo(name("sealed-target-2")));

            store.commit(new ChangeSet().deleteEntry(2, oddName).deleteInode(3).deleteEntry(1, name("l")).deleteInode(4));
            assertThat(store.inode(3)).isEmpty();
            assertThat(store.entries(2)).isEmpty();
            assertThat(store.tables().blocksOf(3)).isEmpty();
            assertThat(store.tables().xattrRows(3)).isEmpty();
            assertThat(store.tables().symlink(4)).isEmpty();
            assertThat(store.usage()).isEqualTo(new Usage(2, 0));
            assertThat(store.check()).isEmpty();
        }
    }

    @Test
    void nblocksFollowsInsertedOverwrittenHoleFilledAndTruncatedBlocks() {
        try (MemoryNamespaceStore store = createdStore()) {
            long ino = 5;
            CommitResult created = store.commit(new ChangeSet().putInode(file(ino, 1, 4L * BLOCK_SIZE))
                    .putEntry(1, name("f"), ino).putBlocks(ino, 0, blocks(ino, 0, 4, 1)));
            assertThat(created.nblocks(ino, -1)).isEqualTo(4);
            assertNblocks(store, ino, 4);

            CommitResult overwritten = store.commit(new ChangeSet().putBlocks(ino, 4, blocks(ino, 1, 3, 2)));
            assertThat(overwritten.nblocks()).as("neither the row nor the count changed").doesNotContainKey(ino);
            assertNblocks(store, ino, 4);

            CommitResult rowOnly = store.commit(new ChangeSet().putInode(file(ino, 1, 12L * BLOCK_SIZE)));
            assertThat(rowOnly.nblocks()).as("a row put reports its count (CommitResult)").containsEntry(ino, 4L);
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

            CommitResult twice = store.commit(new ChangeSet().putBlocks(ino, 14, List.of(block(ino, 9, 1)))
                    .putBlocks(ino, 14, List.of(block(ino, 9, 2))));
            assertThat(twice.nblocks(ino, -1)).isEqualTo(9);
            assertThat(store.blocks(ino, 9, 10)).extracting(b -> new String(b.data())).containsExactly("block 5/9 v2");

            CommitResult truncated = store.commit(new ChangeSet().truncateBlocks(ino, 7)
                    .putInode(file(ino, 1, 7L * BLOCK_SIZE - 100)));
            assertThat(truncated.nblocks(ino, -1)).isEqualTo(5);
            assertNblocks(store, ino, 5);

            store.commit(new ChangeSet().putInode(new InodeRecord(ino, StoreFixtures.FILE, 0, 0, 1,
                    7L * BLOCK_SIZE - 100, 999, 0, 0, 0, 0)));
            assertNblocks(store, ino, 5);
            assertThat(store.usage().blocks()).isEqualTo(5);
        }
    }

    @Test
    void aChangeSetTakesEffectAsTheLastChangeToEachRow() {
        try (MemoryNamespaceStore store = createdStore()) {
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
            assertThat(store.tables().blocksOf(3)).isEmpty();
            assertThat(store.tables().xattrRows(3)).isEmpty();
            assertThat(store.entries(1)).extracting(e -> new String(e.name())).containsExactly("moved");
            assertThat(store.blocks(2, 0, 10)).extracting(b -> new String(b.data()))
                    .containsExactly("block 2/0 v1", "block 2/1 v1", "block 2/3 v2");
            assertThat(result.nblocks(2, -1)).isEqualTo(3);
            assertNblocks(store, 2, 3);
        }
    }

    private static void assertNblocks(MemoryNamespaceStore store, long ino, long expected) {
        assertThat(store.inode(ino).orElseThrow().nblocks()).isEqualTo(expected);
        assertThat(store.tables().blocksOf(ino)).hasSize((int) expected);
        assertThat(store.check()).isEmpty();
    }

    @Test
    void nextMissingBlockOfAFileWithoutBlocksIsWhereTheSearchStarts() {
        try (MemoryNamespaceStore store = createdStore()) {
            assertThat(store.nextMissingBlock(42, 0)).isZero();
            assertThat(store.nextMissingBlock(42, 17)).isEqualTo(17);
            assertThat(store.nextStoredBlock(42, 0)).isEmpty();
        }
    }

    @Test
    void orphansAreInodesWithoutLinks() {
        try (MemoryNamespaceStore store = createdStore()) {
            store.commit(new ChangeSet().putInode(file(7, 1, 0)).putEntry(1, name("x"), 7)
                    .putInode(file(8, 1, 0)).putEntry(1, name("y"), 8));
            assertThat(store.orphans()).isEmpty();
            store.commit(new ChangeSet().deleteEntry(1, name("x")).putInode(file(7, 0, 0)));
            assertThat(store.orphans()).containsExactly(7);
            assertThat(store.check()).isEmpty();
        }
    }

    @Test
    void checkFindsPlantedInconsistencies() {
        try (MemoryNamespaceStore store = createdStore()) {
            store.commit(new ChangeSet()
                    .putInode(dir(2, 2)).putEntry(1, name("d"), 2).putInode(dir(1, 3))
                    .putInode(file(3, 1, 2L * BLOCK_SIZE)).putEntry(2, name("f"), 3)
                    .putBlocks(3, 0, blocks(3, 0, 2, 1))
                    .putInode(file(4, 1, 0)).putEntry(1, name("g"), 4)
                    .putInode(symlink(5)).putEntry(1, name("l"), 5).putSymlink(5, name("t")));
            assertThat(store.check()).isEmpty();

            store.tamper(rows -> rows.putInode(file(4, 2, 0))
                        .putBlock(3, 5, new byte[] {0})
                        .putInode(MemoryTables.withNblocks(file(3, 1, 2L * BLOCK_SIZE), 7))
                        .putInode(file(20, 1, 0)).putInode(file(22, 1, 0))
                        .deleteSymlink(5)
                        .putInode(dir(21, 2)).putEntry(1, name("a"), 21, null).putEntry(2, name("b"), 21, null)
                        .putEntry(4, name("inside-a-file"), 20, null)
                        .putBlock(999, 0, new byte[] {0})
                        .putSymlink(4, new byte[] {0})
                        .putEntry(1, name("ghost"), 404, null));

            List<String> problems = store.check();
            assertThat(problems).contains("inode 4 has nlink 2 but 1 entries name it",
                    "inode 3 has 1 blocks past its size, the first at index 5",
                    "inode 3 has nblocks 7 but 3 stored blocks",
                    "inode 22 is linked but not reachable from the root",
                    "inode 22 has nlink 1 but 0 entries name it",
                    "symlink 5 has no target",
                    "directory 21 is named by 2 entries",
                    "entry 'inside-a-file' is in 4, which is not an existing directory",
                    "inode 999 does not exist but has 1 blocks",
                    "inode 4 has a symlink target but is not a symlink",
                    "entry in directory 1 named 'ghost' points to inode 404, which does not exist");
            assertThat(problems).anyMatch(p -> p.startsWith("directory 1 has nlink 3 but should have 4"));
        }
    }

    @Test
    void checkReportsAnUnreachableSubtree() {
        try (MemoryNamespaceStore store = createdStore()) {
            store.commit(new ChangeSet().putInode(dir(2, 2)).putEntry(1, name("d"), 2).putInode(dir(1, 3))
                    .putInode(file(3, 1, 0)).putEntry(2, name("f"), 3));
            store.tamper(rows -> rows.deleteEntry(1, name("d")).putEntry(2, name("d"), 2, null));
            assertThat(store.check()).contains("inode 2 is linked but not reachable from the root",
                    "inode 3 is linked but not reachable from the root");
        }
    }

    @Test
    void aReadOnlyStoreReadsButNeverWrites() {
        MemoryNamespaceStore store = createdStore();
        store.commit(new ChangeSet().putInode(file(2, 1, 0)).putEntry(1, name("f"), 2));
        store.close();
        try (MemoryNamespaceStore readOnly = store.reopenReadOnly()) {
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
        try (MemoryNamespaceStore store = new MemoryNamespaceStore("contract")) {
            store.create(meta(), dir(1, 2));
            NamespaceMeta before = store.meta().orElseThrow();
            NamespaceMeta after = before.withKeyMaterial("argon2id13", 4, 32L << 20, new byte[] {5, 6},
                    new byte[] {7, 7, 7}, new byte[] {1});
            store.replaceKeyMaterial(before, after);
            NamespaceMeta read = store.meta().orElseThrow();
            assertThat(read.kdfOpsLimit()).isEqualTo(4);
            assertThat(read.kdfSalt()).containsExactly(5, 6);
            assertThat(read.wrappedKey()).containsExactly(7, 7, 7);
            assertThat(read.keyCheck()).containsExactly(1);
            assertThat(read.uuid()).isEqualTo(before.uuid());
            assertThatThrownBy(() -> store.replaceKeyMaterial(before, before))
                    .isInstanceOf(StoreException.class).hasMessageContaining("changed by someone else");
            store.startWriting();
            assertThatThrownBy(() -> store.replaceKeyMaterial(read, before)).isInstanceOf(IllegalStateException.class);
        }
    }

    @Test
    void callsAfterCloseAndBeforeStartWritingAreRefused() {
        MemoryNamespaceStore store = new MemoryNamespaceStore("contract");
        store.create(meta(), dir(1, 2));
        assertThatThrownBy(() -> store.commit(new ChangeSet().putInode(file(2, 0, 0))))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("startWriting");
        store.close();
        assertThatThrownBy(() -> store.inode(1)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void startWritingOnAMissingNamespaceFails() {
        try (MemoryNamespaceStore store = new MemoryNamespaceStore("contract")) {
            assertThatThrownBy(store::startWriting).isInstanceOf(StoreException.class)
                    .hasMessageContaining("does not exist");
        }
    }
}
