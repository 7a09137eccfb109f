package dev.sqlitesuperfs.sealed;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sqlitesuperfs.store.RowEditor;
import dev.sqlitesuperfs.testing.LogCapture;
import dev.sqlitesuperfs.testing.MemoryNamespace;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A large file's digest as a hash tree of depth two ({@link BlockTags}): a read loads the tags of
 * the file's first group of blocks and of the group it reads, not the whole file's, and every way
 * of putting a group's rows back, removing or adding them is refused, the damage to one later
 * group only when that group is read (the rest of the file is still served).
 */
class BlockGroupTest {
    private static final int BLOCK = 4096;
    private static final int GROUP = BlockTags.GROUP_BLOCKS;
    /** Blocks of the test file: in its first group, in group 1 and in group 2 (a hole between). */
    private static final long[] STORED = {0, 1, GROUP + 476, GROUP + 477, 2 * GROUP + 952};

    private final MemoryNamespace ns = MemoryNamespace.create(BLOCK);
    private final SealedTree tree = new SealedTree(ns);

    @AfterEach
    void close() {
        ns.close();
    }

    private static byte[] block(long idx, long version) {
        byte[] data = new byte[BLOCK];
        new SplittableRandom(idx * 31 + version).nextBytes(data);
        return data;
    }

    /** A file with the blocks of {@link #STORED}, version 0 each, sized to its last block. */
    private long largeFile() {
        long ino = tree.file(1, "large", block(0, 0));
        writeBlocks(ino, 0, STORED);
        return ino;
    }

    private void writeBlocks(long ino, long version, long... idxs) {
        List<PlainBlock> blocks = new ArrayList<>();
        long end = 0;
        for (long idx : idxs) {
            blocks.add(new PlainBlock(idx, block(idx, version), BLOCK));
            end = Math.max(end, (idx + 1) * BLOCK);
        }
        var row = tree.row(ino);
        tree.sealed().transaction().putInode(SealedTree.withSize(row, Math.max(row.size(), end)))
                .putBlocks(ino, Long.MAX_VALUE, blocks).commit();
    }

    private void tamper(Consumer<RowEditor> edit) {
        ns.store().tamper(edit);
    }

    private void assertRefused(Runnable read, String logged) {
        try (LogCapture log = LogCapture.of(SealedStore.class)) {
            assertThatThrownBy(read::run).isInstanceOf(TamperedException.class);
            assertThat(log.lines()).anySatisfy(line -> assertThat(line).contains(logged));
        }
    }

    @Test
    void aLaterGroupsRowsAreStoredAndTheFirstGroupHasNone() {
        long ino = largeFile();
        assertThat(ns.store().tables().groupsOf(ino)).containsOnlyKeys(1L, 2L);
        ns.remount();
        for (long idx : STORED) {
            assertThat(tree.readBlock(ino, idx)).as("block %d", idx).isEqualTo(block(idx, 0));
        }
    }

    @Test
    void aReadLoadsTheTagsOfTheFirstGroupAndOfItsOwnOnly() {
        long ino = tree.file(1, "sparse", block(0, 0));
        long[] onePerGroup = new long[16];
        for (int g = 0; g < onePerGroup.length; g++) {
            onePerGroup[g] = (long) g * GROUP + 3;
        }
        writeBlocks(ino, 0, onePerGroup);
        ns.remount();
        long before = ns.store().tagsRead();
        assertThat(tree.readBlock(ino, 5L * GROUP + 3)).isEqualTo(block(5L * GROUP + 3, 0));
        assertThat(ns.store().tagsRead() - before).as("tags fetched: block 0 and 3 of group 0, block 3 of group 5")
                .isEqualTo(3);
    }

    @Test
    void aBlockOfALaterGroupPutBackIsRefusedWhenItsGroupIsReadAndTheRestIsServed() {
        long ino = largeFile();
        long victim = 2 * GROUP + 952;
        byte[] old = ns.store().tables().block(ino, victim).orElseThrow();
        writeBlocks(ino, 1, victim);
        ns.remount();
        tamper(rows -> rows.putBlock(ino, victim, old));
        assertThat(tree.readBlock(ino, 0)).isEqualTo(block(0, 0));
        assertThat(tree.readBlock(ino, GROUP + 476)).isEqualTo(block(GROUP + 476, 0));
        assertRefused(() -> tree.readBlock(ino, victim), "inode " + ino + ": its blocks " + 2 * GROUP + " to "
                + (3 * GROUP - 1) + " are not the ones last stored");
    }

    @Test
    void aGroupPutBackWholeWithItsDigestIsRefused() {
        long ino = largeFile();
        long victim = GROUP + 476;
        byte[] oldBlock = ns.store().tables().block(ino, victim).orElseThrow();
        byte[] oldDigest = ns.store().tables().groupsOf(ino).get(1L);
        writeBlocks(ino, 1, victim);
        ns.remount();
        tamper(rows -> rows.putBlock(ino, victim, oldBlock).putGroup(ino, 1, oldDigest));
        assertRefused(() -> tree.readBlock(ino, 0), "inode " + ino + ": its blocks are not the ones last stored");
    }

    @Test
    void aGroupsDigestRemovedOrAddedIsRefused() {
        long ino = largeFile();
        byte[] own = ns.store().tables().groupsOf(ino).get(2L);
        ns.remount();
        tamper(rows -> rows.deleteGroup(ino, 2));
        assertRefused(() -> tree.readBlock(ino, 0), "inode " + ino + ": its blocks are not the ones last stored");

        ns.remount();
        tamper(rows -> rows.putGroup(ino, 2, own));
        assertThat(tree.readBlock(ino, 0)).as("its own digest put back").isEqualTo(block(0, 0));
        ns.remount();
        tamper(rows -> rows.putGroup(ino, 3, own));
        assertRefused(() -> tree.readBlock(ino, 0), "inode " + ino + ": its blocks are not the ones last stored");
    }

    /** The same blocks in another file: its group digests differ from the first file's. */
    private long largeFile2() {
        long ino = tree.file(1, "large2", block(0, 0));
        writeBlocks(ino, 0, STORED);
        return ino;
    }

    @Test
    void aGroupOfAnotherFileIsRefused() {
        long ino = largeFile();
        long other = largeFile2();
        ns.remount();
        tamper(rows -> rows.putGroup(ino, 1, ns.store().tables().groupsOf(other).get(1L))
                .putBlock(ino, GROUP + 476, ns.store().tables().block(other, GROUP + 476).orElseThrow())
                .putBlock(ino, GROUP + 477, ns.store().tables().block(other, GROUP + 477).orElseThrow()));
        assertRefused(() -> tree.readBlock(ino, 0), "inode " + ino + ": its blocks are not the ones last stored");
    }

    @Test
    void aBlockAddedInAGroupWithoutADigestIsRefused() {
        long ino = largeFile();
        var row = tree.row(ino);
        tree.sealed().transaction().putInode(SealedTree.withSize(row, 6L * GROUP * BLOCK)).commit();
        ns.remount();
        long planted = 4L * GROUP + 1;
        tamper(rows -> rows.putBlock(ino, planted, ns.store().tables().block(ino, 0).orElseThrow()));
        assertThat(tree.readBlock(ino, 1)).isEqualTo(block(1, 0));
        assertRefused(() -> tree.readBlock(ino, planted), "inode " + ino + " block " + planted
                + " is not the version last stored there");
    }

    @Test
    void truncationsRemoveLaterGroupsWholeOrInPartAndTheDigestsStayRight() {
        long ino = largeFile();
        tree.sealed().transaction().truncateBlocks(ino, GROUP + 477)
                .putInode(SealedTree.withSize(tree.row(ino), (GROUP + 477L) * BLOCK)).commit();
        assertThat(ns.store().tables().groupsOf(ino)).containsOnlyKeys(1L);
        ns.remount();
        assertThat(tree.readBlock(ino, GROUP + 476)).isEqualTo(block(GROUP + 476, 0));
        tree.sealed().transaction().truncateBlocks(ino, GROUP)
                .putInode(SealedTree.withSize(tree.row(ino), (long) GROUP * BLOCK)).commit();
        assertThat(ns.store().tables().groupsOf(ino)).isEmpty();
        ns.remount();
        assertThat(tree.read(ino)).startsWith(block(0, 0));
        assertThat(tree.readBlock(ino, 1)).isEqualTo(block(1, 0));
    }
}
