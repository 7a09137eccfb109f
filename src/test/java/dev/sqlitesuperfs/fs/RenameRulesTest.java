package dev.sqlitesuperfs.fs;

import static dev.sqlitesuperfs.fs.FsFixture.RENAME_EXCHANGE;
import static dev.sqlitesuperfs.fs.FsFixture.RENAME_NOREPLACE;
import static dev.sqlitesuperfs.fs.FsFixture.errno;
import static dev.sqlitesuperfs.fs.FsFixture.text;
import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.fuse.Errno;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** rename(2) and renameat2(2) as POSIX and Linux define them, on a filesystem over the memory store. */
class RenameRulesTest {
    private final FsFixture f = new FsFixture();

    @AfterEach
    void close() {
        f.close();
    }

    @Test
    void aRenameOverAFileReplacesItAndTheReplacedInodeGoes() {
        long a = f.file(1, "a", "new");
        long b = f.file(1, "b", "old");
        f.fsyncdir(1);
        f.rename(1, "a", 1, "b", 0);
        assertThat(f.list(1)).containsExactly("b");
        assertThat(f.lookup(1, "b")).isEqualTo(a);
        assertThat(text(f.content(a))).isEqualTo("new");
        assertThat(f.store().tables().inode(b)).as("the replaced inode, no longer named nor open").isEmpty();
        f.assertStoredAsShown();
    }

    @Test
    void renameNoreplaceRefusesAnExistingTargetAndMovesOtherwise() {
        long a = f.file(1, "a", "a");
        f.file(1, "b", "b");
        assertThat(errno(() -> f.rename(1, "a", 1, "b", RENAME_NOREPLACE))).isEqualTo(Errno.EEXIST);
        assertThat(text(f.content(f.lookup(1, "b")))).as("nothing changed").isEqualTo("b");
        f.rename(1, "a", 1, "c", RENAME_NOREPLACE);
        assertThat(f.list(1)).containsExactlyInAnyOrder("b", "c");
        assertThat(f.lookup(1, "c")).isEqualTo(a);
        f.assertStoredAsShown();
    }

    @Test
    void renameExchangeSwapsTwoNamesAcrossDirectoriesWithTheirLinkCounts() {
        long left = f.mkdir(1, "left");
        long right = f.mkdir(1, "right");
        long dir = f.mkdir(left, "dir");
        long file = f.file(right, "file", "content");
        f.rename(left, "dir", right, "file", RENAME_EXCHANGE);
        assertThat(f.lookup(left, "dir")).isEqualTo(file);
        assertThat(f.lookup(right, "file")).isEqualTo(dir);
        assertThat(f.attr(left).nlink()).as("left lost its subdirectory").isEqualTo(2);
        assertThat(f.attr(right).nlink()).as("right gained one").isEqualTo(3);
        assertThat(errno(() -> f.rename(left, "dir", right, "missing", RENAME_EXCHANGE))).isEqualTo(Errno.ENOENT);
        assertThat(errno(() -> f.rename(left, "dir", right, "file", RENAME_EXCHANGE | RENAME_NOREPLACE)))
                .isEqualTo(Errno.EINVAL);
        f.assertStoredAsShown();
    }

    @Test
    void aDirectoryCannotMoveIntoItsOwnSubtree() {
        long a = f.mkdir(1, "a");
        long b = f.mkdir(a, "b");
        long c = f.mkdir(b, "c");
        assertThat(errno(() -> f.rename(1, "a", c, "a", 0))).isEqualTo(Errno.EINVAL);
        assertThat(errno(() -> f.rename(1, "a", a, "self", 0))).isEqualTo(Errno.EINVAL);
        assertThat(errno(() -> f.rename(a, "b", c, "x", RENAME_EXCHANGE))).as("nothing to exchange with")
                .isEqualTo(Errno.ENOENT);
        f.file(c, "x", "x");
        assertThat(errno(() -> f.rename(a, "b", c, "x", RENAME_EXCHANGE))).as("exchange with its own descendant")
                .isEqualTo(Errno.EINVAL);
        assertThat(f.lookup(c, "x")).isNotZero();
        f.assertStoredAsShown();
    }

    @Test
    void aDirectoryReplacesOnlyAnEmptyDirectory() {
        long src = f.mkdir(1, "src");
        long full = f.mkdir(1, "full");
        f.file(full, "inside", "x");
        f.mkdir(1, "empty");
        f.file(1, "file", "x");
        assertThat(errno(() -> f.rename(1, "src", 1, "full", 0))).isEqualTo(Errno.ENOTEMPTY);
        assertThat(errno(() -> f.rename(1, "src", 1, "file", 0))).isEqualTo(Errno.ENOTDIR);
        assertThat(errno(() -> f.rename(1, "file", 1, "src", 0))).isEqualTo(Errno.EISDIR);
        assertThat(f.attr(1).nlink()).isEqualTo(5);
        f.rename(1, "src", 1, "empty", 0);
        assertThat(f.lookup(1, "empty")).isEqualTo(src);
        assertThat(f.attr(1).nlink()).as("one subdirectory fewer").isEqualTo(4);
        f.assertStoredAsShown();
    }

    @Test
    void aDirectoryOverAnEmptyDirectoryInAnotherParentMovesOneLink() {
        long from = f.mkdir(1, "from");
        long to = f.mkdir(1, "to");
        long moved = f.mkdir(from, "moved");
        long replaced = f.mkdir(to, "replaced");
        f.rename(from, "moved", to, "replaced", 0);
        assertThat(f.lookup(to, "replaced")).isEqualTo(moved);
        assertThat(f.attr(from).nlink()).isEqualTo(2);
        assertThat(f.attr(to).nlink()).as("one subdirectory replaced by another").isEqualTo(3);
        assertThat(f.attr(replaced).nlink()).as("the replaced directory").isZero();
        f.assertStoredAsShown();
    }

    @Test
    void exchangingTwoDirectoriesAcrossParentsKeepsBothParentsCounts() {
        long left = f.mkdir(1, "left");
        long right = f.mkdir(1, "right");
        long l = f.mkdir(left, "l");
        long r = f.mkdir(right, "r");
        f.mkdir(l, "inside");
        f.rename(left, "l", right, "r", RENAME_EXCHANGE);
        assertThat(f.lookup(left, "l")).isEqualTo(r);
        assertThat(f.lookup(right, "r")).isEqualTo(l);
        assertThat(f.attr(left).nlink()).isEqualTo(3);
        assertThat(f.attr(right).nlink()).isEqualTo(3);
        assertThat(f.attr(l).nlink()).isEqualTo(3);
        f.assertStoredAsShown();
    }

    @Test
    void movingADirectoryMovesALinkFromOneParentToTheOther() {
        long from = f.mkdir(1, "from");
        long to = f.mkdir(1, "to");
        long moved = f.mkdir(from, "moved");
        f.mkdir(moved, "child");
        f.rename(from, "moved", to, "moved", 0);
        assertThat(f.attr(from).nlink()).isEqualTo(2);
        assertThat(f.attr(to).nlink()).isEqualTo(3);
        assertThat(f.attr(moved).nlink()).as("its own count is its own").isEqualTo(3);
        // ".." of the moved directory is its new parent
        long[] dotdot = {0};
        long fh = f.fs.opendir(FsFixture.ROOT, moved, 0).fh();
        f.fs.readdir(FsFixture.ROOT, moved, fh, 0, (name, ino, mode, next) -> {
            if (text(name).equals("..")) {
                dotdot[0] = ino;
            }
            return true;
        });
        f.fs.releasedir(FsFixture.ROOT, moved, fh);
        assertThat(dotdot[0]).isEqualTo(to);
        f.assertStoredAsShown();
    }

    @Test
    void renamingOneNameOfAnInodeOverAnotherNameOfItDoesNothing() {
        long a = f.file(1, "a", "data");
        f.fs.link(FsFixture.ROOT, a, 1, FsFixture.bytes("b"));
        f.rename(1, "a", 1, "b", 0);
        assertThat(f.list(1)).as("POSIX: both names stay").containsExactlyInAnyOrder("a", "b");
        assertThat(f.attr(a).nlink()).isEqualTo(2);
        f.assertStoredAsShown();
    }

    @Test
    void aMissingSourceOrUnknownFlagsAreRefused() {
        f.file(1, "a", "a");
        assertThat(errno(() -> f.rename(1, "missing", 1, "b", 0))).isEqualTo(Errno.ENOENT);
        assertThat(errno(() -> f.rename(1, "a", 1, "b", 4))).as("RENAME_WHITEOUT").isEqualTo(Errno.EINVAL);
        assertThat(errno(() -> f.rename(1, "a", 4242, "b", 0))).as("no such directory").isEqualTo(Errno.ENOENT);
        assertThat(f.list(1)).containsExactly("a");
    }

    /** A renamed stored name is durable when rename returns, with the file's written data. */
    @Test
    void aRenameOfAStoredNameIsStoredAtOnceWithTheFilesData() {
        long a = f.file(1, "a", "written, never synced");
        f.fsyncdir(1);
        int before = f.store().transactions().size();
        f.rename(1, "a", 1, "b", 0);
        assertThat(f.store().transactions()).hasSize(before + 1);
        assertThat(f.store().tables().entryRow(1, FsFixture.bytes("b"))).isPresent();
        assertThat(f.store().tables().inode(a).orElseThrow().size()).isEqualTo("written, never synced".length());
        f.crashAndRemount();
        assertThat(text(f.content(f.lookup(1, "b")))).isEqualTo("written, never synced");
    }
}
