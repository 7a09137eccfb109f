package dev.sqlitesuperfs.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.testing.Posix;
import dev.sqlitesuperfs.testing.Shell;
import dev.sqlitesuperfs.testing.TestMount;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * tar, rsync and git moving trees into and out of the mount: what comes out must equal what went
 * in, down to modes, owners, nanosecond mtimes, symlinks, hard links and extended attributes.
 */
class ToolRoundTripTest {
    @RegisterExtension
    static final TestMount mount = TestMount.perClass();

    private static Path local;

    @BeforeAll
    static void localDirectory() throws IOException {
        local = Files.createTempDirectory(Path.of("target").toAbsolutePath(), "tools-ext4-");
    }

    @AfterAll
    static void removeLocalDirectory() {
        Shell.run("rm", "-rf", local.toString());
    }

    /** A small tree with every kind of thing the tools must carry. */
    static void buildTree(Path root) throws IOException {
        Files.createDirectories(root.resolve("sub/deeper"));
        Files.writeString(root.resolve("plain.txt"), "plain\n");
        Files.write(root.resolve("sub/random.bin"), FileOperationsTest.random(300_000, 7));
        Files.writeString(root.resolve("sub/deeper/script.sh"), "#!/bin/sh\necho hi\n");
        Files.createFile(root.resolve("empty"));
        Files.writeString(root.resolve("private"), "secret\n");
        Files.writeString(root.resolve("someone-elses"), "theirs\n");
        Posix.chmod(root.resolve("sub/deeper/script.sh"), 0755);
        Posix.chmod(root.resolve("private"), 0600);
        Posix.chmod(root.resolve("plain.txt"), 0444);
        Posix.chmod(root.resolve("sub/deeper"), 0750);
        Posix.lchown(root.resolve("someone-elses"), 1000, 1001);
        Posix.symlink("sub/random.bin", root.resolve("link-to-random"));
        Posix.symlink("does/not/exist", root.resolve("dangling"));
        Posix.link(root.resolve("sub/random.bin"), root.resolve("hard-1"));
        Posix.link(root.resolve("sub/random.bin"), root.resolve("sub/deeper/hard-2"));
        Posix.setxattr(root.resolve("plain.txt"), "user.colour", "blue".getBytes(StandardCharsets.UTF_8), 0);
        Posix.setxattr(root.resolve("sub"), "user.empty", new byte[0], 0);
        long t = 1_600_000_000L;
        int i = 0;
        try (Stream<Path> all = Files.walk(root)) {
            List<Path> paths = all.sorted((a, b) -> b.getNameCount() - a.getNameCount()).toList();
            for (Path p : paths) {
                // deepest first, so a directory's time is set after its children are touched
                Posix.utimens(p, t, 0, t + (i * 1000L), 123_456_789 + i, true);
                i++;
            }
        }
    }

    /**
     * One line per entry: type, mode, owner, size, mtime in ns, symlink target or content digest,
     * extended attributes, and which entry it is hard-linked to. Directory sizes differ between
     * filesystems and are left out.
     */
    static List<String> describe(Path root) throws IOException {
        List<String> lines = new ArrayList<>();
        Map<Long, String> firstNameOfInode = new HashMap<>();
        List<Path> paths;
        try (Stream<Path> all = Files.walk(root)) {
            paths = all.sorted().toList();
        }
        for (Path p : paths) {
            String rel = root.relativize(p).toString();
            Posix.Stat st = Posix.lstat(p);
            int type = st.mode() & 0170000;
            StringBuilder d = new StringBuilder(rel.isEmpty() ? "." : rel).append(' ');
            d.append(Integer.toOctalString(st.mode())).append(' ').append(st.uid()).append(':').append(st.gid());
            if (type != 0040000) {
                d.append(" size=").append(st.size());
            }
            d.append(" mtime=").append(st.mtimeNs());
            if (type == 0120000) {
                d.append(" -> ").append(Posix.readlink(p));
            } else if (type == 0100000) {
                d.append(" sha256=").append(sha256(Files.readAllBytes(p)));
                if (st.nlink() > 1) {
                    String first = firstNameOfInode.putIfAbsent(st.ino(), rel);
                    d.append(" nlink=").append(st.nlink()).append(first == null ? "" : " same-as=" + first);
                }
            }
            if (type != 0120000) {
                for (String name : Posix.listxattr(p).stream().sorted().toList()) {
                    d.append(' ').append(name).append('=').append(new String(Posix.getxattr(p, name), StandardCharsets.UTF_8));
                }
            }
            lines.add(d.toString());
        }
        return lines;
    }

    private static String sha256(byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String fresh(String name) {
        return name + "-" + System.nanoTime();
    }

    @Test
    void tarFromLocalDiskIntoTheMountAndBack() throws IOException {
        Path source = local.resolve(fresh("tar-source"));
        buildTree(source);
        List<String> expected = describe(source);
        Path archive = local.resolve(fresh("tree") + ".tar");
        Shell.run("tar", "--format=posix", "--xattrs", "--xattrs-include=user.*", "-C", source.toString(), "-cf",
                archive.toString(), ".");

        Path onMount = mount.path(fresh("tar-into"));
        Files.createDirectory(onMount);
        Shell.run("tar", "--xattrs", "--xattrs-include=user.*", "--same-owner", "-p", "-C", onMount.toString(), "-xf",
                archive.toString());
        assertThat(Shell.run("tar", "--xattrs", "--xattrs-include=user.*", "-C", onMount.toString(), "--compare", "-f",
                archive.toString())).isEmpty();
        assertThat(describe(onMount)).containsExactlyElementsOf(expected);
        mount.remount();
        assertThat(describe(onMount)).containsExactlyElementsOf(expected);
        Shell.run("diff", "-r", "--no-dereference", source.toString(), onMount.toString());

        // the reverse: archive made on the mount, extracted on local disk
        Path archiveFromMount = mount.path(fresh("from-mount") + ".tar");
        Shell.run("tar", "--format=posix", "--xattrs", "--xattrs-include=user.*", "-C", onMount.toString(), "-cf",
                archiveFromMount.toString(), ".");
        Path back = local.resolve(fresh("tar-back"));
        Files.createDirectory(back);
        Shell.run("tar", "--xattrs", "--xattrs-include=user.*", "--same-owner", "-p", "-C", back.toString(), "-xf",
                archiveFromMount.toString());
        assertThat(describe(back)).containsExactlyElementsOf(expected);
    }

    @Test
    void rsyncArchiveWithHardLinksAndXattrsRoundTrips() throws IOException {
        Path source = local.resolve(fresh("rsync-source"));
        buildTree(source);
        List<String> expected = describe(source);
        Path onMount = mount.path(fresh("rsync-into"));
        Shell.run("rsync", "-aHX", source + "/", onMount + "/");
        assertThat(describe(onMount)).containsExactlyElementsOf(expected);
        Path back = local.resolve(fresh("rsync-back"));
        Shell.run("rsync", "-aHX", onMount + "/", back + "/");
        assertThat(describe(back)).containsExactlyElementsOf(expected);
        Shell.run("diff", "-r", "--no-dereference", source.toString(), back.toString());
        // a second run finds nothing to do, in either direction
        assertThat(Shell.run("rsync", "-aHXi", source + "/", onMount + "/")).isEmpty();
        assertThat(Shell.run("rsync", "-aHXi", "--checksum", onMount + "/", back + "/")).isEmpty();
        // a change on the mount travels back, and only it
        Files.writeString(onMount.resolve("plain-new.txt"), "new\n");
        assertThat(Shell.run("rsync", "-aHXi", onMount + "/", back + "/").lines().toList())
                .containsExactlyInAnyOrder(">f+++++++++ plain-new.txt", ".d..t...... ./");
        // rsync itself leaves the receiving top directory's mtime at the moment of the transfer
        // (on ext4 too), so that one line is not compared
        assertThat(describe(back).subList(1, expected.size() + 1))
                .isEqualTo(describe(onMount).subList(1, expected.size() + 1));
        List<String> beforeRemount = describe(onMount);
        mount.remount();
        assertThat(describe(onMount)).isEqualTo(beforeRemount);
    }

    private static String git(Path dir, String... args) {
        List<String> cmd = new ArrayList<>(List.of("git", "-C", dir.toString(), "-c", "user.name=Test", "-c",
                "user.email=test@example.org", "-c", "init.defaultBranch=main", "-c", "gc.auto=0"));
        cmd.addAll(List.of(args));
        return Shell.run(cmd.toArray(String[]::new));
    }

    @Test
    void gitRepositoryLivesInTheMountAndClonesOut() throws IOException {
        Path repo = mount.path(fresh("repo"));
        Files.createDirectory(repo);
        git(repo, "init", "-q");
        for (int commit = 1; commit <= 6; commit++) {
            Files.createDirectories(repo.resolve("dir" + (commit % 3)));
            Files.writeString(repo.resolve("dir" + (commit % 3) + "/file" + commit + ".txt"), "commit " + commit + "\n");
            Files.write(repo.resolve("blob.bin"), FileOperationsTest.random(50_000 + commit, commit));
            Files.writeString(repo.resolve("log.txt"), "line " + commit + "\n", java.nio.file.StandardOpenOption.CREATE,
                    java.nio.file.StandardOpenOption.APPEND);
            if (commit == 4) {
                git(repo, "rm", "-q", "dir1/file1.txt");
                git(repo, "mv", "dir2/file2.txt", "renamed.txt");
            }
            git(repo, "add", "-A");
            git(repo, "commit", "-q", "-m", "commit " + commit);
        }
        git(repo, "gc", "-q", "--aggressive", "--prune=now");
        git(repo, "fsck", "--full", "--strict");
        assertThat(git(repo, "count-objects", "-v")).contains("count: 0").contains("packs: 1");
        assertThat(git(repo, "rev-list", "--count", "HEAD").trim()).isEqualTo("6");
        assertThat(git(repo, "status", "--porcelain")).isEmpty();
        String head = git(repo, "rev-parse", "HEAD").trim();

        mount.remount();
        git(repo, "fsck", "--full", "--strict");
        Path clone = local.resolve(fresh("clone"));
        Shell.run("git", "clone", "-q", "--no-hardlinks", repo.toString(), clone.toString());
        assertThat(git(clone, "rev-parse", "HEAD").trim()).isEqualTo(head);
        Shell.run("diff", "-r", "--exclude=.git", repo.toString(), clone.toString());
        assertThat(git(clone, "log", "--format=%H %s")).isEqualTo(git(repo, "log", "--format=%H %s"));

        // and back into the mount: a clone made on the mount from local disk
        Path cloneOnMount = mount.path(fresh("clone-back"));
        Shell.run("git", "clone", "-q", clone.toString(), cloneOnMount.toString());
        git(cloneOnMount, "fsck", "--full", "--strict");
        Shell.run("diff", "-r", "--exclude=.git", clone.toString(), cloneOnMount.toString());
    }
}
