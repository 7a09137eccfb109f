package dev.sqlitesuperfs.it;

import static dev.sqlitesuperfs.testing.Posix.errnoOf;
import static dev.sqlitesuperfs.fuse.Errno.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sqlitesuperfs.testing.Posix;
import dev.sqlitesuperfs.testing.Shell;
import dev.sqlitesuperfs.testing.TestMount;
import java.io.IOException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Directories: creation, removal, listing, names, link counts, whole trees. */
class DirectoryTest {

    @RegisterExtension
    static final TestMount mount = TestMount.perClass();

    @Test
    void linkCountOfADirectoryIsTwoPlusItsSubdirectories() throws IOException {
        Path d = Files.createDirectory(mount.path("counts"));
        assertThat(Posix.lstat(d).nlink()).isEqualTo(2);
        Files.createDirectory(d.resolve("a"));
        Files.createDirectory(d.resolve("b"));
        Files.createFile(d.resolve("file"));
        assertThat(Posix.lstat(d).nlink()).isEqualTo(4);
        Files.delete(d.resolve("a"));
        assertThat(Posix.lstat(d).nlink()).isEqualTo(3);
    }

    @Test
    void removalRules() throws IOException {
        Path d = Files.createDirectory(mount.path("rules"));
        Files.createFile(d.resolve("f"));
        assertThatThrownBy(() -> Files.delete(d)).isInstanceOf(DirectoryNotEmptyException.class);
        assertThat(errnoOf(() -> Posix.rmdir(d.resolve("f")))).isEqualTo(ENOTDIR);
        assertThat(errnoOf(() -> Posix.unlink(d))).isEqualTo(EISDIR);
        assertThat(errnoOf(() -> Posix.rmdir(d))).isEqualTo(ENOTEMPTY);
        Files.delete(d.resolve("f"));
        Files.delete(d);
        assertThat(Files.exists(d)).isFalse();
    }

    @Test
    void listingShowsDotEntriesAndEveryName() throws IOException {
        Path d = Files.createDirectory(mount.path("listing"));
        for (int i = 0; i < 300; i++) {
            Files.createFile(d.resolve("file-" + i));
        }
        List<String> names = Shell.lines("ls", "-1a", d.toString());
        assertThat(names).contains(".", "..");
        assertThat(names).hasSize(302);
        Set<Long> inos = new HashSet<>();
        try (DirectoryStream<Path> s = Files.newDirectoryStream(d)) {
            for (Path p : s) {
                inos.add(Posix.lstat(p).ino());
            }
        }
        assertThat(inos).hasSize(300);
    }

    @Test
    void dotDotOfAMovedDirectoryIsItsNewParent() throws IOException {
        Path a = Files.createDirectories(mount.path("dotdot/a"));
        Path b = Files.createDirectories(mount.path("dotdot/b"));
        Files.move(a, b.resolve("a"));
        assertThat(Posix.lstat(b.resolve("a/..")).ino()).isEqualTo(Posix.lstat(b).ino());
        assertThat(Shell.run("sh", "-c", "cd '" + b.resolve("a") + "' && cd .. && pwd -P").trim())
                .isEqualTo(b.toString());
    }

    @Test
    void namesAreBytesNotText() throws IOException {
        Path d = Files.createDirectory(mount.path("bytes"));
        // A name that is not UTF-8 (0xff 0xfe), one with a newline, one with quotes and SQL.
        Shell.run("bash", "-c", "cd '" + d + "' && touch $'\\xff\\xfe' && touch $'new\\nline' && touch \"it's \\\"x\\\"; drop table inodes; --\"");
        String listing = Shell.run("bash", "-c", "cd '" + d + "' && ls -1b");
        assertThat(listing.lines()).containsExactlyInAnyOrder("\\377\\376", "new\\nline",
                "it's\\ \"x\";\\ drop\\ table\\ inodes;\\ --");
        mount.remount();
        assertThat(Shell.run("bash", "-c", "cd '" + d + "' && ls -1b").lines()).hasSize(3);
        assertThat(Shell.run("bash", "-c", "cd '" + d + "' && test -f $'\\xff\\xfe' && echo yes").trim()).isEqualTo("yes");
    }

    @Test
    void namesUpTo255BytesAndNoLonger() throws IOException {
        Path d = Files.createDirectory(mount.path("long-names"));
        Files.createFile(d.resolve("x".repeat(255)));
        assertThat(Files.exists(d.resolve("x".repeat(255)))).isTrue();
        assertThatThrownBy(() -> Files.createFile(d.resolve("y".repeat(256))))
                .isInstanceOf(FileSystemException.class).hasMessageContaining("File name too long");
        // 128 two-byte characters: 256 bytes.
        assertThat(Shell.run("bash", "-c", "cd '" + d + "' && n=$(printf '\\303\\251%.0s' $(seq 128)); touch \"$n\" 2>&1 || true"))
                .contains("File name too long");
        assertThat(errnoOf(() -> Posix.open(d.resolve("z".repeat(256)), Posix.O_CREAT | Posix.O_WRONLY, 0644)))
                .isEqualTo(ENAMETOOLONG);
    }

    @Test
    void deepPaths() throws IOException {
        Path p = mount.path("deep");
        StringBuilder rel = new StringBuilder("deep");
        for (int i = 0; i < 60; i++) {
            rel.append("/level-").append(i);
        }
        Path deepest = Files.createDirectories(mount.path(rel.toString()));
        Files.writeString(deepest.resolve("leaf"), "bottom");
        mount.remount();
        assertThat(Files.readString(deepest.resolve("leaf"))).isEqualTo("bottom");
        Shell.run("rm", "-rf", p.toString());
        assertThat(Files.exists(p)).isFalse();
    }

    @Test
    void recursiveCopyCompareAndRemove() throws IOException {
        Path source = Files.createTempDirectory("sqlitesuperfs-tree-");
        try {
            Shell.run("bash", "-c", "cd '" + source + "' && mkdir -p a/b/c d && head -c 100000 /dev/urandom > a/b/c/big"
                    + " && echo hi > d/small && ln -s ../d/small a/link && ln d/small d/hard && chmod 0750 a/b"
                    + " && touch -d '2001-02-03 04:05:06.123456789' d/small");
            Path target = mount.path("copy");
            Shell.run("cp", "-a", source.toString(), target.toString());
            assertThat(Shell.run("bash", "-c", "diff -r --no-dereference '" + source + "' '" + target + "' && echo same").trim())
                    .isEqualTo("same");
            assertThat(Posix.lstat(target.resolve("d/small")).mtimeNs())
                    .isEqualTo(Posix.lstat(source.resolve("d/small")).mtimeNs());
            assertThat(Posix.lstat(target.resolve("d/hard")).ino()).isEqualTo(Posix.lstat(target.resolve("d/small")).ino());
            Shell.run("rm", "-rf", target.toString());
            assertThat(Files.exists(target)).isFalse();
        } finally {
            Shell.run("rm", "-rf", source.toString());
        }
    }

    @Test
    void listingIsStableWhileTheDirectoryChanges() throws Exception {
        Path d = Files.createDirectory(mount.path("stable"));
        int n = 2000;
        for (int i = 0; i < n; i++) {
            Files.createFile(d.resolve("keep-" + i));
            Files.createFile(d.resolve("churn-" + i));
        }
        AtomicBoolean stop = new AtomicBoolean();
        Thread churn = Thread.ofPlatform().start(() -> {
            int i = 0;
            while (!stop.get()) {
                try {
                    Files.deleteIfExists(d.resolve("churn-" + (i % n)));
                    Files.createFile(d.resolve("new-" + i));
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
                i++;
            }
        });
        Map<String, Integer> seen = new HashMap<>();
        try {
            for (int round = 0; round < 3; round++) {
                seen.clear();
                try (DirectoryStream<Path> s = Files.newDirectoryStream(d)) {
                    for (Path p : s) {
                        seen.merge(p.getFileName().toString(), 1, Integer::sum);
                    }
                }
                for (int i = 0; i < n; i++) {
                    assertThat(seen.get("keep-" + i)).as("keep-%d seen once", i).isEqualTo(1);
                }
                assertThat(seen.values()).allMatch(c -> c == 1);
            }
        } finally {
            stop.set(true);
            churn.join();
        }
    }

    @Test
    void removedButOpenDirectoryListsNothing() throws IOException {
        Path d = Files.createDirectory(mount.path("gone"));
        int fd = Posix.open(d, Posix.O_RDONLY | Posix.O_DIRECTORY, 0);
        try {
            Files.delete(d);
            assertThat(Posix.fstat(fd).nlink()).isZero();
            assertThat(errnoOf(() -> Posix.lstat(d))).isEqualTo(2);
            assertThat(Shell.run("bash", "-c", "ls -1a /proc/self/fd/" + fd + "/ 2>&1 || true")).doesNotContain("gone");
        } finally {
            Posix.close(fd);
        }
    }
}
