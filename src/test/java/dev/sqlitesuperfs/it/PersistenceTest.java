package dev.sqlitesuperfs.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sqlitesuperfs.cli.ExitCode;
import dev.sqlitesuperfs.sealed.SealedNamespaceException;
import dev.sqlitesuperfs.testing.Posix;
import dev.sqlitesuperfs.testing.TestMount;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/** Everything written is there, identical, after unmount and mount. */
class PersistenceTest {

    /** A description of every object under a directory: kind, inode, mode, owner, size, times, links, content, xattrs. */
    static Map<String, String> snapshot(Path root) throws IOException {
        Map<String, String> result = new TreeMap<>();
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : walk.toList()) {
                Posix.Stat st = Posix.lstat(p);
                StringBuilder sb = new StringBuilder();
                sb.append("ino=").append(st.ino()).append(" mode=").append(Integer.toOctalString(st.mode()))
                        .append(" uid=").append(st.uid()).append(" gid=").append(st.gid())
                        .append(" nlink=").append(st.nlink()).append(" size=").append(st.size())
                        .append(" blocks=").append(st.blocks()).append(" rdev=").append(st.rdev())
                        .append(" mtime=").append(st.mtimeNs()).append(" atime=").append(st.atimeNs());
                if (Files.isSymbolicLink(p)) {
                    sb.append(" target=").append(Files.readSymbolicLink(p));
                } else if (Files.isRegularFile(p)) {
                    sb.append(" sha256=").append(sha256(Files.readAllBytes(p)));
                }
                if (!Files.isSymbolicLink(p)) {
                    for (String x : Posix.listxattr(p).stream().sorted().toList()) {
                        sb.append(' ').append(x).append('=').append(HexFormat.of().formatHex(Posix.getxattr(p, x)));
                    }
                }
                result.put(root.relativize(p).toString(), sb.toString());
            }
        }
        return result;
    }

    static String sha256(byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    static void build(Path root) throws IOException {
        Random r = new Random(42);
        Path docs = Files.createDirectories(root.resolve("docs/deep/er"));
        for (int size : List.of(0, 1, 4095, 4096, 4097, 100_000, 1_234_567)) {
            byte[] b = new byte[size];
            r.nextBytes(b);
            Files.write(root.resolve("docs/file-" + size), b);
        }
        Files.writeString(docs.resolve("note.txt"), "deep note");
        Files.createSymbolicLink(root.resolve("docs/link"), Path.of("deep/er/note.txt"));
        Posix.link(root.resolve("docs/file-4096"), root.resolve("hardlink"));
        Files.setPosixFilePermissions(root.resolve("docs/file-1"), java.nio.file.attribute.PosixFilePermissions.fromString("r-x-w---x"));
        Posix.setxattr(root.resolve("docs/file-0"), "user.meta", "value".getBytes(), 0);
        Posix.utimens(root.resolve("docs/file-100000"), 111, 222, 333, 444, false);
        Posix.mknod(root.resolve("fifo"), 0010600, 0);
        int fd = Posix.open(root.resolve("sparse"), Posix.O_CREAT | Posix.O_WRONLY, 0644);
        Posix.pwrite(fd, "end".getBytes(), 10_000_000);
        Posix.close(fd);
        Files.createDirectories(root.resolve("empty-dir"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"4096", "65536", "1048576"})
    void dataAndMetadataAreIdenticalAfterRemount(String blockSize) throws IOException {
        try (TestMount mount = TestMount.fresh("--block-size", blockSize)) {
            build(mount.root());
            Map<String, String> before = snapshot(mount.root());
            mount.remount();
            assertThat(snapshot(mount.root())).isEqualTo(before);
        }
    }

    @Test
    void aMountAskingForAnotherBlockSizeIsRefused() {
        TestMount first = TestMount.fresh("--block-size", "8192");
        first.unmount();
        assertThatThrownBy(() -> first.sameNamespaceElsewhere("--block-size", "4096"))
                .isInstanceOf(SealedNamespaceException.Mismatch.class)
                .hasMessageContaining("block size 8192")
                .satisfies(e -> assertThat(ExitCode.of(e)).isEqualTo(ExitCode.NAMESPACE));
        try (TestMount again = first.sameNamespaceElsewhere()) {
            assertThat(Posix.lstat(again.root()).blksize()).isEqualTo(8192);
        }
        first.close();
    }
}
