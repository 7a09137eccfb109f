package dev.sqlitesuperfs.it;

import static dev.sqlitesuperfs.testing.Posix.errnoOf;
import static dev.sqlitesuperfs.fuse.Errno.*;
import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.testing.Posix;
import dev.sqlitesuperfs.testing.Shell;
import dev.sqlitesuperfs.testing.TestMount;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Modes, owners, timestamps, special files, st_blocks, extended attributes. */
class AttributesTest {

    @RegisterExtension
    static final TestMount mount = TestMount.perClass("--allow-other");

    /**
     * Waits until a timestamp taken now is certain to be later than {@code stampNs}: the kernel
     * may stamp changes from its coarse clock, up to one tick (10 ms at most) behind the real one,
     * so the real clock must be past the stamp by more than a tick.
     */
    static void awaitClockPast(long stampNs) throws InterruptedException {
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (System.currentTimeMillis() * 1_000_000L <= stampNs + 20_000_000L) {
            assertThat(System.nanoTime()).as("the clock passes a stamp taken just now").isLessThan(deadline);
            Thread.sleep(1);
        }
    }

    @Test
    void chmodAndFchmodChangeModeAndCtime() throws IOException, InterruptedException {
        Path f = Files.createFile(mount.path("mode"));
        long ctime = Posix.lstat(f).ctimeNs();
        awaitClockPast(ctime);
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rwxr-x---"));
        Posix.Stat st = Posix.lstat(f);
        assertThat(st.mode() & 07777).isEqualTo(0750);
        assertThat(st.ctimeNs()).isGreaterThan(ctime);
        int fd = Posix.open(f, Posix.O_RDONLY, 0);
        try {
            Posix.fchmod(fd, 04711);
        } finally {
            Posix.close(fd);
        }
        mount.remount();
        assertThat(Posix.lstat(f).mode()).isEqualTo(0100000 | 04711);
    }

    @Test
    void chownAndOwnershipOfNewFilesFollowTheCaller() throws IOException {
        Path dir = Files.createDirectory(mount.path("owners"));
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxrwxrwx"));
        Shell.run("chown", "1234:5678", dir.toString());
        assertThat(Posix.lstat(dir).uid()).isEqualTo(1234);
        assertThat(Posix.lstat(dir).gid()).isEqualTo(5678);
        Shell.run("setpriv", "--reuid=4321", "--regid=8765", "--clear-groups", "touch", dir.resolve("mine").toString());
        Posix.Stat mine = Posix.lstat(dir.resolve("mine"));
        assertThat(mine.uid()).isEqualTo(4321);
        assertThat(mine.gid()).isEqualTo(8765);
        // permission checks are the kernel's (default_permissions): another user may not write it
        Files.setPosixFilePermissions(dir.resolve("mine"), PosixFilePermissions.fromString("rw-r--r--"));
        String denied = Shell.run("setpriv", "--reuid=999", "--regid=999", "--clear-groups", "sh", "-c",
                "echo x >> '" + dir.resolve("mine") + "' 2>&1 || echo denied");
        assertThat(denied).contains("denied");
    }

    @Test
    void setgidDirectoriesPassOnTheirGroup() throws IOException {
        Path dir = Files.createDirectory(mount.path("setgid"));
        Shell.run("chown", "0:4242", dir.toString());
        Shell.run("chmod", "2777", dir.toString());
        Shell.run("setpriv", "--reuid=1000", "--regid=1000", "--clear-groups", "mkdir", dir.resolve("sub").toString());
        Posix.Stat sub = Posix.lstat(dir.resolve("sub"));
        assertThat(sub.gid()).isEqualTo(4242);
        assertThat(sub.mode() & 02000).isEqualTo(02000);
    }

    @Test
    void timestampsWithNanosecondsNowAndOmit() throws IOException {
        Path f = Files.writeString(mount.path("times"), "t");
        Posix.utimens(f, 1_000_000_000L, 123_456_789, 1_500_000_000L, 987_654_321, false);
        Posix.Stat st = Posix.lstat(f);
        assertThat(st.atimeNs()).isEqualTo(1_000_000_000_123_456_789L);
        assertThat(st.mtimeNs()).isEqualTo(1_500_000_000_987_654_321L);
        Posix.utimens(f, 0, Posix.UTIME_OMIT, 0, Posix.UTIME_NOW, false);
        Posix.Stat after = Posix.lstat(f);
        assertThat(after.atimeNs()).isEqualTo(1_000_000_000_123_456_789L);
        assertThat(after.mtimeNs()).isGreaterThan(System.currentTimeMillis() * 1_000_000L - 60_000_000_000L);
        Posix.utimens(f, -86_400L, 5, 2_000_000_000L, 0, false); // before 1970 works too
        mount.remount();
        assertThat(Posix.lstat(f).atimeNs()).isEqualTo(-86_400L * 1_000_000_000L + 5);
        assertThat(Posix.lstat(f).mtimeNs()).isEqualTo(2_000_000_000L * 1_000_000_000L);
    }

    @Test
    void writesMoveMtimeAndCtime() throws IOException, InterruptedException {
        Path f = Files.writeString(mount.path("mtime"), "a");
        Posix.Stat before = Posix.lstat(f);
        awaitClockPast(Math.max(before.mtimeNs(), before.ctimeNs()));
        Files.writeString(f, "bb");
        Posix.Stat after = Posix.lstat(f);
        assertThat(after.mtimeNs()).isGreaterThan(before.mtimeNs());
        assertThat(after.ctimeNs()).isGreaterThan(before.ctimeNs());
        mount.remount();
        assertThat(Posix.lstat(f).mtimeNs()).isEqualTo(after.mtimeNs());
    }

    @Test
    void specialFiles() throws IOException {
        Path dir = Files.createDirectory(mount.path("special"));
        Posix.mknod(dir.resolve("fifo"), 0010644, 0);
        Posix.mknod(dir.resolve("sock"), 0140644, 0);
        Posix.mknod(dir.resolve("chr"), 0020600, (1L << 8) | 3); // like /dev/null: 1,3
        Posix.mknod(dir.resolve("plain"), 0100600, 0);
        mount.remount();
        assertThat(Posix.lstat(dir.resolve("fifo")).mode() & 0170000).isEqualTo(0010000);
        assertThat(Posix.lstat(dir.resolve("sock")).mode() & 0170000).isEqualTo(0140000);
        assertThat(Posix.lstat(dir.resolve("chr")).mode() & 0170000).isEqualTo(0020000);
        assertThat(Posix.lstat(dir.resolve("chr")).rdev()).isEqualTo((1L << 8) | 3);
        assertThat(Posix.lstat(dir.resolve("plain")).mode()).isEqualTo(0100600);
        assertThat(Shell.run("stat", "-c", "%F", dir.resolve("fifo").toString()).trim()).isEqualTo("fifo");
    }

    @Test
    void stBlocksCountsStoredBlocks() throws IOException {
        Path f = mount.path("blocks");
        Files.write(f, new byte[10 * 4096 + 1]);
        assertThat(Posix.lstat(f).blocks()).isEqualTo(11 * 8);
        assertThat(Posix.lstat(f).blksize()).isEqualTo(4096);
        mount.remount();
        assertThat(Posix.lstat(f).blocks()).isEqualTo(11 * 8);
    }

    @Test
    void extendedAttributes() throws IOException {
        Path f = Files.createFile(mount.path("xattrs"));
        Posix.setxattr(f, "user.colour", "blue".getBytes(), 0);
        Posix.setxattr(f, "user.empty", new byte[0], 0);
        byte[] big = new byte[65536];
        big[65535] = 7;
        Posix.setxattr(f, "user.big", big, 0);
        assertThat(errnoOf(() -> Posix.setxattr(f, "user.colour", "red".getBytes(), Posix.XATTR_CREATE))).isEqualTo(EEXIST);
        assertThat(errnoOf(() -> Posix.setxattr(f, "user.none", "x".getBytes(), Posix.XATTR_REPLACE))).isEqualTo(ENODATA);
        assertThat(errnoOf(() -> Posix.setxattr(f, "user.huge", new byte[65537], 0))).isEqualTo(E2BIG);
        assertThat(errnoOf(() -> Posix.setxattr(f, "nonamespace", "x".getBytes(), 0))).isEqualTo(EOPNOTSUPP);
        Posix.setxattr(f, "user.colour", "green".getBytes(), Posix.XATTR_REPLACE);
        assertThat(errnoOf(() -> Posix.getxattrSize(f, "user.colour", 2))).isEqualTo(ERANGE);
        assertThat(Posix.getxattrSize(f, "user.colour", 0)).isEqualTo(5);
        mount.remount();
        assertThat(Posix.getxattr(f, "user.colour")).isEqualTo("green".getBytes());
        assertThat(Posix.getxattr(f, "user.empty")).isEmpty();
        assertThat(Posix.getxattr(f, "user.big")).isEqualTo(big);
        assertThat(Posix.listxattr(f)).containsExactlyInAnyOrder("user.colour", "user.empty", "user.big");
        Posix.removexattr(f, "user.colour");
        assertThat(errnoOf(() -> Posix.getxattr(f, "user.colour"))).isEqualTo(ENODATA);
        assertThat(errnoOf(() -> Posix.removexattr(f, "user.colour"))).isEqualTo(ENODATA);
        Path d = Files.createDirectory(mount.path("xattr-dir"));
        Posix.setxattr(d, "user.on-dir", "d".getBytes(), 0);
        Posix.setxattr(d, "trusted.root-only", "r".getBytes(), 0);
        mount.remount();
        assertThat(Posix.getxattr(d, "user.on-dir")).isEqualTo("d".getBytes());
        assertThat(Posix.getxattr(d, "trusted.root-only")).isEqualTo("r".getBytes());
    }

    @Test
    void accessIsDecidedByModeBits() throws IOException {
        Path f = Files.writeString(mount.path("access"), "secret");
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-------"));
        String out = Shell.run("setpriv", "--reuid=1000", "--regid=1000", "--clear-groups", "sh", "-c",
                "cat '" + f + "' 2>&1 || echo refused");
        assertThat(out).contains("refused").doesNotContain("secret");
    }
}
