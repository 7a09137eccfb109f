package dev.sqlitesuperfs.it;

import static dev.sqlitesuperfs.testing.Posix.errnoOf;
import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.fuse.Errno;
import dev.sqlitesuperfs.testing.Posix;
import dev.sqlitesuperfs.testing.Shell;
import dev.sqlitesuperfs.testing.TestMount;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Limits of names and paths: 255-byte names (and 256 refused), absolute paths up to PATH_MAX, and
 * trees nested deeper than PATH_MAX allows to name in one path, each as on a local ext4 directory.
 */
class PathLimitsTest {
    private static final int NAME_MAX = 255;
    private static final int PATH_MAX = 4096;

    @RegisterExtension
    static final TestMount mount = TestMount.perClass();

    private static Path local;

    @BeforeAll
    static void localDirectory() throws IOException {
        local = Files.createTempDirectory(Path.of("target").toAbsolutePath(), "paths-ext4-");
    }

    @AfterAll
    static void removeLocalDirectory() {
        Shell.run("rm", "-rf", local.toString());
    }

    /** {@code length} bytes of UTF-8: two-byte characters, then one ASCII letter if odd. */
    private static String nameOfBytes(int length) {
        return "é".repeat(length / 2) + (length % 2 == 1 ? "x" : "");
    }

    /** The errno of each call on names of 255 and 256 bytes, in {@code dir}. */
    private static List<String> nameLengthAnswers(Path dir) {
        Path longest = dir.resolve(nameOfBytes(NAME_MAX));
        Path tooLong = dir.resolve(nameOfBytes(NAME_MAX + 1));
        Path asciiTooLong = dir.resolve("a".repeat(NAME_MAX + 1));
        List<String> answers = new ArrayList<>();
        answers.add("create 255: " + errnoOf(() -> Posix.close(Posix.open(longest, Posix.O_CREAT | Posix.O_WRONLY, 0644))));
        answers.add("stat 255: " + errnoOf(() -> Posix.lstat(longest)));
        answers.add("create 256: " + errnoOf(() -> Posix.open(tooLong, Posix.O_CREAT | Posix.O_WRONLY, 0644)));
        answers.add("create ascii 256: " + errnoOf(() -> Posix.open(asciiTooLong, Posix.O_CREAT | Posix.O_WRONLY, 0644)));
        answers.add("stat 256: " + errnoOf(() -> Posix.lstat(tooLong)));
        answers.add("mkdir 256: " + errnoOf(() -> Posix.mkdir(tooLong, 0755)));
        answers.add("symlink named 256: " + errnoOf(() -> Posix.symlink("target", tooLong)));
        answers.add("link to 256: " + errnoOf(() -> Posix.link(longest, tooLong)));
        answers.add("rename to 256: " + errnoOf(() -> Posix.rename(longest, tooLong, 0)));
        answers.add("setxattr on 256: " + errnoOf(() -> Posix.setxattr(tooLong, "user.a", new byte[1], 0)));
        answers.add("link to 255: " + errnoOf(() -> Posix.link(longest, dir.resolve(nameOfBytes(NAME_MAX - 1) + "y"))));
        answers.add("mkdir 255: " + errnoOf(() -> Posix.mkdir(dir.resolve("d" + "b".repeat(NAME_MAX - 1)), 0755)));
        return answers;
    }

    @Test
    void namesOf255BytesWorkAnd256AreTooLong() {
        Path onMount = mount.path("names");
        Posix.mkdir(onMount, 0755);
        List<String> ext4 = nameLengthAnswers(local);
        assertThat(ext4).contains("create 255: 0", "create 256: " + Errno.ENAMETOOLONG);
        assertThat(nameLengthAnswers(onMount)).isEqualTo(ext4);
        mount.remount();
        assertThat(Posix.lstat(onMount.resolve(nameOfBytes(NAME_MAX))).nlink()).isEqualTo(2);
        assertThat(Shell.lines("ls", onMount.toString())).hasSize(3);
        Shell.run("rm", "-r", onMount.toString());
    }

    /** Directories of 200-byte names under {@code base}, so that {@code base/dirs.../file} is {@code total} bytes. */
    private static Path pathOfLength(Path base, int total) {
        Path p = base;
        while (total - p.toString().length() > 250) {
            p = p.resolve("d".repeat(200));
        }
        int left = total - p.toString().length() - 1;
        return p.resolve("f".repeat(left));
    }

    private static List<String> pathLengthAnswers(Path base) throws IOException {
        Path longest = pathOfLength(base, PATH_MAX - 1);
        Path tooLong = pathOfLength(base, PATH_MAX);
        assertThat(longest.toString()).hasSize(PATH_MAX - 1);
        assertThat(tooLong.toString()).hasSize(PATH_MAX);
        Files.createDirectories(longest.getParent());
        List<String> answers = new ArrayList<>();
        answers.add("create 4095: " + errnoOf(() -> Posix.close(Posix.open(longest, Posix.O_CREAT | Posix.O_WRONLY, 0644))));
        answers.add("write 4095: " + errnoOf(() -> {
            int fd = Posix.open(longest, Posix.O_WRONLY, 0);
            Posix.write(fd, "at the bottom".getBytes());
            Posix.close(fd);
        }));
        answers.add("stat 4095: " + errnoOf(() -> Posix.lstat(longest)));
        answers.add("create 4096: " + errnoOf(() -> Posix.open(tooLong, Posix.O_CREAT | Posix.O_WRONLY, 0644)));
        answers.add("stat 4096: " + errnoOf(() -> Posix.lstat(tooLong)));
        answers.add("mkdir 4096: " + errnoOf(() -> Posix.mkdir(tooLong, 0755)));
        return answers;
    }

    @Test
    void absolutePathsUpToPathMax() throws IOException {
        List<String> ext4 = pathLengthAnswers(local.resolve("long"));
        assertThat(ext4).contains("create 4095: 0", "create 4096: " + Errno.ENAMETOOLONG);
        Path onMount = mount.path("long");
        assertThat(pathLengthAnswers(onMount)).isEqualTo(ext4);
        mount.remount();
        assertThat(Files.readString(pathOfLength(onMount, PATH_MAX - 1))).isEqualTo("at the bottom");
        Shell.run("rm", "-r", onMount.toString());
        assertThat(Files.exists(onMount)).isFalse();
    }

    @Test
    void aThousandLevelsDeep() throws IOException {
        Path top = mount.path("deep");
        Path bottom = top;
        for (int i = 0; i < 1000; i++) {
            bottom = bottom.resolve("d");
        }
        Files.createDirectories(bottom);
        Files.writeString(bottom.resolve("f"), "deep");
        assertThat(Posix.lstat(bottom).mode()).isEqualTo(040755);
        mount.remount();
        assertThat(Files.readString(bottom.resolve("f"))).isEqualTo("deep");
        assertThat(Posix.lstat(top).nlink()).isEqualTo(3);
        // removed from the bottom up, one call at a time
        Files.delete(bottom.resolve("f"));
        for (Path p = bottom; !p.equals(top.getParent()); p = p.getParent()) {
            Posix.rmdir(p);
        }
        assertThat(Files.exists(top)).isFalse();
    }

    @Test
    void treesDeeperThanPathMaxAreWalkedAndRemovedByRelativeSteps() throws IOException {
        // two chains of 700 levels, the second moved to the bottom of the first: 1,401 levels of
        // "dd/" (4,203 bytes) are more than one path can name, so only tools that step with openat (find, rm -r)
        // reach the bottom, as on ext4
        for (Path dir : List.of(local, mount.root())) {
            Path top = dir.resolve("deeper-than-path-max");
            Path lower = dir.resolve("lower-half");
            Path bottomOfTop = chain(top, 700);
            Files.writeString(chain(lower, 699).resolve("f"), "bottom");
            Posix.rename(lower, bottomOfTop.resolve("dd"), 0);
            assertThat(Shell.run("find", top.toString(), "-name", "f", "-execdir", "cat", "{}", ";")).isEqualTo("bottom");
            assertThat(Shell.run("sh", "-c", "find '" + top + "' | wc -l").trim()).isEqualTo("1402");
        }
        mount.remount();
        Path top = mount.path("deeper-than-path-max");
        assertThat(Shell.run("find", top.toString(), "-name", "f", "-execdir", "cat", "{}", ";")).isEqualTo("bottom");
        Shell.run("rm", "-r", top.toString());
        assertThat(Files.exists(top)).isFalse();
    }

    /** {@code top/dd/dd/...}, {@code levels} below {@code top}; returns the bottom. */
    private static Path chain(Path top, int levels) throws IOException {
        Path bottom = top;
        for (int i = 0; i < levels; i++) {
            bottom = bottom.resolve("dd");
        }
        Files.createDirectories(bottom);
        return bottom;
    }
}
