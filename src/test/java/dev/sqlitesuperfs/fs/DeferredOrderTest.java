package dev.sqlitesuperfs.fs;

import static dev.sqlitesuperfs.fs.FsFixture.O_RDWR;
import static dev.sqlitesuperfs.fs.FsFixture.ROOT;
import static dev.sqlitesuperfs.fs.FsFixture.bytes;
import static dev.sqlitesuperfs.fs.FsFixture.text;
import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.fuse.CreateResult;
import dev.sqlitesuperfs.store.MemoryNamespaceStore;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * What reaches storage when, as README's durability contract says: creations wait for the next
 * durability point and then go together, in order; removals of stored names commit before they
 * return; a removal of what was only created never reaches storage; written data is stored at its
 * file's fsync; and storage always holds a prefix of the changes to names and attributes, so a
 * crash loses only the latest ones. Asserted on the memory store's committed transactions.
 */
class DeferredOrderTest {
    private final FsFixture f = new FsFixture();

    @AfterEach
    void close() {
        f.close();
    }

    @Test
    void creationsWaitForTheNextDurabilityPointAndThenGoTogetherInOrder() {
        f.file(1, "a", "");
        long b = f.mkdir(1, "b");
        f.fs.symlink(ROOT, b, bytes("c"), bytes("target"));
        f.fs.mknod(ROOT, 1, bytes("d"), 0010644, 0, 0);
        assertThat(f.store().transactions()).as("nothing stored yet").isEmpty();
        assertThat(f.store().tables().entryRows(1)).isEmpty();
        assertThat(f.store().oldestDeferred()).isNotZero();

        f.fsyncdir(1);
        assertThat(f.store().transactions()).hasSize(1);
        MemoryNamespaceStore.Transaction tx = f.store().transactions().getFirst();
        assertThat(FsFixture.described(tx)).filteredOn(c -> c.startsWith("put-entry"))
                .containsExactly("put-entry a", "put-entry b", "put-entry c", "put-entry d");
        assertThat(tx.parts()).as("the creations were deferred; the fsync waited").extracting(MemoryNamespaceStore.Part::deferred)
                .containsExactly(true, true, true, true, false);
        assertThat(f.store().oldestDeferred()).isZero();
        assertThat(f.store().check()).isEmpty();
    }

    @Test
    void closeStoresNothingAndFsyncStoresTheDataWithEverythingBefore() {
        CreateResult c = f.create(1, "f");
        long ino = c.entry().nodeId();
        f.write(ino, c.open().fh(), 0, bytes("data"));
        f.fs.flush(ROOT, ino, c.open().fh(), 0);
        f.release(ino, c.open().fh());
        f.file(1, "g", "");
        assertThat(f.store().transactions()).isEmpty();

        long fh = f.open(ino, O_RDWR);
        f.fsync(ino, fh);
        assertThat(f.transactionsAfter(0)).singleElement().satisfies(changes -> assertThat(changes)
                .containsSubsequence("put-entry f", "put-entry g", "put-blocks " + ino));
        assertThat(f.store().tables().inode(ino).orElseThrow().size()).isEqualTo(4);
        f.release(ino, fh);
    }

    @Test
    void removingAStoredNameIsStoredBeforeItReturns() {
        f.file(1, "a", "a");
        long dir = f.mkdir(1, "dir");
        f.fsyncdir(1);
        int stored = f.store().transactions().size();
        f.fs.unlink(ROOT, 1, bytes("a"));
        assertThat(f.transactionsAfter(stored)).singleElement()
                .satisfies(changes -> assertThat(changes).contains("delete-entry a"));
        f.fs.rmdir(ROOT, 1, bytes("dir"));
        assertThat(f.transactionsAfter(stored + 1)).singleElement()
                .satisfies(changes -> assertThat(changes).contains("delete-entry dir", "delete-inode " + dir));
        f.crashAndRemount();
        assertThat(f.list(1)).isEmpty();
    }

    @Test
    void removingWhatWasOnlyCreatedNeverReachesStorage() {
        long x = f.file(1, "x", "");
        long y = f.mkdir(1, "y");
        f.fs.unlink(ROOT, 1, bytes("x"));
        f.fs.rmdir(ROOT, 1, bytes("y"));
        assertThat(f.store().transactions()).as("the removals wait with the creations").isEmpty();
        f.fsyncdir(1);
        // creation and removal in one transaction: no committed state ever had the names
        assertThat(f.transactionsAfter(0)).singleElement().satisfies(changes -> assertThat(changes)
                .containsSubsequence("put-entry x", "put-entry y", "delete-entry x", "delete-entry y"));
        assertThat(f.store().tables().inode(x)).isEmpty();
        assertThat(f.store().tables().inode(y)).isEmpty();
        assertThat(f.store().tables().entryRows(1)).isEmpty();
        assertThat(f.store().check()).isEmpty();
    }

    /** Storage holds a prefix of the changes: a commit takes everything deferred before it, nothing after. */
    @Test
    void aCrashLosesOnlyTheLatestChangesNeverAnEarlierOneAlone() {
        long q = f.file(1, "q", "q");
        f.fsyncdir(1);
        f.file(1, "p", "");
        f.chmod(q, 0600);
        assertThat(f.transactionsAfter(1)).as("the chmod took the creation before it").singleElement()
                .satisfies(changes -> assertThat(changes).containsSubsequence("put-entry p", "put-inode " + q));
        f.file(1, "r", "");
        f.crashAndRemount();
        assertThat(f.list(1)).containsExactlyInAnyOrder("p", "q");
        assertThat(f.attr(q).mode() & 07777).isEqualTo(0600);
    }

    @Test
    void writtenDataIsStoredPerFileAtItsFsync() {
        CreateResult a = f.create(1, "a");
        CreateResult b = f.create(1, "b");
        long ia = a.entry().nodeId();
        long ib = b.entry().nodeId();
        f.write(ia, a.open().fh(), 0, bytes("synced"));
        f.write(ib, b.open().fh(), 0, bytes("never synced"));
        f.fsync(ia, a.open().fh());
        List<List<String>> stored = f.transactionsAfter(0);
        assertThat(stored).singleElement().satisfies(changes -> assertThat(changes)
                .contains("put-entry a", "put-entry b", "put-blocks " + ia).doesNotContain("put-blocks " + ib));
        f.crashAndRemount();
        assertThat(text(f.content(ia))).isEqualTo("synced");
        assertThat(f.content(ib)).as("created, but its data never stored").isEmpty();
    }

    @Test
    void aLinkToAStoredUnchangedFileIsDeferredLikeACreation() {
        long a = f.file(1, "a", "a");
        f.fsyncdir(1);
        long fh = f.open(a, O_RDWR);
        f.fsync(a, fh);
        f.release(a, fh);
        int stored = f.store().transactions().size();
        f.fs.link(ROOT, a, 1, bytes("b"));
        assertThat(f.store().transactions()).hasSize(stored);
        f.fsyncdir(1);
        assertThat(f.transactionsAfter(stored)).singleElement()
                .satisfies(changes -> assertThat(changes).contains("put-entry b", "put-inode " + a));
        assertThat(f.store().check()).isEmpty();
    }
}
