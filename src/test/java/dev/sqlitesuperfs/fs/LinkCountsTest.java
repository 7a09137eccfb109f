package dev.sqlitesuperfs.fs;

import static dev.sqlitesuperfs.fs.FsFixture.ROOT;
import static dev.sqlitesuperfs.fs.FsFixture.bytes;
import static dev.sqlitesuperfs.fs.FsFixture.errno;
import static dev.sqlitesuperfs.fs.FsFixture.text;
import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.fuse.Entry;
import dev.sqlitesuperfs.fuse.Errno;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Link counts of files (hard links) and directories (2 + subdirectories), in memory and as stored. */
class LinkCountsTest {
    private final FsFixture f = new FsFixture();

    @AfterEach
    void close() {
        f.close();
    }

    @Test
    void hardLinksShareTheInodeAndCountItsNames() {
        long dir = f.mkdir(1, "dir");
        long a = f.file(1, "a", "shared");
        Entry linked = f.fs.link(ROOT, a, dir, bytes("b"));
        assertThat(linked.nodeId()).isEqualTo(a);
        assertThat(linked.attr().nlink()).isEqualTo(2);
        assertThat(f.attr(a).nlink()).isEqualTo(2);
        assertThat(f.lookup(dir, "b")).isEqualTo(a);
        f.assertStoredAsShown();

        f.fs.unlink(ROOT, 1, bytes("a"));
        assertThat(f.attr(a).nlink()).isEqualTo(1);
        assertThat(text(f.content(f.lookup(dir, "b")))).as("the data stays with the last name").isEqualTo("shared");
        f.assertStoredAsShown();

        f.fs.unlink(ROOT, dir, bytes("b"));
        f.fs.flushAll();
        assertThat(f.store().tables().inode(a)).as("gone with its last name").isEmpty();
        assertThat(f.store().check()).isEmpty();
    }

    @Test
    void linksAreRefusedForDirectoriesExistingNamesAndMissingInodes() {
        long dir = f.mkdir(1, "dir");
        long a = f.file(1, "a", "a");
        assertThat(errno(() -> f.fs.link(ROOT, dir, 1, bytes("dir2")))).isEqualTo(Errno.EPERM);
        assertThat(errno(() -> f.fs.link(ROOT, a, 1, bytes("dir")))).isEqualTo(Errno.EEXIST);
        assertThat(errno(() -> f.fs.link(ROOT, 4242, 1, bytes("x")))).isEqualTo(Errno.ENOENT);
        assertThat(f.attr(a).nlink()).isEqualTo(1);
    }

    @Test
    void mkdirAndRmdirCountTheParentsLinks() {
        assertThat(f.attr(1).nlink()).isEqualTo(2);
        long a = f.mkdir(1, "a");
        assertThat(f.attr(a).nlink()).isEqualTo(2);
        assertThat(f.attr(1).nlink()).isEqualTo(3);
        long b = f.mkdir(a, "b");
        f.file(a, "file", "a file is no subdirectory");
        assertThat(f.attr(a).nlink()).isEqualTo(3);
        assertThat(f.attr(b).nlink()).isEqualTo(2);
        f.assertStoredAsShown();

        assertThat(errno(() -> f.fs.rmdir(ROOT, 1, bytes("a")))).isEqualTo(Errno.ENOTEMPTY);
        assertThat(errno(() -> f.fs.rmdir(ROOT, a, bytes("file")))).isEqualTo(Errno.ENOTDIR);
        assertThat(errno(() -> f.fs.unlink(ROOT, a, bytes("b")))).isEqualTo(Errno.EISDIR);
        assertThat(errno(() -> f.fs.rmdir(ROOT, a, bytes(".")))).isEqualTo(Errno.EINVAL);
        assertThat(errno(() -> f.fs.rmdir(ROOT, a, bytes("..")))).isEqualTo(Errno.ENOTEMPTY);
        assertThat(errno(() -> f.fs.mkdir(ROOT, 1, bytes("a"), 0755, 0))).isEqualTo(Errno.EEXIST);

        f.fs.rmdir(ROOT, a, bytes("b"));
        assertThat(f.attr(a).nlink()).isEqualTo(2);
        f.fs.unlink(ROOT, a, bytes("file"));
        f.fs.rmdir(ROOT, 1, bytes("a"));
        assertThat(f.attr(1).nlink()).isEqualTo(2);
        assertThat(f.list(1)).isEmpty();
        f.assertStoredAsShown();
    }

    @Test
    void nothingCanBeCreatedInARemovedDirectory() {
        long gone = f.mkdir(1, "gone");
        f.fs.rmdir(ROOT, 1, bytes("gone"));
        assertThat(errno(() -> f.fs.mkdir(ROOT, gone, bytes("x"), 0755, 0))).isEqualTo(Errno.ENOENT);
        assertThat(errno(() -> f.create(gone, "x"))).isEqualTo(Errno.ENOENT);
        assertThat(f.attr(gone).nlink()).as("a removed directory has no links").isZero();
    }
}
