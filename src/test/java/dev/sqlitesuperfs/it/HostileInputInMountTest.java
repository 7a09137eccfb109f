package dev.sqlitesuperfs.it;

import static dev.sqlitesuperfs.fuse.Errno.E2BIG;
import static dev.sqlitesuperfs.fuse.Errno.EFBIG;
import static dev.sqlitesuperfs.fuse.Errno.ERANGE;
import static dev.sqlitesuperfs.testing.Posix.errnoOf;
import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.testing.Posix;
import dev.sqlitesuperfs.testing.Shell;
import dev.sqlitesuperfs.testing.TestMount;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * What applications may throw at the mount: names made to break SQL or shell quoting, names that
 * are not UTF-8, attributes and files past the limits, a directory listed by one process while
 * another renames in it. Names are only ever bound values, so they come back byte for byte.
 * (255-byte names and 4,096-byte paths are PathLimitsTest's.)
 */
class HostileInputInMountTest {
    /** The largest file the mount takes, FsConfig.MAX_FILE_SIZE: 16 TiB. */
    private static final long MAX_FILE_SIZE = 1L << 44;

    @RegisterExtension
    static final TestMount mount = TestMount.perClass();

    static final List<String> NASTY_NAMES = List.of(
            "it's", "say \"hi\"", "back\\slash", "trailing\\", "new\nline", "tab\there", "semi;colon",
            "x'); DROP TABLE blocks; --", "\" OR 1=1 --", "%_*?[]", "$(touch pwned)", "`id`", "-rf", "--help",
            " leading and trailing spaces ", "ünïcödé ✓ 日本", "\u00a0nbsp", "NUL-free \u0001\u001f\u007f",
            "'; SELECT pg_sleep(10); --", "E'\\\\x00'");

    @Test
    void namesThatBreakQuotingComeBackByteForByte() throws IOException {
        Path dir = Files.createDirectory(mount.path("nasty"));
        for (String name : NASTY_NAMES) {
            Files.writeString(dir.resolve(name), name);
            Files.createDirectory(dir.resolve("dir " + name));
            Files.createSymbolicLink(dir.resolve("link " + name), Path.of(name));
        }
        mount.remount();
        Set<String> expected = new java.util.HashSet<>();
        for (String name : NASTY_NAMES) {
            expected.addAll(List.of(name, "dir " + name, "link " + name));
            assertThat(Files.readString(dir.resolve(name))).isEqualTo(name);
            assertThat(Files.readSymbolicLink(dir.resolve("link " + name))).isEqualTo(Path.of(name));
        }
        try (Stream<Path> listed = Files.list(dir)) {
            assertThat(listed.map(p -> p.getFileName().toString()).collect(Collectors.toSet())).isEqualTo(expected);
        }
        for (String name : NASTY_NAMES) {
            Files.move(dir.resolve(name), dir.resolve(name + " renamed"));
        }
        mount.remount();
        for (String name : NASTY_NAMES) {
            assertThat(Files.readString(dir.resolve(name + " renamed"))).isEqualTo(name);
            assertThat(Files.exists(dir.resolve(name))).isFalse();
        }
    }

    /** Linux names are bytes: one that is not UTF-8 is stored and listed as it was given. */
    @Test
    void namesThatAreNotUtf8Work() {
        Path dir = mount.path("bytes");
        String listing = Shell.run("sh", "-c", "mkdir '" + dir + "' && cd '" + dir + "'"
                + " && printf 'latin-1' > \"$(printf 'caf\\351')\" && printf 'cut' > \"$(printf 'half\\342\\234')\""
                + " && ls | od -An -c | tr -s ' \\n' ' '");
        assertThat(listing).contains("c a f 351", "h a l f 342 234");
        mount.remount();
        assertThat(Shell.run("sh", "-c", "cd '" + dir + "' && cat \"$(printf 'caf\\351')\" \"$(printf 'half\\342\\234')\""))
                .isEqualTo("latin-1cut");
    }

    @Test
    void attributeNamesAndValuesPastTheLimitsAreRefused() throws IOException {
        Path f = Files.createFile(mount.path("xattr-limits"));
        String longestName = "user." + "n".repeat(250);
        Posix.setxattr(f, longestName, new byte[65536], 0);
        assertThat(errnoOf(() -> Posix.setxattr(f, longestName + "n", "x".getBytes(), 0))).isEqualTo(ERANGE);
        assertThat(errnoOf(() -> Posix.setxattr(f, "user.huge", new byte[1 << 20], 0))).isEqualTo(E2BIG);
        mount.remount();
        assertThat(Posix.getxattr(f, longestName)).hasSize(65536);
        assertThat(Posix.listxattr(f)).containsExactly(longestName);
    }

    /**
     * Past 16 TiB: a truncate is refused at once. A write goes to the kernel's page cache first
     * (FUSE cannot tell the kernel a largest file size), so EFBIG arrives at fsync, when the
     * kernel hands the data over; nothing of it is stored. A file that ends exactly at the limit works.
     */
    @Test
    void filesPastTheSizeLimitAreRefusedWithEfbig() throws IOException {
        Path tooBig = Files.createFile(mount.path("too-big"));
        int fd = Posix.open(tooBig, Posix.O_RDWR, 0);
        try {
            assertThat(errnoOf(() -> Posix.ftruncate(fd, MAX_FILE_SIZE + 1))).isEqualTo(EFBIG);
            assertThat(errnoOf(() -> Posix.pwrite(fd, new byte[1], MAX_FILE_SIZE))).as("accepted into the page cache")
                    .isZero();
            assertThat(errnoOf(() -> Posix.fsync(fd))).isEqualTo(EFBIG);
        } finally {
            errnoOf(() -> Posix.close(fd));
        }
        Path f = Files.createFile(mount.path("huge"));
        int last = Posix.open(f, Posix.O_RDWR, 0);
        try {
            Posix.pwrite(last, "end".getBytes(StandardCharsets.US_ASCII), MAX_FILE_SIZE - 3);
            Posix.fsync(last);
        } finally {
            Posix.close(last);
        }
        mount.remount();
        assertThat(Posix.lstat(tooBig).size()).as("nothing past the limit was stored").isZero();
        assertThat(Posix.lstat(f).size()).isEqualTo(MAX_FILE_SIZE);
        int again = Posix.open(f, Posix.O_RDONLY, 0);
        try {
            assertThat(Posix.pread(again, 3, MAX_FILE_SIZE - 3)).isEqualTo("end".getBytes(StandardCharsets.US_ASCII));
            assertThat(Posix.pread(again, 3, 1L << 40)).containsOnly(0);
        } finally {
            Posix.close(again);
        }
        Files.delete(f);
        Files.delete(tooBig);
    }

    /** Two processes: one lists the directory again and again, the other renames in it meanwhile. */
    @Test
    void listingWhileAnotherProcessRenames() throws Exception {
        Path dir = Files.createDirectory(mount.path("busy"));
        for (int i = 0; i < 200; i++) {
            Files.createFile(dir.resolve("stable-" + i));
        }
        Files.createFile(dir.resolve("moving-a"));
        ProcessBuilder lister = new ProcessBuilder("sh", "-c", "for i in $(seq 400); do"
                + " n=$(ls -f '" + dir + "' | grep -c '^stable-') || exit 1; [ \"$n\" -eq 200 ] || { echo \"saw $n\"; exit 1; };"
                + " done").redirectErrorStream(true);
        ProcessBuilder renamer = new ProcessBuilder("sh", "-c", "for i in $(seq 400); do"
                + " mv '" + dir + "/moving-a' '" + dir + "/moving-b' && mv '" + dir + "/moving-b' '" + dir + "/moving-a'"
                + " || exit 1; done").redirectErrorStream(true);
        List<Process> processes = new ArrayList<>(List.of(lister.start(), renamer.start()));
        for (Process p : processes) {
            String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(p.waitFor()).as(output).isZero();
        }
        try (Stream<Path> listed = Files.list(dir)) {
            assertThat(listed.count()).isEqualTo(201);
        }
        assertThat(Files.exists(dir.resolve("moving-a"))).isTrue();
    }
}
