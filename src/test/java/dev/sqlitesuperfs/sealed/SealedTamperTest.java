package dev.sqlitesuperfs.sealed;

import static dev.sqlitesuperfs.sealed.SealedTree.bytes;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sqlitesuperfs.store.InodeRecord;
import dev.sqlitesuperfs.store.RowEditor;
import dev.sqlitesuperfs.store.NamespaceStore.SealingUpgrade.EntryRow;
import dev.sqlitesuperfs.testing.LogCapture;
import dev.sqlitesuperfs.testing.MemoryNamespace;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.BiConsumer;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;

/**
 * Every kind of damage the integration tests make by SQL ({@code PayloadTamperTest},
 * {@code EntryTamperTest}, {@code StorageSecrecyTest}), made here to the rows of a memory store
 * and read through a {@link SealedStore} that knows nothing but what is stored (as a new mount
 * would): what is damaged is refused with {@link TamperedException} and a log line naming
 * namespace, inode and what failed; what the digests can keep apart from the damage is still
 * served. Unless a test says otherwise the damage is made while nothing is mounted, then the
 * namespace is mounted again.
 */
class SealedTamperTest {
    static final int BLOCK = 4096;
    static final String NOT_LAST_STORED = ": its blocks are not the ones last stored";

    private final MemoryNamespace ns = MemoryNamespace.create(BLOCK);
    private final SealedTree tree = new SealedTree(ns);

    @AfterEach
    void close() {
        ns.close();
    }

    private static byte[] random(int length, long seed) {
        byte[] data = new byte[length];
        new SplittableRandom(seed).nextBytes(data);
        return data;
    }

    private static byte[] flipped(byte[] data, int at) {
        byte[] copy = data.clone();
        copy[at < 0 ? copy.length + at : at] ^= 1;
        return copy;
    }

    private void tamper(java.util.function.Consumer<RowEditor> edit) {
        ns.store().tamper(edit);
    }

    private void assertRefused(Runnable read, String... logged) {
        try (LogCapture log = LogCapture.of(SealedStore.class)) {
            assertThatThrownBy(read::run).isInstanceOf(TamperedException.class)
                    .hasMessageContaining("namespace " + MemoryNamespace.NAME + ": ");
            assertThat(log.lines()).anySatisfy(line -> assertThat(line).contains(logged));
        }
    }

    // ------------------------------------------------------------------ blocks

    /** One attack on block 1 of a file of three blocks (block 2 a hole where the attack says so). */
    record BlockAttack(String name, boolean holeAt2, BiConsumer<RowEditor, Long> attack, boolean refusedAlone,
                       String logged) {
        @Override
        public String toString() {
            return name;
        }
    }

    static BiConsumer<RowEditor, Long> onBlock1(UnaryOperator<byte[]> change) {
        return (rows, ino) -> rows.putBlock(ino, 1, change.apply(rows.rows().block(ino, 1).orElseThrow()));
    }

    static final List<BlockAttack> BLOCK_ATTACKS = List.of(
            new BlockAttack("nonce bit", false, onBlock1(b -> flipped(b, 5)), true, " block 1 failed authentication"),
            new BlockAttack("ciphertext bit", false, onBlock1(b -> flipped(b, 30)), true,
                    " block 1 failed authentication"),
            new BlockAttack("tag bit", false, onBlock1(b -> flipped(b, -1)), false, NOT_LAST_STORED),
            new BlockAttack("truncated by one byte", false, onBlock1(b -> Arrays.copyOf(b, b.length - 1)), false,
                    NOT_LAST_STORED),
            new BlockAttack("truncated below nonce and tag", false, onBlock1(b -> Arrays.copyOf(b, 20)), false,
                    NOT_LAST_STORED),
            new BlockAttack("emptied", false, onBlock1(b -> new byte[0]), false, " block 1: stored block too short"),
            new BlockAttack("one byte longer than a block can be", false, onBlock1(b -> Arrays.copyOf(b, b.length + 1)),
                    false, NOT_LAST_STORED),
            new BlockAttack("blocks 0 and 1 swapped", false, (rows, ino) -> {
                byte[] b0 = rows.rows().block(ino, 0).orElseThrow();
                rows.putBlock(ino, 0, rows.rows().block(ino, 1).orElseThrow()).putBlock(ino, 1, b0);
            }, false, NOT_LAST_STORED),
            new BlockAttack("block 0 copied into the hole at block 2", true,
                    (rows, ino) -> rows.putBlock(ino, 2, rows.rows().block(ino, 0).orElseThrow()), false, NOT_LAST_STORED),
            new BlockAttack("block 0 copied over block 1", false,
                    (rows, ino) -> rows.putBlock(ino, 1, rows.rows().block(ino, 0).orElseThrow()), false, NOT_LAST_STORED),
            new BlockAttack("block 1 deleted", false, (rows, ino) -> rows.deleteBlock(ino, 1), false, NOT_LAST_STORED),
            new BlockAttack("a block added past the end", false,
                    (rows, ino) -> rows.putBlock(ino, 3, rows.rows().block(ino, 2).orElseThrow()), false, NOT_LAST_STORED));

    @ParameterizedTest(name = "{0}")
    @FieldSource("BLOCK_ATTACKS")
    void aDamagedBlockIsRefusedAloneOrTheWholeFileWithIt(BlockAttack attack) {
        byte[] data = random(3 * BLOCK, 5);
        long ino;
        if (attack.holeAt2()) {
            Arrays.fill(data, 2 * BLOCK, 3 * BLOCK, (byte) 0);
            ino = tree.file(1, "victim", Arrays.copyOf(data, 2 * BLOCK));
            tree.sealed().transaction().putInode(SealedTree.withSize(tree.row(ino), 3 * BLOCK)).commit();
        } else {
            ino = tree.file(1, "victim", data);
        }
        long bystander = tree.file(1, "bystander", bytes("fine"));
        ns.remount();
        tamper(rows -> attack.attack().accept(rows, ino));

        for (int idx = 0; idx < 3; idx++) {
            int i = idx;
            if (attack.refusedAlone() && idx != 1) {
                assertThat(tree.readBlock(ino, idx)).as("%s: block %d", attack, idx)
                        .isEqualTo(Arrays.copyOfRange(data, idx * BLOCK, (idx + 1) * BLOCK));
            } else {
                assertRefused(() -> tree.readBlock(ino, i), "namespace " + MemoryNamespace.NAME + ": inode " + ino
                        + attack.logged(), "refusing to serve it");
            }
        }
        assertThat(tree.read(bystander)).isEqualTo(bytes("fine"));
    }

    /** An older sealed version of a block opens on its own; the file's digest no longer adds up. */
    @Test
    void aBlockPutBackToAnOlderVersionOfItselfRefusesTheFile() {
        long ino = tree.file(1, "balance", bytes("balance: 1000"));
        byte[] old = ns.store().tables().block(ino, 0).orElseThrow();
        tree.rewrite(ino, bytes("balance: 0000"));
        ns.remount();
        tamper(rows -> rows.putBlock(ino, 0, old));
        assertRefused(() -> tree.read(ino), "inode " + ino + NOT_LAST_STORED);
    }

    @Test
    void aBlockMovedToAnotherFileIsRefused() {
        long a = tree.file(1, "a", new byte[2 * BLOCK]);
        long b = tree.file(1, "b", new byte[2 * BLOCK]);
        ns.remount();
        tamper(rows -> rows.putBlock(b, 0, rows.rows().block(a, 0).orElseThrow()));
        assertRefused(() -> tree.readBlock(b, 1), "inode " + b + NOT_LAST_STORED);
        assertThat(tree.read(a)).as("the file the block came from").isEqualTo(new byte[2 * BLOCK]);
    }

    /**
     * What this mount already read is what it checks against: damage made while it runs is
     * refused as well, though the block was never read before.
     */
    @Test
    void damageMadeWhileMountedIsRefusedAgainstWhatTheMountKnows() {
        long ino = tree.file(1, "f", random(2 * BLOCK, 1));
        byte[] old = ns.store().tables().block(ino, 1).orElseThrow();
        tree.rewrite(ino, random(2 * BLOCK, 2));
        tamper(rows -> rows.putBlock(ino, 1, old));
        assertRefused(() -> tree.readBlock(ino, 1), "inode " + ino + " block 1 is not the version last stored there");
    }

    @Test
    void aPayloadFromAnotherNamespaceIsRefused() {
        try (MemoryNamespace other = MemoryNamespace.withUuid(ns.uuid(), BLOCK)) {
            SealedTree donor = new SealedTree(other);
            long victim = tree.file(1, "f", random(2 * BLOCK, 3));
            tree.setXattr(victim, "user.a", "victim's");
            long copied = donor.file(1, "f", random(2 * BLOCK, 4));
            donor.setXattr(copied, "user.a", "donor's");
            assertThat(copied).as("the same inode number in both namespaces").isEqualTo(victim);
            ns.remount();

            tamper(rows -> rows.putBlock(victim, 1, other.store().tables().block(copied, 1).orElseThrow()));
            assertRefused(() -> tree.readBlock(victim, 0), "inode " + victim + NOT_LAST_STORED);
            tamper(rows -> rows.putXattr(victim, bytes("user.a"), other.store().tables().xattr(copied, bytes("user.a"))
                    .orElseThrow()));
            assertRefused(() -> tree.sealed().xattrs(victim), "inode " + victim + ": xattr user.a failed authentication");
            tamper(rows -> rows.putInode(other.store().tables().inode(copied).orElseThrow()));
            assertRefused(() -> tree.sealed().inode(victim), "inode " + victim + ": ");
        }
    }

    // ------------------------------------------------------------------ attributes

    record RowAttack(String name, UnaryOperator<InodeRecord> change) {
        @Override
        public String toString() {
            return name;
        }
    }

    static InodeRecord changed(InodeRecord r, int mode, int uid, int gid, int nlink, long size, int rdev, long mtime) {
        return new InodeRecord(r.ino(), mode, uid, gid, nlink, size, r.nblocks(), rdev, r.atimeNs(), mtime,
                r.ctimeNs(), r.auth());
    }

    static final List<RowAttack> ROW_ATTACKS = List.of(
            new RowAttack("size cut", r -> changed(r, r.mode(), r.uid(), r.gid(), r.nlink(), 4, r.rdev(), r.mtimeNs())),
            new RowAttack("mode", r -> changed(r, r.mode() | 04000, r.uid(), r.gid(), r.nlink(), r.size(), r.rdev(),
                    r.mtimeNs())),
            new RowAttack("owner", r -> changed(r, r.mode(), 1000, r.gid(), r.nlink(), r.size(), r.rdev(), r.mtimeNs())),
            new RowAttack("group", r -> changed(r, r.mode(), r.uid(), 1000, r.nlink(), r.size(), r.rdev(), r.mtimeNs())),
            new RowAttack("link count", r -> changed(r, r.mode(), r.uid(), r.gid(), 0, r.size(), r.rdev(), r.mtimeNs())),
            new RowAttack("device", r -> changed(r, r.mode(), r.uid(), r.gid(), r.nlink(), r.size(), 7, r.mtimeNs())),
            new RowAttack("mtime", r -> changed(r, r.mode(), r.uid(), r.gid(), r.nlink(), r.size(), r.rdev(), 0)),
            new RowAttack("authenticator bit", r -> r.withAuth(flipped(r.auth(), 3))),
            new RowAttack("authenticator removed", r -> r.withAuth(null)));

    @ParameterizedTest(name = "{0}")
    @FieldSource("ROW_ATTACKS")
    void aChangedInodeRowIsRefused(RowAttack attack) {
        long ino = tree.file(1, "f", bytes("0123456789"));
        ns.remount();
        tamper(rows -> rows.putInode(attack.change().apply(rows.rows().inode(ino).orElseThrow())));
        assertRefused(() -> tree.sealed().inode(ino), "inode " + ino + ": ");
    }

    @Test
    void anotherInodesAuthenticatorIsRefused() {
        long a = tree.file(1, "a", bytes("a"));
        long b = tree.file(1, "b", bytes("b"));
        ns.remount();
        tamper(rows -> rows.putInode(rows.rows().inode(a).orElseThrow()
                .withAuth(rows.rows().inode(b).orElseThrow().auth())));
        assertRefused(() -> tree.sealed().inode(a), "inode " + a + ": ");
    }

    /** An older row, authenticator and all, with blocks written since: its digest is not theirs. */
    @Test
    void anOlderRowOfAFileWithItsNewerBlocksRefusesTheBlocks() {
        long ino = tree.file(1, "f", bytes("version 1"));
        InodeRecord old = ns.store().tables().inode(ino).orElseThrow();
        tree.rewrite(ino, bytes("version 2"));
        ns.remount();
        tamper(rows -> rows.putInode(old));
        assertRefused(() -> tree.read(ino), "inode " + ino + NOT_LAST_STORED);
    }

    /**
     * The limit README's security model names ("Not detected: rolling a whole file ... back to an
     * earlier consistent state of itself"): every row of an inode put back together is authentic.
     * Here only so that a change of that promise shows up as a failing test.
     */
    @Test
    void aWholeFileRolledBackToAnEarlierStateOfItselfIsNotDetected() {
        long ino = tree.file(1, "f", bytes("version 1"));
        InodeRecord oldRow = ns.store().tables().inode(ino).orElseThrow();
        byte[] oldBlock = ns.store().tables().block(ino, 0).orElseThrow();
        tree.rewrite(ino, bytes("version 2"));
        ns.remount();
        tamper(rows -> rows.putInode(oldRow).putBlock(ino, 0, oldBlock));
        assertThat(tree.read(ino)).isEqualTo(bytes("version 1"));
    }

    // ------------------------------------------------------------------ entries

    private EntryRow entry(long parent, String name) {
        return ns.store().tables().entryRow(parent, bytes(name)).orElseThrow();
    }

    @Test
    void aForgedEntryIsRefusedAloneAndItsSiblingsAreServed() {
        long a = tree.file(1, "a", bytes("a"));
        tree.file(1, "b", bytes("b"));
        ns.remount();
        EntryRow ofA = entry(1, "a");
        tamper(rows -> rows.putEntry(1, bytes("forged"), a, new byte[32])
                .putEntry(1, bytes("forged-with-a-real-mac"), a, ofA.mac()));
        try (LogCapture log = LogCapture.of(SealedStore.class)) {
            assertThat(tree.names(1)).containsExactly("a", "b");
            assertThat(tree.refused(1)).containsExactlyInAnyOrder("forged", "forged-with-a-real-mac");
            assertThat(log.lines()).anySatisfy(l -> assertThat(l).contains("directory 1: the entry 'forged'",
                    "is not authentic", "refusing it, serving the rest"));
        }
        assertThat(tree.read(a)).isEqualTo(bytes("a"));
    }

    /** Removed entries put back with their old rows (and their inodes' rows, which went with them). */
    private void bringBack(long dir, List<String> names, Runnable removeThem) {
        List<EntryRow> old = names.stream().map(n -> entry(dir, n)).toList();
        List<InodeRecord> inodes = old.stream().map(e -> ns.store().tables().inode(e.ino()).orElseThrow()).toList();
        removeThem.run();
        ns.remount();
        tamper(rows -> {
            inodes.forEach(rows::putInode);
            old.forEach(rows::putEntry);
        });
    }

    @Test
    void oneOrTwoEntriesBroughtBackAreRefusedAlone() {
        long one = tree.dir(1, "one");
        long two = tree.dir(1, "two");
        for (long dir : new long[] {one, two}) {
            tree.file(dir, "kept", bytes("kept"));
            tree.file(dir, "gone1", bytes("removed later"));
            tree.file(dir, "gone2", bytes("removed later too"));
        }
        bringBack(one, List.of("gone1"), () -> tree.remove(one, "gone1"));
        bringBack(two, List.of("gone1", "gone2"), () -> {
            tree.remove(two, "gone1");
            tree.remove(two, "gone2");
            tree.file(two, "later", bytes("made after the removals"));
        });
        try (LogCapture log = LogCapture.of(SealedStore.class)) {
            assertThat(tree.names(one)).containsExactly("gone2", "kept");
            assertThat(tree.refused(one)).containsExactly("gone1");
            assertThat(tree.names(two)).containsExactly("kept", "later");
            assertThat(tree.refused(two)).containsExactlyInAnyOrder("gone1", "gone2");
            assertThat(log.lines()).anySatisfy(l -> assertThat(l).contains("directory " + two + ": the entry 'gone1'",
                    "is not one last stored"));
        }
        // the directory goes on changing with its digest kept right, the damage still there
        tree.file(two, "newer", bytes("after the damage"));
        ns.remount();
        assertThat(tree.names(two)).containsExactly("kept", "later", "newer");
        assertThat(tree.refused(two)).containsExactlyInAnyOrder("gone1", "gone2");
    }

    /** Past two, the digest cannot tell which entries are the stale ones: the directory is refused. */
    @Test
    void threeEntriesBroughtBackRefuseTheWholeDirectory() {
        long dir = tree.dir(1, "d");
        tree.file(dir, "kept", bytes("kept"));
        for (String n : List.of("g1", "g2", "g3")) {
            tree.file(dir, n, bytes(n));
        }
        bringBack(dir, List.of("g1", "g2", "g3"), () -> List.of("g1", "g2", "g3").forEach(n -> tree.remove(dir, n)));
        assertRefused(() -> tree.sealed().entries(dir), "directory " + dir + ": its entries are not the ones last stored");
    }

    @Test
    void anEntryRemovedFromStorageRefusesTheWholeDirectory() {
        long dir = tree.dir(1, "cut");
        tree.file(dir, "x", bytes("x"));
        tree.file(dir, "y", bytes("y"));
        ns.remount();
        tamper(rows -> rows.deleteEntry(dir, bytes("x")));
        assertRefused(() -> tree.sealed().entries(dir), "directory " + dir + ": its entries are not the ones last stored");
        assertThat(tree.names(1)).as("its parent is fine").containsExactly("cut");
    }

    /**
     * Renamed in place (its MAC kept): the new name is refused because its MAC does not match,
     * and its old name is missing from the directory, which refuses the whole directory (an entry
     * removed, see above). Pointed at another inode: the same.
     */
    @Test
    void anEntryRenamedInPlaceOrPointedElsewhereRefusesTheWholeDirectory() {
        long renamed = tree.dir(1, "renamed");
        long repointed = tree.dir(1, "repointed");
        for (long dir : new long[] {renamed, repointed}) {
            tree.file(dir, "victim", bytes("victim"));
            tree.file(dir, "sibling", bytes("sibling"));
        }
        ns.remount();
        EntryRow victim = entry(renamed, "victim");
        EntryRow other = entry(repointed, "victim");
        long sibling = entry(repointed, "sibling").ino();
        tamper(rows -> rows.deleteEntry(renamed, bytes("victim"))
                .putEntry(renamed, bytes("renamed"), victim.ino(), victim.mac())
                .putEntry(repointed, bytes("victim"), sibling, other.mac()));
        for (long dir : new long[] {renamed, repointed}) {
            assertRefused(() -> tree.sealed().entries(dir), "directory " + dir + ": its entries are not the ones last"
                    + " stored");
        }
    }

    /** Moved to another directory with its MAC: refused alone there; the directory it left is refused. */
    @Test
    void anEntryMovedToAnotherDirectoryIsRefusedThereAndTheDirectoryItLeftIsRefused() {
        long from = tree.dir(1, "from");
        long to = tree.dir(1, "to");
        tree.file(from, "moved", bytes("moved"));
        tree.file(to, "resident", bytes("resident"));
        ns.remount();
        EntryRow moved = entry(from, "moved");
        tamper(rows -> rows.deleteEntry(from, bytes("moved")).putEntry(to, moved.name(), moved.ino(), moved.mac()));
        assertThat(tree.names(to)).containsExactly("resident");
        assertThat(tree.refused(to)).containsExactly("moved");
        assertRefused(() -> tree.sealed().entries(from), "directory " + from + ": its entries are not");
    }

    /** ".." of a directory read by inode number comes only from its one authentic entry. */
    @Test
    void theParentOfADirectoryIsTakenOnlyFromItsAuthenticEntry() {
        long a = tree.dir(1, "a");
        long moved = tree.dir(a, "moved");
        long doubled = tree.dir(a, "doubled");
        long c = tree.dir(1, "c");
        ns.remount();
        assertThat(tree.sealed().parentOf(moved)).hasValue(a);
        assertThat(tree.sealed().parentOf(1)).as("the root has no entry").isEmpty();
        EntryRow m = entry(a, "moved");
        EntryRow d = entry(a, "doubled");
        tamper(rows -> rows.deleteEntry(a, bytes("moved")).putEntry(c, m.name(), m.ino(), m.mac())
                .putEntry(c, d.name(), d.ino(), d.mac()));
        assertRefused(() -> tree.sealed().parentOf(moved), "directory " + moved + ": its entry 'moved' in directory "
                + c + " is not authentic");
        assertRefused(() -> tree.sealed().parentOf(doubled), "directory " + doubled + ": named by more than one entry");
    }

    // ------------------------------------------------------------------ extended attributes and symlinks

    record PayloadAttack(String name, BiConsumer<RowEditor, long[]> attack) {
        @Override
        public String toString() {
            return name;
        }
    }

    static final byte[] A = bytes("user.a");

    static byte[] valueOfA(RowEditor rows, long ino) {
        return rows.rows().xattr(ino, A).orElseThrow();
    }

    /** Each gets the victim's inode and another file's, both with user.a. */
    static final List<PayloadAttack> XATTR_ATTACKS = List.of(
            new PayloadAttack("flipped", (rows, i) -> rows.putXattr(i[0], A, flipped(valueOfA(rows, i[0]), 0))),
            new PayloadAttack("truncated", (rows, i) -> rows.putXattr(i[0], A, Arrays.copyOf(valueOfA(rows, i[0]), 39))),
            new PayloadAttack("emptied", (rows, i) -> rows.putXattr(i[0], A, new byte[0])),
            new PayloadAttack("renamed", (rows, i) -> {
                byte[] v = valueOfA(rows, i[0]);
                rows.deleteXattr(i[0], A).putXattr(i[0], bytes("user.b"), v);
            }),
            new PayloadAttack("copied from another inode", (rows, i) -> rows.putXattr(i[0], A, valueOfA(rows, i[1]))),
            new PayloadAttack("copied to a new name", (rows, i) -> rows.putXattr(i[0], bytes("user.z"),
                    valueOfA(rows, i[0]))));

    @ParameterizedTest(name = "{0}")
    @FieldSource("XATTR_ATTACKS")
    void aDamagedAttributeValueIsRefusedAndTheFilesDataStillServed(PayloadAttack attack) {
        long victim = tree.file(1, "victim", bytes("data of the victim"));
        tree.setXattr(victim, "user.a", "value of the victim");
        long other = tree.file(1, "other", bytes("other"));
        tree.setXattr(other, "user.a", "other value");
        ns.remount();
        tamper(rows -> attack.attack().accept(rows, new long[] {victim, other}));
        assertRefused(() -> tree.sealed().xattrs(victim), "namespace " + MemoryNamespace.NAME + ": inode " + victim
                + ": xattr user.", "failed authentication");
        assertThat(tree.read(victim)).as("the data is a separate payload").isEqualTo(bytes("data of the victim"));
        assertThat(tree.xattr(other, "user.a")).isEqualTo("other value");
    }

    @Test
    void anAttributeRolledBackOrRemovedIsRefused() {
        long rolledBack = tree.file(1, "rolled-back", bytes("data"));
        long removed = tree.file(1, "removed", bytes("data"));
        tree.setXattr(rolledBack, "user.role", "reader");
        tree.setXattr(removed, "user.role", "reader");
        byte[] old = ns.store().tables().xattr(rolledBack, bytes("user.role")).orElseThrow();
        tree.setXattr(rolledBack, "user.role", "admin");
        ns.remount();
        tamper(rows -> rows.putXattr(rolledBack, bytes("user.role"), old).deleteXattr(removed, bytes("user.role")));
        for (long ino : new long[] {rolledBack, removed}) {
            assertRefused(() -> tree.sealed().xattrs(ino), "inode " + ino,
                    "extended attributes are not the ones last stored");
        }
    }

    static final List<PayloadAttack> SYMLINK_ATTACKS = List.of(
            new PayloadAttack("flipped", (rows, i) -> rows.putSymlink(i[0], flipped(rows.rows().symlink(i[0])
                    .orElseThrow(), 30))),
            new PayloadAttack("truncated", (rows, i) -> {
                byte[] t = rows.rows().symlink(i[0]).orElseThrow();
                rows.putSymlink(i[0], Arrays.copyOf(t, t.length - 1));
            }),
            new PayloadAttack("emptied", (rows, i) -> rows.putSymlink(i[0], new byte[0])),
            new PayloadAttack("copied", (rows, i) -> rows.putSymlink(i[0], rows.rows().symlink(i[1]).orElseThrow())),
            new PayloadAttack("removed", (rows, i) -> rows.deleteSymlink(i[0])));

    @ParameterizedTest(name = "{0}")
    @FieldSource("SYMLINK_ATTACKS")
    void aDamagedSymlinkTargetIsRefused(PayloadAttack attack) {
        long victim = tree.symlink(1, "link", "target/of/the/victim");
        long other = tree.symlink(1, "other", "somewhere/else");
        ns.remount();
        tamper(rows -> attack.attack().accept(rows, new long[] {victim, other}));
        assertRefused(() -> tree.sealed().symlinkTarget(victim), "namespace " + MemoryNamespace.NAME + ": inode "
                + victim + ": symlink target");
        assertThat(tree.sealed().symlinkTarget(other)).isEqualTo(bytes("somewhere/else"));
    }

    // ------------------------------------------------------------------ the whole namespace

    /** fsck --verify: every inode with damage named, nothing for an untouched namespace. */
    @Test
    void theAuditNamesEveryDamagedInode() {
        long dir = tree.dir(1, "dir");
        long big = tree.file(dir, "big", random(300 * BLOCK, 7));
        long small = tree.file(dir, "small", bytes("version 1"));
        long tagged = tree.file(1, "tagged", bytes("has an attribute"));
        tree.setXattr(tagged, "user.k", "value");
        tree.symlink(1, "link", "dir/small");
        byte[] old = ns.store().tables().block(small, 0).orElseThrow();
        tree.rewrite(small, bytes("version 2"));
        ns.remount();
        assertThat(tree.sealed().audit(BLOCK)).as("untouched").isEmpty();
        tamper(rows -> rows.putBlock(small, 0, old)
                .putBlock(big, 257, flipped(rows.rows().block(big, 257).orElseThrow(), 100))
                .putXattr(tagged, bytes("user.k"), flipped(rows.rows().xattr(tagged, bytes("user.k")).orElseThrow(), 30)));
        try (LogCapture log = LogCapture.of(SealedStore.class)) {
            List<String> problems = tree.sealed().audit(BLOCK);
            assertThat(problems).hasSize(3);
            assertThat(problems).anySatisfy(p -> assertThat(p).contains("inode " + small + NOT_LAST_STORED));
            assertThat(problems).anySatisfy(p -> assertThat(p).contains("inode " + big + " block 257 failed"));
            assertThat(problems).anySatisfy(p -> assertThat(p).contains("inode " + tagged + ": xattr user.k"));
        }
    }
}
