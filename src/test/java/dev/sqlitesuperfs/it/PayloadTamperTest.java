package dev.sqlitesuperfs.it;

import static dev.sqlitesuperfs.fuse.Errno.EIO;
import static dev.sqlitesuperfs.testing.Posix.errnoOf;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sqlitesuperfs.crypto.SealedStore;
import dev.sqlitesuperfs.testing.LogCapture;
import dev.sqlitesuperfs.testing.Posix;
import dev.sqlitesuperfs.testing.TestMount;
import dev.sqlitesuperfs.testing.TestPostgres;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Attacks on stored payloads (blocks, symlink targets, extended-attribute values) by SQL from
 * outside while the namespace is not mounted, then read through a real mount: the affected read
 * gets EIO, the log names namespace, inode and what failed, every other byte is still served, and
 * the mount goes on. {@link StorageSecrecyTest} has the plain bit flip in the ciphertext and the
 * block copied to another index and file; the payload format itself is tested bit by bit in
 * {@code SealerTamperTest}.
 *
 * <p>The last tests are attacks this format does not detect; they assert today's behaviour so
 * that the gap is explicit and the format change that closes it (SECURITY.md, "Open") must
 * turn them around.
 */
class PayloadTamperTest {
    static final int BLOCK = 4096;

    /** One attack on block 1 of a file of three blocks; {@code %s} is the blocks table, ? the inode. */
    record BlockAttack(String name, List<String> statements, List<Integer> refusedBlocks, String logged) {}

    static final List<BlockAttack> BLOCK_ATTACKS = List.of(
            new BlockAttack("nonce bit", List.of(
                    "UPDATE %s SET data = set_byte(data, 5, get_byte(data, 5) # 8) WHERE ino = ? AND idx = 1"),
                    List.of(1), "block 1 failed authentication"),
            new BlockAttack("tag bit", List.of(
                    "UPDATE %s SET data = set_byte(data, length(data) - 1, get_byte(data, length(data) - 1) # 128)"
                            + " WHERE ino = ? AND idx = 1"),
                    List.of(1), "block 1 failed authentication"),
            new BlockAttack("truncated by one byte", List.of(
                    "UPDATE %s SET data = substring(data for length(data) - 1) WHERE ino = ? AND idx = 1"),
                    List.of(1), "block 1 failed authentication"),
            new BlockAttack("truncated below nonce and tag", List.of(
                    "UPDATE %s SET data = substring(data for 20) WHERE ino = ? AND idx = 1"),
                    List.of(1), "block 1: stored block too short"),
            new BlockAttack("emptied", List.of("UPDATE %s SET data = ''::bytea WHERE ino = ? AND idx = 1"),
                    List.of(1), "block 1: stored block too short"),
            new BlockAttack("one byte longer than a block can be", List.of(
                    "UPDATE %s SET data = data || '\\x00'::bytea WHERE ino = ? AND idx = 1"),
                    List.of(1), "block 1 failed authentication"),
            new BlockAttack("blocks 0 and 1 swapped", List.of(
                    "UPDATE %1$s b SET data = o.data FROM %1$s o WHERE b.ino = ? AND o.ino = b.ino"
                            + " AND b.idx IN (0, 1) AND o.idx = 1 - b.idx"),
                    List.of(0, 1), "block 0 failed authentication"),
            new BlockAttack("block 0 copied into the hole at block 2", List.of(
                    "INSERT INTO %1$s (ino, idx, data) SELECT ino, 2, data FROM %1$s WHERE ino = ? AND idx = 0"),
                    List.of(2), "block 2 failed authentication"));

    @Test
    void tamperedBlocksGiveEioForThatBlockOnlyAndALogLine() throws IOException {
        SplittableRandom random = new SplittableRandom(5);
        try (TestMount mount = TestMount.fresh()) {
            Map<BlockAttack, byte[]> contents = new LinkedHashMap<>();
            Map<BlockAttack, Long> inodes = new LinkedHashMap<>();
            for (BlockAttack attack : BLOCK_ATTACKS) {
                byte[] data = new byte[3 * BLOCK];
                random.nextBytes(data);
                Path file = mount.path(fileName(attack));
                if (attack.name().contains("hole")) {
                    // blocks 0 and 1 stored, block 2 a hole at the end of a file of three blocks
                    Arrays.fill(data, 2 * BLOCK, 3 * BLOCK, (byte) 0);
                    Files.write(file, Arrays.copyOf(data, 2 * BLOCK));
                    int fd = Posix.open(file, Posix.O_WRONLY, 0);
                    Posix.ftruncate(fd, 3 * BLOCK);
                    Posix.close(fd);
                } else {
                    Files.write(file, data);
                }
                contents.put(attack, data);
                inodes.put(attack, Posix.lstat(file).ino());
            }
            Files.writeString(mount.path("bystander"), "fine");
            mount.unmount();
            String blocks = "\"" + mount.namespace() + "\".blocks";
            for (BlockAttack attack : BLOCK_ATTACKS) {
                for (String statement : attack.statements()) {
                    assertThat(TestPostgres.update(statement.formatted(blocks), inodes.get(attack)))
                            .as(attack.name()).isPositive();
                }
            }

            mount.mountAgain();
            try (LogCapture log = LogCapture.of(SealedStore.class)) {
                for (BlockAttack attack : BLOCK_ATTACKS) {
                    byte[] data = contents.get(attack);
                    int fd = Posix.open(mount.path(fileName(attack)), Posix.O_RDONLY, 0);
                    try {
                        for (int idx = 0; idx < 3; idx++) {
                            long offset = (long) idx * BLOCK;
                            if (attack.refusedBlocks().contains(idx)) {
                                assertThat(errnoOf(() -> Posix.pread(fd, BLOCK, offset)))
                                        .as("%s: block %d", attack.name(), idx).isEqualTo(EIO);
                            } else {
                                assertThat(Posix.pread(fd, BLOCK, offset)).as("%s: block %d", attack.name(), idx)
                                        .isEqualTo(Arrays.copyOfRange(data, idx * BLOCK, (idx + 1) * BLOCK));
                            }
                        }
                    } finally {
                        Posix.close(fd);
                    }
                    assertThat(log.lines()).as(attack.name()).anySatisfy(line -> assertThat(line).contains(
                            "namespace " + mount.namespace() + ": inode " + inodes.get(attack) + " " + attack.logged(),
                            "refusing to serve it"));
                }
            }
            assertThat(Files.readString(mount.path("bystander"))).isEqualTo("fine");
            mount.unmount();
            // fsck notices the block added to the hole by its count; the other attacks it cannot see
            long filled = inodes.get(BLOCK_ATTACKS.getLast());
            assertThat(mount.check()).containsExactly("inode " + filled + " has nblocks 2 but 3 stored blocks");
        }
    }

    /**
     * Two namespaces under the same passphrase, a file at the same inode number in each: a block
     * of one copied into the other still fails, because each has its own data key and UUID.
     */
    @Test
    void aBlockCopiedFromAnotherNamespaceWithTheSamePassphraseIsRefused() throws IOException {
        try (TestMount victim = TestMount.fresh(); TestMount donor = TestMount.fresh()) {
            Files.write(victim.path("f"), new byte[2 * BLOCK]);
            Files.write(donor.path("f"), new byte[2 * BLOCK]);
            long ino = Posix.lstat(victim.path("f")).ino();
            assertThat(Posix.lstat(donor.path("f")).ino()).as("same inode number in both namespaces").isEqualTo(ino);
            victim.unmount();
            donor.unmount();
            TestPostgres.update("UPDATE \"" + victim.namespace() + "\".blocks v SET data = d.data FROM \""
                    + donor.namespace() + "\".blocks d WHERE v.ino = ? AND d.ino = v.ino AND v.idx = 1 AND d.idx = 1", ino);
            victim.mountAgain();
            try (LogCapture log = LogCapture.of(SealedStore.class)) {
                int fd = Posix.open(victim.path("f"), Posix.O_RDONLY, 0);
                try {
                    assertThat(Posix.pread(fd, BLOCK, 0)).containsOnly(0);
                    assertThat(errnoOf(() -> Posix.pread(fd, BLOCK, BLOCK))).isEqualTo(EIO);
                } finally {
                    Posix.close(fd);
                }
                assertThat(log.lines()).anySatisfy(line -> assertThat(line).contains(
                        "inode " + ino + " block 1 failed authentication"));
            }
        }
    }

    @Test
    void tamperedSymlinkTargetsGiveEio() throws IOException {
        try (TestMount mount = TestMount.fresh()) {
            Map<String, String> attacks = new LinkedHashMap<>();
            attacks.put("flipped", "UPDATE %s SET target = set_byte(target, 30, get_byte(target, 30) # 1) WHERE ino = ?");
            attacks.put("truncated", "UPDATE %s SET target = substring(target for length(target) - 1) WHERE ino = ?");
            attacks.put("emptied", "UPDATE %s SET target = ''::bytea WHERE ino = ?");
            attacks.put("copied", "UPDATE %1$s t SET target = o.target FROM %1$s o, \"%2$s\".dirents d"
                    + " WHERE t.ino = ? AND d.name = 'link-other'::bytea AND o.ino = d.ino");
            attacks.put("removed", "DELETE FROM %s WHERE ino = ?");
            Map<String, Long> inodes = new LinkedHashMap<>();
            for (String name : attacks.keySet()) {
                Path link = Files.createSymbolicLink(mount.path("link-" + name), Path.of("target/of/" + name));
                inodes.put(name, Posix.lstat(link).ino());
            }
            Files.createSymbolicLink(mount.path("link-other"), Path.of("somewhere/else"));
            mount.unmount();
            String symlinks = "\"" + mount.namespace() + "\".symlinks";
            for (Map.Entry<String, String> attack : attacks.entrySet()) {
                assertThat(TestPostgres.update(attack.getValue().formatted(symlinks, mount.namespace()),
                        inodes.get(attack.getKey()))).as(attack.getKey()).isEqualTo(1);
            }
            mount.mountAgain();
            try (LogCapture log = LogCapture.of(SealedStore.class)) {
                for (String name : attacks.keySet()) {
                    assertThatThrownBy(() -> Files.readSymbolicLink(mount.path("link-" + name))).as(name)
                            .isInstanceOf(FileSystemException.class)
                            .satisfies(e -> assertThat(((FileSystemException) e).getReason())
                                    .isEqualTo("Input/output error"));
                    long ino = inodes.get(name);
                    assertThat(log.lines()).as(name).anySatisfy(line -> assertThat(line).contains(
                            "namespace " + mount.namespace() + ": inode " + ino + ": symlink target"));
                }
            }
            assertThat(Files.readSymbolicLink(mount.path("link-other"))).isEqualTo(Path.of("somewhere/else"));
            mount.unmount();
            assertThat(mount.check()).containsExactly("symlink " + inodes.get("removed") + " has no target");
        }
    }

    @Test
    void tamperedExtendedAttributeValuesGiveEio() throws IOException {
        try (TestMount mount = TestMount.fresh()) {
            Map<String, String> attacks = new LinkedHashMap<>();
            attacks.put("flipped", "UPDATE %s SET value = set_byte(value, 0, get_byte(value, 0) # 1)"
                    + " WHERE ino = ? AND name = 'user.a'::bytea");
            attacks.put("truncated", "UPDATE %s SET value = substring(value for 39) WHERE ino = ? AND name = 'user.a'::bytea");
            attacks.put("emptied", "UPDATE %s SET value = ''::bytea WHERE ino = ? AND name = 'user.a'::bytea");
            attacks.put("renamed", "UPDATE %s SET name = 'user.b'::bytea WHERE ino = ? AND name = 'user.a'::bytea");
            attacks.put("copied from another inode", "UPDATE %1$s x SET value = o.value FROM %1$s o, \"%2$s\".dirents d"
                    + " WHERE x.ino = ? AND x.name = 'user.a'::bytea AND d.name = 'xattr-other'::bytea"
                    + " AND o.ino = d.ino AND o.name = x.name");
            attacks.put("copied to a new name", "INSERT INTO %s (ino, name, value) SELECT ino, 'user.z'::bytea, value"
                    + " FROM %1$s WHERE ino = ? AND name = 'user.a'::bytea");
            Map<String, Long> inodes = new LinkedHashMap<>();
            for (String name : attacks.keySet()) {
                Path file = Files.writeString(mount.path("xattr-" + name), "data of " + name);
                Posix.setxattr(file, "user.a", ("value of " + name).getBytes(StandardCharsets.UTF_8), 0);
                inodes.put(name, Posix.lstat(file).ino());
            }
            Path other = Files.writeString(mount.path("xattr-other"), "other");
            Posix.setxattr(other, "user.a", "other value".getBytes(StandardCharsets.UTF_8), 0);
            mount.unmount();
            String xattrs = "\"" + mount.namespace() + "\".xattrs";
            for (Map.Entry<String, String> attack : attacks.entrySet()) {
                assertThat(TestPostgres.update(attack.getValue().formatted(xattrs, mount.namespace()),
                        inodes.get(attack.getKey()))).as(attack.getKey()).isEqualTo(1);
            }
            mount.mountAgain();
            try (LogCapture log = LogCapture.of(SealedStore.class)) {
                for (String name : attacks.keySet()) {
                    Path file = mount.path("xattr-" + name);
                    String attr = name.equals("renamed") ? "user.b" : "user.a";
                    assertThat(errnoOf(() -> Posix.getxattr(file, attr))).as(name).isEqualTo(EIO);
                    assertThat(errnoOf(() -> Posix.listxattr(file))).as(name).isEqualTo(EIO);
                    long ino = inodes.get(name);
                    assertThat(log.lines()).as(name).anySatisfy(line -> assertThat(line).contains(
                            "namespace " + mount.namespace() + ": inode " + ino + ": xattr user.", "failed authentication"));
                    // the file's data is a separate payload and still served
                    assertThat(Files.readString(file)).isEqualTo("data of " + name);
                }
            }
            assertThat(Posix.getxattr(other, "user.a")).isEqualTo("other value".getBytes(StandardCharsets.UTF_8));
        }
    }

    // ---- attacks the format does not detect yet (SECURITY.md, "Open"); each asserts today's gap ----

    /**
     * Single-block replay: an older sealed version of a block, put back at its own place, opens
     * and is served as current data. Documented gap until blocks carry a version under an
     * authenticated root; that change must make this read fail with EIO instead.
     */
    @Test
    void replayingAnOlderVersionOfABlockIsNotDetectedYet() throws IOException {
        try (TestMount mount = TestMount.fresh()) {
            Path file = mount.path("balance");
            Files.writeString(file, "balance: 1000");
            long ino = Posix.lstat(file).ino();
            mount.unmount();
            String blocks = "\"" + mount.namespace() + "\".blocks";
            byte[] old = TestPostgres.queryBytes("SELECT data FROM " + blocks + " WHERE ino = ? AND idx = 0", ino);
            mount.mountAgain();
            Files.writeString(file, "balance: 0000");
            mount.unmount();
            TestPostgres.update("UPDATE " + blocks + " SET data = ? WHERE ino = ? AND idx = 0", old, ino);
            mount.mountAgain();
            assertThat(Files.readString(file)).as("DOCUMENTED GAP (SECURITY.md): the replayed block is served")
                    .isEqualTo("balance: 1000");
        }
    }

    /**
     * Metadata is not authenticated: a deleted block reads as a hole (zeros), two names can be
     * pointed at each other's inodes, and a size can be cut. Each is a documented gap.
     */
    @Test
    void changesToUnauthenticatedMetadataAreNotDetectedYet() throws IOException {
        try (TestMount mount = TestMount.fresh()) {
            Files.write(mount.path("holey"), new byte[] {1, 2, 3});
            Files.writeString(mount.path("a"), "content of a");
            Files.writeString(mount.path("b"), "content of b");
            Files.writeString(mount.path("long"), "0123456789");
            long holey = Posix.lstat(mount.path("holey")).ino();
            long a = Posix.lstat(mount.path("a")).ino();
            long b = Posix.lstat(mount.path("b")).ino();
            long longer = Posix.lstat(mount.path("long")).ino();
            mount.unmount();
            String ns = "\"" + mount.namespace() + "\"";
            TestPostgres.update("DELETE FROM " + ns + ".blocks WHERE ino = ?", holey);
            TestPostgres.update("UPDATE " + ns + ".inodes SET nblocks = 0 WHERE ino = ?", holey);
            TestPostgres.update("UPDATE " + ns + ".dirents SET ino = CASE ino WHEN ? THEN ? ELSE ? END WHERE ino IN (?, ?)",
                    a, b, a, a, b);
            TestPostgres.update("UPDATE " + ns + ".inodes SET size = 4 WHERE ino = ?", longer);
            mount.mountAgain();
            assertThat(Files.readAllBytes(mount.path("holey"))).as("DOCUMENTED GAP: a deleted block reads as zeros")
                    .containsExactly(0, 0, 0);
            assertThat(Files.readString(mount.path("a"))).as("DOCUMENTED GAP: names swapped between files")
                    .isEqualTo("content of b");
            assertThat(Files.readString(mount.path("long"))).as("DOCUMENTED GAP: a size cut short").isEqualTo("0123");
        }
    }

    private static String fileName(BlockAttack attack) {
        return "victim-" + attack.name().replace(' ', '-');
    }
}
