package dev.sqlitesuperfs.fs;

import static dev.sqlitesuperfs.fs.FsFixture.BLOCK;
import static dev.sqlitesuperfs.fs.FsFixture.O_RDONLY;
import static dev.sqlitesuperfs.fs.FsFixture.O_RDWR;
import static dev.sqlitesuperfs.fs.FsFixture.ROOT;
import static dev.sqlitesuperfs.fs.FsFixture.bytes;
import static dev.sqlitesuperfs.fs.FsFixture.errno;
import static dev.sqlitesuperfs.fs.FsFixture.text;
import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.fuse.CreateResult;
import dev.sqlitesuperfs.fuse.Errno;
import dev.sqlitesuperfs.store.MemoryNamespaceStore.Fault;
import java.util.Arrays;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * What the filesystem does when a commit fails (README, "When written data cannot be stored"):
 * the call fails with EIO; a file's unstored data is given up whole, so it reads as what storage
 * holds; each handle open at the time reports the loss once, at its next fsync or close; memory
 * stays as storage has it for every other change; and the mount goes on once commits succeed.
 */
class FailedCommitTest {
    private final FsFixture f = new FsFixture();

    @AfterEach
    void close() {
        f.close();
    }

    private static byte[] filled(int length, int value) {
        byte[] b = new byte[length];
        Arrays.fill(b, (byte) value);
        return b;
    }

    @Test
    void aFailedFsyncGivesUpTheFilesUnstoredDataWholeAndEachHandleReportsItOnce() {
        CreateResult c = f.create(1, "f");
        long ino = c.entry().nodeId();
        long writer = c.open().fh();
        f.write(ino, writer, 0, bytes("stored part"));
        f.fsync(ino, writer);
        long reader = f.open(ino, O_RDONLY);
        f.write(ino, writer, 0, filled(2 * BLOCK, 'x'));
        f.file(1, "created meanwhile", "");

        f.store().failNext(1, Fault.UNAVAILABLE);
        assertThat(errno(() -> f.fsync(ino, writer))).isEqualTo(Errno.EIO);
        assertThat(f.attr(ino).size()).as("back to the stored size").isEqualTo(11);
        assertThat(text(f.read(ino, writer, 0, 100))).as("reads are what storage holds").isEqualTo("stored part");

        f.fsync(ino, writer);
        f.fs.flush(ROOT, ino, writer, 0);
        assertThat(errno(() -> f.fs.flush(ROOT, ino, reader, 0))).as("a handle open at the failure, once")
                .isEqualTo(Errno.EIO);
        f.fs.flush(ROOT, ino, reader, 0);
        f.fsync(ino, reader);
        long later = f.open(ino, O_RDWR);
        f.fs.flush(ROOT, ino, later, 0);

        // the mount goes on
        f.write(ino, later, 0, bytes("after recovery"));
        f.fsync(ino, later);
        f.fsyncdir(1);
        for (long fh : new long[] {writer, reader, later}) {
            f.release(ino, fh);
        }
        f.crashAndRemount();
        assertThat(text(f.content(ino))).isEqualTo("after recovery");
        assertThat(f.list(1)).as("the creation queued before the failure was kept and stored")
                .containsExactlyInAnyOrder("f", "created meanwhile");
        assertThat(f.store().check()).isEmpty();
    }

    /**
     * Past the stored size, where the kernel still counts the lost bytes, a read fails while a
     * handle open at the loss remains, and ends at the stored size after the last close: a reader
     * that opens the file afresh (SQLite looking at the journal a failed commit left behind) must
     * not get an error that nothing would ever clear.
     */
    @Test
    void pastTheStoredSizeReadsFailUntilTheLastHandleOpenAtTheLossIsClosed() {
        CreateResult c = f.create(1, "journal");
        long ino = c.entry().nodeId();
        long writer = c.open().fh();
        f.write(ino, writer, 0, filled(BLOCK + 100, 'j'));
        f.store().failNext(1, Fault.UNAVAILABLE);
        assertThat(errno(() -> f.fsync(ino, writer))).isEqualTo(Errno.EIO);
        assertThat(errno(() -> f.read(ino, writer, 0, 100))).as("while the writer that lost it is open")
                .isEqualTo(Errno.EIO);
        f.release(ino, writer);

        long reader = f.open(ino, O_RDONLY);
        assertThat(f.read(ino, reader, 0, 100)).as("what storage holds: nothing").isEmpty();
        f.release(ino, reader);
    }

    @Test
    void aFailedNamespaceChangeChangesNothingInMemory() {
        long a = f.file(1, "a", "a");
        long dir = f.mkdir(1, "dir");
        f.fsyncdir(1);
        long fh = f.open(a, O_RDWR);
        f.fsync(a, fh);
        f.release(a, fh);
        f.store().failNext(Integer.MAX_VALUE, Fault.UNAVAILABLE);
        assertThat(errno(() -> f.fs.unlink(ROOT, 1, bytes("a")))).isEqualTo(Errno.EIO);
        assertThat(errno(() -> f.rename(1, "a", dir, "b", 0))).isEqualTo(Errno.EIO);
        assertThat(errno(() -> f.fs.rmdir(ROOT, 1, bytes("dir")))).isEqualTo(Errno.EIO);
        assertThat(errno(() -> f.chmod(a, 0600))).isEqualTo(Errno.EIO);
        assertThat(errno(() -> f.fs.setxattr(ROOT, a, bytes("user.x"), bytes("v"), 0))).isEqualTo(Errno.EIO);
        f.store().stopFailing();

        assertThat(f.list(1)).containsExactlyInAnyOrder("a", "dir");
        assertThat(f.list(dir)).isEmpty();
        assertThat(f.attr(a).mode() & 07777).isEqualTo(0644);
        assertThat(f.attr(1).nlink()).isEqualTo(3);
        assertThat(f.fs.listxattr(ROOT, a)).isEmpty();
        f.assertStoredAsShown();
        f.rename(1, "a", dir, "b", 0);
        assertThat(text(f.content(f.lookup(dir, "b")))).isEqualTo("a");
    }

    /**
     * A transaction refused for good (a constraint, a permission taken away) is retried change set
     * by change set. A deferred creation that fails alone cannot be taken back (the mount already
     * shows it, and every later commit would count it in its directory's digest), so the writer
     * stops: every later change fails with EIO and nothing is stored after the missing creation
     * (README: storage holds a prefix of the changes to names). The next mount reads storage as it
     * is, and its directory checks out.
     */
    @Test
    void aDeferredCreationRefusedForGoodStopsTheWriterAndTheNextMountReadsWhatWasStored() {
        long a = f.file(1, "a", "a");
        f.fsyncdir(1);
        long fh = f.open(a, O_RDWR);
        f.write(a, fh, 0, bytes("unstored"));
        f.file(1, "queued", "");
        f.store().failNext(Integer.MAX_VALUE, Fault.REFUSED);
        assertThat(errno(() -> f.fsync(a, fh))).isEqualTo(Errno.EIO);
        f.store().stopFailing();
        assertThat(errno(() -> f.fs.mkdir(ROOT, 1, bytes("made after"), 0755, 0))).as("no change after it")
                .isEqualTo(Errno.EIO);
        f.release(a, fh);
        assertThat(f.store().tables().entryRows(1)).extracting(e -> text(e.name())).as("what storage holds")
                .containsExactly("a");
        f.crashAndRemount();
        assertThat(f.list(1)).as("the directory read again from storage").containsExactly("a");
    }

    @Test
    void aFencedMountFailsEveryChangeAndTheNextMountReadsWhatWasStored() {
        long a = f.file(1, "a", "stored");
        f.fsyncdir(1);
        long fh = f.open(a, O_RDWR);
        f.fsync(a, fh);
        f.write(a, fh, 0, bytes("lost"));
        f.store().failNext(1, Fault.FENCED);
        assertThat(errno(() -> f.fsync(a, fh))).isEqualTo(Errno.EIO);
        assertThat(errno(() -> f.fs.unlink(ROOT, 1, bytes("a")))).isEqualTo(Errno.EIO);
        assertThat(errno(() -> f.fs.setxattr(ROOT, a, bytes("user.x"), bytes("v"), 0))).isEqualTo(Errno.EIO);
        assertThat(text(f.read(a, fh, 0, 100))).as("reads go on").isEqualTo("stored");
        f.crashAndRemount();
        assertThat(text(f.content(a))).isEqualTo("stored");
    }
}
