package dev.sqlitesuperfs.it;

import static dev.sqlitesuperfs.testing.Posix.RENAME_EXCHANGE;
import static dev.sqlitesuperfs.testing.Posix.RENAME_NOREPLACE;
import static dev.sqlitesuperfs.testing.Posix.errnoOf;
import static dev.sqlitesuperfs.fuse.Errno.*;
import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.testing.Posix;
import dev.sqlitesuperfs.testing.TestMount;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** rename(2) in all its forms, hard links and symbolic links. */
class RenameAndLinkTest {

    @RegisterExtension
    static final TestMount mount = TestMount.perClass();

    @Test
    void renameKeepsTheInodeAndReplacesTheTarget() throws IOException {
        Path dir = Files.createDirectory(mount.path("replace"));
        Path a = Files.writeString(dir.resolve("a"), "new content");
        Path b = Files.writeString(dir.resolve("b"), "old content");
        long inoA = Posix.lstat(a).ino();
        int fdB = Posix.open(b, Posix.O_RDONLY, 0);
        try {
            Posix.rename(a, b, 0);
            assertThat(Files.exists(a)).isFalse();
            assertThat(Posix.lstat(b).ino()).isEqualTo(inoA);
            assertThat(Files.readString(b)).isEqualTo("new content");
            // the replaced file lives on for whoever had it open
            assertThat(new String(Posix.pread(fdB, 100, 0))).isEqualTo("old content");
            assertThat(Posix.fstat(fdB).nlink()).isZero();
        } finally {
            Posix.close(fdB);
        }
    }

    @Test
    void directoryRules() throws IOException {
        Path dir = Files.createDirectory(mount.path("dir-rules"));
        Path d1 = Files.createDirectory(dir.resolve("d1"));
        Path empty = Files.createDirectory(dir.resolve("empty"));
        Path full = Files.createDirectory(dir.resolve("full"));
        Files.createFile(full.resolve("x"));
        Path file = Files.createFile(dir.resolve("file"));

        assertThat(errnoOf(() -> Posix.rename(d1, full, 0))).isEqualTo(ENOTEMPTY);
        assertThat(errnoOf(() -> Posix.rename(file, empty, 0))).isEqualTo(EISDIR);
        assertThat(errnoOf(() -> Posix.rename(d1, file, 0))).isEqualTo(ENOTDIR);
        Files.createDirectory(d1.resolve("sub"));
        assertThat(errnoOf(() -> Posix.rename(d1, d1.resolve("sub/inside"), 0))).isEqualTo(EINVAL);
        assertThat(errnoOf(() -> Posix.rename(dir.resolve("missing"), dir.resolve("x"), 0))).isEqualTo(ENOENT);

        long ino = Posix.lstat(d1).ino();
        Posix.rename(d1, empty, 0); // replaces the empty directory
        assertThat(Posix.lstat(empty).ino()).isEqualTo(ino);
        assertThat(Files.exists(empty.resolve("sub"))).isTrue();
        assertThat(Posix.lstat(dir).nlink()).isEqualTo(2 + 2); // empty (was d1) and full
    }

    @Test
    void noReplaceAndExchange() throws IOException {
        Path dir = Files.createDirectory(mount.path("flags"));
        Path a = Files.writeString(dir.resolve("a"), "A");
        Path b = Files.writeString(dir.resolve("b"), "B");
        assertThat(errnoOf(() -> Posix.rename(a, b, RENAME_NOREPLACE))).isEqualTo(EEXIST);
        Posix.rename(a, dir.resolve("c"), RENAME_NOREPLACE);
        Path c = dir.resolve("c");
        Posix.rename(c, b, RENAME_EXCHANGE);
        assertThat(Files.readString(c)).isEqualTo("B");
        assertThat(Files.readString(b)).isEqualTo("A");
        assertThat(errnoOf(() -> Posix.rename(c, dir.resolve("nothing"), RENAME_EXCHANGE))).isEqualTo(ENOENT);
        assertThat(errnoOf(() -> Posix.rename(c, b, RENAME_EXCHANGE | RENAME_NOREPLACE))).isEqualTo(EINVAL);
    }

    @Test
    void exchangeOfAFileAndADirectoryAcrossParentsKeepsLinkCounts() throws IOException {
        Path p1 = Files.createDirectories(mount.path("xchg/p1"));
        Path p2 = Files.createDirectories(mount.path("xchg/p2"));
        Path sub = Files.createDirectory(p1.resolve("sub"));
        Files.writeString(sub.resolve("inner"), "in");
        Path file = Files.writeString(p2.resolve("file"), "f");
        Posix.rename(sub, file, RENAME_EXCHANGE);
        assertThat(Files.isDirectory(file)).isTrue();
        assertThat(Files.readString(file.resolve("inner"))).isEqualTo("in");
        assertThat(Files.readString(sub)).isEqualTo("f");
        assertThat(Posix.lstat(p1).nlink()).isEqualTo(2);
        assertThat(Posix.lstat(p2).nlink()).isEqualTo(3);
        mount.remount();
        assertThat(Posix.lstat(p1).nlink()).isEqualTo(2);
        assertThat(Posix.lstat(p2).nlink()).isEqualTo(3);
        assertThat(Posix.lstat(file.resolve("..")).ino()).isEqualTo(Posix.lstat(p2).ino());
    }

    /** The original project corrupted link counts here (files vanished later). */
    @Test
    void crossDirectoryDirectoryRenameKeepsEveryLinkCountAfterRemount() throws IOException {
        Path src = Files.createDirectories(mount.path("cross/src"));
        Path dst = Files.createDirectories(mount.path("cross/dst"));
        Path moved = Files.createDirectories(src.resolve("moved/deeper"));
        Files.writeString(moved.resolve("f"), "payload");
        Files.createDirectory(dst.resolve("existing"));

        Files.move(src.resolve("moved"), dst.resolve("moved"));
        Files.move(dst.resolve("existing"), src.resolve("existing"));
        mount.remount();

        assertThat(Posix.lstat(src).nlink()).isEqualTo(3); // existing
        assertThat(Posix.lstat(dst).nlink()).isEqualTo(3); // moved
        assertThat(Posix.lstat(dst.resolve("moved")).nlink()).isEqualTo(3); // deeper
        assertThat(Files.readString(dst.resolve("moved/deeper/f"))).isEqualTo("payload");
        assertThat(Posix.lstat(dst.resolve("moved/deeper/f")).nlink()).isEqualTo(1);
        mount.unmount();
        assertThat(mount.check()).isEmpty();
        mount.mountAgain();
    }

    @Test
    void renameOntoAnotherNameOfTheSameInodeDoesNothing() throws IOException {
        Path dir = Files.createDirectory(mount.path("same-inode"));
        Path a = Files.writeString(dir.resolve("a"), "x");
        Path b = dir.resolve("b");
        Posix.link(a, b);
        Posix.rename(a, b, 0);
        assertThat(Files.exists(a)).isTrue();
        assertThat(Files.exists(b)).isTrue();
        assertThat(Posix.lstat(a).nlink()).isEqualTo(2);
    }

    @Test
    void hardLinksShareTheInodeAndCountExactly() throws IOException {
        Path dir = Files.createDirectory(mount.path("hard"));
        Path a = Files.writeString(dir.resolve("a"), "shared");
        Path other = Files.createDirectory(mount.path("hard-other"));
        Posix.link(a, dir.resolve("b"));
        Posix.link(a, other.resolve("c"));
        assertThat(Posix.lstat(a).nlink()).isEqualTo(3);
        assertThat(Posix.lstat(other.resolve("c")).ino()).isEqualTo(Posix.lstat(a).ino());
        Files.writeString(dir.resolve("b"), "changed through b");
        assertThat(Files.readString(other.resolve("c"))).isEqualTo("changed through b");
        Files.delete(a);
        assertThat(Posix.lstat(dir.resolve("b")).nlink()).isEqualTo(2);
        mount.remount();
        assertThat(Posix.lstat(dir.resolve("b")).nlink()).isEqualTo(2);
        assertThat(Files.readString(other.resolve("c"))).isEqualTo("changed through b");
        assertThat(errnoOf(() -> Posix.link(dir, mount.path("dir-link")))).isEqualTo(EPERM);
        assertThat(errnoOf(() -> Posix.link(dir.resolve("b"), other.resolve("c")))).isEqualTo(EEXIST);
    }

    @Test
    void symlinksIncludingDanglingOnes() throws IOException {
        Path dir = Files.createDirectory(mount.path("sym"));
        Path target = Files.writeString(dir.resolve("target"), "t");
        Path link = Files.createSymbolicLink(dir.resolve("link"), Path.of("target"));
        Path dangling = Files.createSymbolicLink(dir.resolve("dangling"), Path.of("nowhere/at/all"));
        String longTarget = "x/".repeat(2047) + "y"; // 4095 bytes
        Path longLink = Files.createSymbolicLink(dir.resolve("long"), Path.of(longTarget));
        assertThat(Files.readString(link)).isEqualTo("t");
        assertThat(Files.readSymbolicLink(dangling)).isEqualTo(Path.of("nowhere/at/all"));
        assertThat(Files.exists(dangling)).isFalse();
        assertThat(Files.isSymbolicLink(dangling)).isTrue();
        assertThat(Posix.lstat(longLink).size()).isEqualTo(4095);
        mount.remount();
        assertThat(Files.readSymbolicLink(longLink).toString()).isEqualTo(longTarget);
        assertThat(Files.readString(link)).isEqualTo("t");
        assertThat(Posix.lstat(link).mode() & 0170000).isEqualTo(0120000);
        Files.delete(target);
        assertThat(Files.exists(link)).isFalse();
    }
}
