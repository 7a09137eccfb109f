package dev.sqlitesuperfs.it;

import static dev.sqlitesuperfs.fuse.Errno.EIO;
import static dev.sqlitesuperfs.testing.Posix.errnoOf;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sqlitesuperfs.sealed.SealedStore;
import dev.sqlitesuperfs.sealed.TamperedException;
import dev.sqlitesuperfs.fuse.Caller;
import dev.sqlitesuperfs.fuse.FuseException;
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
 * Attacks on stored payloads (blocks, symlink targets, extended-attribute values) and on the rows
 * that say where they belong, by SQL from outside while the namespace is not mounted, then read
 * through a real mount: the affected read gets EIO, the log names namespace, inode and what
 * failed, and the mount goes on. A block whose sealed bytes fail to open is refused alone; a
 * change that makes a file's stored blocks no longer add up to the digest in its authenticator
 * (a block replaced, moved, added, removed or rolled back) makes the whole file unreadable,
 * because the digest says that something changed, not what. {@link StorageSecrecyTest} has the
 * plain bit flip in the ciphertext and the block copied to another index and file; the payload
 * format itself is tested bit by bit in {@code SealerTamperTest}.
 */
class PayloadTamperTest {
    static final int BLOCK = 4096;

    /** One attack on block 1 of a file of three blocks; {@code %s} is the blocks table, ? the inode. */
    record BlockAttack(String name, List<String> statements, List<Integer> refusedBlocks, String logged) {}

    /** What the digest check logs when a file's stored blocks do not add up. */
    static final String NOT_LAST_STORED = ": its blocks are not the ones last stored";
    static final List<Integer> WHOLE_FILE = List.of(0, 1, 2);

    static final List<BlockAttack> BLOCK_ATTACKS = List.of(
            new BlockAttack("nonce bit", List.of(
                    "UPDATE %s SET data = set_byte(data, 5, get_byte(data, 5) # 8) WHERE ino = ? AND idx = 1"),
                    List.of(1), " block 1 failed authentication"),
            new BlockAttack("tag bit", List.of(
                    "UPDATE %s SET data = set_byte(data, length(data) - 1, get_byte(data, length(data) - 1) # 128)"
                            + " WHERE ino = ? AND idx = 1"),
                    WHOLE_FILE, NOT_LAST_STORED),
            new BlockAttack("truncated by one byte", List.of(
                    "UPDATE %s SET data = substring(data for length(data) - 1) WHERE ino = ? AND idx = 1"),
                    WHOLE_FILE, NOT_LAST_STORED),
            new BlockAttack("truncated below nonce and tag", List.of(
                    "UPDATE %s SET data = substring(data for 20) WHERE ino = ? AND idx = 1"),
                    WHOLE_FILE, NOT_LAST_STORED),
            new BlockAttack("emptied", List.of("UPDATE %s SET data = ''::bytea WHERE ino = ? AND idx = 1"),
                    WHOLE_FILE, " block 1: stored block too short"),
            new BlockAttack("one byte longer than a block can be", List.of(
                    "UPDATE %s SET data = data || '\\x00'::bytea WHERE ino = ? AND idx = 1"),
                    WHOLE_FILE, NOT_LAST_STORED),
            new BlockAttack("blocks 0 and 1 swapped", List.of(
                    "UPDATE %1$s b SET data = o.data FROM %1$s o WHERE b.ino = ? AND o.ino = b.ino"
                            + " AND b.idx IN (0, 1) AND o.idx = 1 - b.idx"),
                    WHOLE_FILE, NOT_LAST_STORED),
            new BlockAttack("block 0 copied into the hole at block 2", List.of(
                    "INSERT INTO %1$s (ino, idx, data) SELECT ino, 2, data FROM %1$s WHERE ino = ? AND idx = 0"),
                    WHOLE_FILE, NOT_LAST_STORED),
            new BlockAttack("block 1 deleted", List.of("DELETE FROM %s WHERE ino = ? AND idx = 1"),
                    WHOLE_FILE, NOT_LAST_STORED));

    @Test
    void tamperedBlocksGiveEioAndALogLine() throws IOException {
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
                            "namespace " + mount.namespace() + ": inode " + inodes.get(attack) + attack.logged(),
                            "refusing to serve it"));
                }
            }
            assertThat(Files.readString(mount.path("bystander"))).isEqualTo("fine");
            mount.unmount();
            // fsck, which has no key, notices only the blocks added and removed, by their count
            long filled = inodes.get(BLOCK_ATTACKS.get(BLOCK_ATTACKS.size() - 2));
            long emptied = inodes.get(BLOCK_ATTACKS.getLast());
            assertThat(mount.check()).containsExactlyInAnyOrder(
                    "inode " + filled + " has nblocks 2 but 3 stored blocks",
                    "inode " + emptied + " has nblocks 3 but 2 stored blocks");
        }
    }

    /**
     * Two namespaces under the same passphrase, a file at the same inode number in each: a block
     * of one copied into the other is refused, because each has its own keys and UUID (the
     * block's tag does not add up to the victim's digest, and the block itself would not open).
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
                    assertThat(errnoOf(() -> Posix.pread(fd, BLOCK, BLOCK))).isEqualTo(EIO);
                } finally {
                    Posix.close(fd);
                }
                assertThat(log.lines()).anySatisfy(line -> assertThat(line).contains("inode " + ino + NOT_LAST_STORED));
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

    // ---- rollback and metadata attacks, detected since format 3 (authenticated metadata) ----

    /**
     * Single-block replay: an older sealed version of a block, put back at its own place, opens on
     * its own; the file's digest, sealed in its authenticator, no longer adds up, so the file is
     * refused.
     */
    @Test
    void replayingAnOlderVersionOfABlockIsDetected() throws IOException {
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
            try (LogCapture log = LogCapture.of(SealedStore.class)) {
                assertThatThrownBy(() -> Files.readString(file)).isInstanceOf(IOException.class)
                        .hasMessageContaining("Input/output error");
                assertThat(log.lines()).anySatisfy(line -> assertThat(line).contains("inode " + ino + NOT_LAST_STORED));
            }
        }
    }

    /** An older sealed value of an attribute, put back at its own place, opens but does not add up. */
    @Test
    void replayingAnOlderExtendedAttributeValueIsDetected() throws IOException {
        try (TestMount mount = TestMount.fresh()) {
            Path file = mount.path("f");
            Files.writeString(file, "data");
            Posix.setxattr(file, "user.role", "reader".getBytes(StandardCharsets.UTF_8), 0);
            long ino = Posix.lstat(file).ino();
            mount.unmount();
            String xattrs = "\"" + mount.namespace() + "\".xattrs";
            byte[] old = TestPostgres.queryBytes("SELECT value FROM " + xattrs + " WHERE ino = ?", ino);
            mount.mountAgain();
            Posix.setxattr(file, "user.role", "admin".getBytes(StandardCharsets.UTF_8), 0);
            Posix.setxattr(file, "user.role", "nobody".getBytes(StandardCharsets.UTF_8), 0);
            mount.unmount();
            TestPostgres.update("UPDATE " + xattrs + " SET value = ? WHERE ino = ?", old, ino);
            mount.mountAgain();
            try (LogCapture log = LogCapture.of(SealedStore.class)) {
                assertThat(errnoOf(() -> Posix.getxattr(file, "user.role"))).isEqualTo(EIO);
                assertThat(log.lines()).anySatisfy(line -> assertThat(line).contains("inode " + ino,
                        "extended attributes are not the ones last stored"));
                assertThat(Files.readString(file)).as("the data is a separate payload").isEqualTo("data");
            }
        }
    }

    /**
     * Metadata is authenticated: a deleted block, two names pointed at each other's inodes, a size
     * cut short, an entry removed behind the directory's back and a name brought back after it was
     * removed are each refused with EIO, each in a directory of its own so that one refusal does
     * not hide the next. ({@link EntryTamperTest} has the rest of what can happen to entries.)
     */
    @Test
    void changesToMetadataAreDetected() throws IOException {
        try (TestMount mount = TestMount.fresh()) {
            for (String dir : List.of("holey", "swapped", "cut", "removed", "revived")) {
                Files.createDirectory(mount.path(dir));
            }
            Files.write(mount.path("holey/f"), new byte[] {1, 2, 3});
            Files.writeString(mount.path("swapped/a"), "content of a");
            Files.writeString(mount.path("swapped/b"), "content of b");
            Files.writeString(mount.path("cut/f"), "0123456789");
            Files.writeString(mount.path("removed/f"), "kept");
            Files.writeString(mount.path("revived/gone"), "deleted later");
            long holey = Posix.lstat(mount.path("holey/f")).ino();
            long a = Posix.lstat(mount.path("swapped/a")).ino();
            long b = Posix.lstat(mount.path("swapped/b")).ino();
            long cut = Posix.lstat(mount.path("cut/f")).ino();
            long revivedDir = Posix.lstat(mount.path("revived")).ino();
            mount.unmount();
            String ns = "\"" + mount.namespace() + "\"";
            byte[] goneEntry = TestPostgres.queryBytes("SELECT mac FROM " + ns + ".dirents WHERE parent = ?", revivedDir);
            long goneIno = TestPostgres.queryLong("SELECT ino FROM " + ns + ".dirents WHERE parent = ?", revivedDir);
            mount.mountAgain();
            Files.delete(mount.path("revived/gone"));
            Files.writeString(mount.path("revived/other"), "still here");
            mount.unmount();
            TestPostgres.update("DELETE FROM " + ns + ".blocks WHERE ino = ?", holey);
            TestPostgres.update("UPDATE " + ns + ".inodes SET nblocks = 0 WHERE ino = ?", holey);
            TestPostgres.update("UPDATE " + ns + ".dirents SET ino = CASE ino WHEN ? THEN ? ELSE ? END WHERE ino IN (?, ?)",
                    a, b, a, a, b);
            TestPostgres.update("UPDATE " + ns + ".inodes SET size = 4 WHERE ino = ?", cut);
            TestPostgres.update("DELETE FROM " + ns + ".dirents WHERE name = 'f'::bytea AND parent = (SELECT ino FROM "
                    + ns + ".dirents WHERE parent = 1 AND name = 'removed'::bytea)");
            // the removed name, with its old row and MAC, and an inode for it to point at
            TestPostgres.update("INSERT INTO " + ns + ".inodes (ino, mode, uid, gid, nlink, size, nblocks, rdev, atime_ns,"
                    + " mtime_ns, ctime_ns, auth) SELECT ?, mode, uid, gid, nlink, size, 0, rdev, atime_ns, mtime_ns,"
                    + " ctime_ns, auth FROM " + ns + ".inodes WHERE ino = 1", goneIno);
            TestPostgres.update("INSERT INTO " + ns + ".dirents (parent, name, ino, mac) VALUES (?, 'gone'::bytea, ?, ?)",
                    revivedDir, goneIno, goneEntry);
            // an inode added: the namespace is not what its last commit sealed, refused whole (SECURITY.md)
            assertThatThrownBy(mount::mountAgain).isInstanceOf(TamperedException.class)
                    .hasMessageContaining("are not what that commit sealed");
            // taken as it is, every other check still holds, each refused alone
            mount.mountAgainAcceptingRollback();
            try (LogCapture log = LogCapture.of(SealedStore.class)) {
                assertThat(failure(() -> Files.readAllBytes(mount.path("holey/f")))).as("deleted block").isEqualTo(EIO);
                assertThat(failure(() -> Files.readString(mount.path("swapped/a")))).as("swapped names").isEqualTo(EIO);
                assertThat(failure(() -> Files.readString(mount.path("cut/f")))).as("size cut").isEqualTo(EIO);
                assertThat(failure(() -> Files.list(mount.path("removed")).toList())).as("entry removed").isEqualTo(EIO);
                // a name brought back is told apart from the current entries: refused alone
                assertThat(failure(() -> Files.readString(mount.path("revived/gone")))).as("name brought back")
                        .isEqualTo(EIO);
                assertThat(Files.readString(mount.path("revived/other"))).isEqualTo("still here");
                assertThat(log.lines()).anySatisfy(line -> assertThat(line).contains("inode " + cut,
                        "does not match its authenticator"));
                assertThat(log.lines()).anySatisfy(line -> assertThat(line).contains("is not authentic"));
                assertThat(log.lines()).anySatisfy(line -> assertThat(line).contains("its entries are not the ones"));
            }
            // fsck, which has no key, sees only the tree's shape: the file whose name went, and the
            // directory counts the made-up inode breaks
            mount.unmount();
            assertThat(mount.check()).anySatisfy(line -> assertThat(line).contains("is linked but not reachable"));
        }
    }

    /**
     * ".." of a directory loaded by inode number alone comes from the entry that names it: moved
     * to another parent (its MAC kept) or doubled, that entry is refused, not followed. Requests
     * by inode number go to the filesystem directly, as the kernel would send them for an inode
     * it still knows; through the kernel every path is looked up from its parent first.
     */
    @Test
    void theParentOfADirectoryIsTakenOnlyFromItsAuthenticEntry() throws IOException {
        try (TestMount mount = TestMount.fresh()) {
            Files.createDirectories(mount.path("a/moved"));
            Files.createDirectories(mount.path("a/doubled"));
            Files.createDirectory(mount.path("c"));
            long a = Posix.lstat(mount.path("a")).ino();
            long moved = Posix.lstat(mount.path("a/moved")).ino();
            long doubled = Posix.lstat(mount.path("a/doubled")).ino();
            long c = Posix.lstat(mount.path("c")).ino();
            mount.unmount();
            String dirents = "\"" + mount.namespace() + "\".dirents";
            TestPostgres.update("UPDATE " + dirents + " SET parent = ? WHERE ino = ?", c, moved);
            TestPostgres.update("INSERT INTO " + dirents + " (parent, name, ino, mac) SELECT ?, name, ino, mac FROM "
                    + dirents + " WHERE ino = ?", c, doubled);
            mount.mountAgain();
            Caller root = new Caller(0, 0, 0);
            try (LogCapture log = LogCapture.of(SealedStore.class)) {
                assertThat(mount.fs().getattr(root, a, 0).attr().ino()).as("an untouched directory").isEqualTo(a);
                assertThatThrownBy(() -> mount.fs().getattr(root, moved, 0)).as("entry moved to another parent")
                        .isInstanceOfSatisfying(FuseException.class, e -> assertThat(e.errno()).isEqualTo(EIO));
                assertThatThrownBy(() -> mount.fs().getattr(root, doubled, 0)).as("second entry")
                        .isInstanceOfSatisfying(FuseException.class, e -> assertThat(e.errno()).isEqualTo(EIO));
                assertThat(log.lines()).anySatisfy(line -> assertThat(line).contains("directory " + moved,
                        "in directory " + c, "is not authentic"));
                assertThat(log.lines()).anySatisfy(line -> assertThat(line).contains("directory " + doubled,
                        "named by more than one entry"));
            }
            // fsck, without a key, sees both in the tree's shape: the doubled entry, and the counts
            // of subdirectories that the moved entry no longer matches
            mount.unmount();
            assertThat(mount.check()).contains("directory " + doubled + " is named by 2 entries")
                    .anySatisfy(line -> assertThat(line).startsWith("directory " + a + " has nlink 4 but should have 3"));
        }
    }

    /**
     * {@code fsck --verify} reads everything as a mount would and names every inode whose rows
     * do not match their authenticators, without mounting; a namespace nobody changed is clean.
     */
    @Test
    void fsckWithTheKeyFindsEveryTamperedInode() throws IOException {
        try (TestMount mount = TestMount.fresh()) {
            Files.createDirectory(mount.path("dir"));
            byte[] big = new byte[300 * BLOCK];
            new SplittableRandom(7).nextBytes(big);
            Files.write(mount.path("dir/big"), big);
            Files.writeString(mount.path("dir/small"), "version 1");
            Files.writeString(mount.path("tagged"), "has an attribute");
            Posix.setxattr(mount.path("tagged"), "user.k", "value".getBytes(StandardCharsets.UTF_8), 0);
            Files.createSymbolicLink(mount.path("link"), Path.of("dir/small"));
            long dir = Posix.lstat(mount.path("dir")).ino();
            long bigIno = Posix.lstat(mount.path("dir/big")).ino();
            long small = Posix.lstat(mount.path("dir/small")).ino();
            long tagged = Posix.lstat(mount.path("tagged")).ino();
            mount.unmount();
            assertThat(mount.verify()).as("untouched").isEmpty();
            String ns = "\"" + mount.namespace() + "\"";
            byte[] old = TestPostgres.queryBytes("SELECT data FROM " + ns + ".blocks WHERE ino = ? AND idx = 0", small);
            mount.mountAgain();
            Files.writeString(mount.path("dir/small"), "version 2");
            mount.unmount();
            TestPostgres.update("UPDATE " + ns + ".blocks SET data = ? WHERE ino = ? AND idx = 0", old, small);
            // a bit of ciphertext in the middle of a large file: only opening that block finds it
            TestPostgres.update("UPDATE " + ns + ".blocks SET data = set_byte(data, 100, get_byte(data, 100) # 1)"
                    + " WHERE ino = ? AND idx = 257", bigIno);
            TestPostgres.update("UPDATE " + ns + ".xattrs SET value = set_byte(value, 30, get_byte(value, 30) # 1)"
                    + " WHERE ino = ?", tagged);
            TestPostgres.update("UPDATE " + ns + ".dirents SET name = 'renamed'::bytea WHERE ino = ?", small);
            List<String> problems;
            try (LogCapture log = LogCapture.of(SealedStore.class)) {
                problems = mount.verify();
            }
            assertThat(problems).hasSize(4);
            assertThat(problems).anySatisfy(p -> assertThat(p).contains("inode " + small + NOT_LAST_STORED));
            assertThat(problems).anySatisfy(p -> assertThat(p).contains("inode " + bigIno + " block 257 failed"));
            assertThat(problems).anySatisfy(p -> assertThat(p).contains("inode " + tagged + ": xattr user.k"));
            // the entry renamed in place: its MAC no longer matches, and the name it had is missing
            assertThat(problems).anySatisfy(p -> assertThat(p).contains("directory " + dir + ": its entries are not"));
        }
    }

    /** A java.nio call expected to fail: EIO for an I/O error; anything else fails the test. */
    private static int failure(IoCall call) {
        try {
            call.run();
        } catch (IOException | java.io.UncheckedIOException e) {
            if (String.valueOf(e.getMessage()).contains("Input/output error")) {
                return EIO;
            }
            throw new AssertionError("expected an I/O error, got " + e, e);
        }
        throw new AssertionError("expected an I/O error, but the call succeeded");
    }

    @FunctionalInterface
    interface IoCall {
        void run() throws IOException;
    }

    private static String fileName(BlockAttack attack) {
        return "victim-" + attack.name().replace(' ', '-');
    }
}
