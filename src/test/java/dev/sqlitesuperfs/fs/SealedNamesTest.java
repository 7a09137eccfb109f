package dev.sqlitesuperfs.fs;

import static dev.sqlitesuperfs.fs.FsFixture.ROOT;
import static dev.sqlitesuperfs.fs.FsFixture.bytes;
import static dev.sqlitesuperfs.fs.FsFixture.text;
import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.crypto.Sealer;
import dev.sqlitesuperfs.store.NamespaceStore;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A namespace created with sealed names ({@code --seal-names}): the filesystem works on plain names
 * exactly as before, while what reaches the store holds no name and no exact name or target length.
 */
class SealedNamesTest {
    private final FsFixture f = FsFixture.withSealedNames();

    @AfterEach
    void close() {
        f.close();
    }

    @Test
    void namesReachTheStoreSealedAndComeBackAfterARemount() {
        long dir = f.mkdir(1, "quarterly-reports");
        f.file(dir, "salaries-2026.db", "rows");
        f.file(1, "salaries-2026.db", "other rows");
        f.fs.flushAll();

        List<byte[]> stored = new ArrayList<>();
        for (long parent : new long[] {1, dir}) {
            f.store().tables().entryRows(parent).forEach(e -> stored.add(e.name()));
        }
        assertThat(stored).hasSize(3);
        for (byte[] name : stored) {
            for (String plain : List.of("quarterly", "salaries", "2026", ".db")) {
                assertThat(indexOf(name, bytes(plain))).as("'%s' in a stored name", plain).isEqualTo(-1);
            }
            assertThat(name.length - Sealer.OVERHEAD).as("a name padded to its bucket").isEqualTo(Sealer.NAME_BUCKET);
        }
        assertThat(f.store().tables().entryRow(1, bytes("salaries-2026.db"))).as("no row under the plain name")
                .isEmpty();
        byte[] inRoot = f.store().tables().entryRows(1).stream().map(NamespaceStore.SealingUpgrade.EntryRow::name)
                .filter(n -> n.length == stored.getFirst().length).toList().getLast();
        assertThat(f.store().tables().entryRows(dir).getFirst().name())
                .as("one name in two directories is stored as two unrelated values").isNotEqualTo(inRoot);

        f.assertStoredAsShown();
        assertThat(f.list(1)).containsExactlyInAnyOrder("quarterly-reports", "salaries-2026.db");
        assertThat(text(f.content(f.lookup(f.lookup(1, "quarterly-reports"), "salaries-2026.db")))).isEqualTo("rows");
    }

    @Test
    void renamesLinksAndRemovalsWorkOnSealedNames() {
        long a = f.mkdir(1, "a");
        long b = f.mkdir(1, "b");
        long one = f.file(a, "one", "1");
        f.file(a, "two", "2");
        f.file(b, "target", "old");
        f.mkdir(a, "empty");
        f.fs.flushAll();

        f.rename(a, "one", a, "uno", 0);
        f.rename(a, "two", b, "target", 0);
        f.fs.link(ROOT, one, b, bytes("second name of one"));
        f.fs.rmdir(ROOT, a, bytes("empty"));
        f.fs.unlink(ROOT, a, bytes("uno"));

        assertThat(f.list(a)).isEmpty();
        assertThat(f.list(b)).containsExactlyInAnyOrder("target", "second name of one");
        f.assertStoredAsShown();
        assertThat(text(f.content(f.lookup(b, "target")))).isEqualTo("2");
        assertThat(f.store().tables().entryRows(a)).isEmpty();
        assertThat(f.store().tables().entryRows(b)).hasSize(2);
    }

    @Test
    void aSymlinkTargetAndItsRowSizeArePaddedWhileReadlinkAndStatShowTheRealOnes() {
        String shortTarget = "../elsewhere";
        String longTarget = "/var/lib/app/" + "x".repeat(40);
        long s1 = f.fs.symlink(ROOT, 1, bytes("short"), bytes(shortTarget)).nodeId();
        long s2 = f.fs.symlink(ROOT, 1, bytes("long"), bytes(longTarget)).nodeId();
        f.fs.flushAll();

        assertThat(f.store().tables().symlink(s1).orElseThrow()).hasSize(Sealer.NAME_BUCKET + Sealer.OVERHEAD);
        assertThat(f.store().tables().symlink(s2).orElseThrow()).hasSize(2 * Sealer.NAME_BUCKET + Sealer.OVERHEAD);
        assertThat(f.store().tables().inode(s1).orElseThrow().size()).isEqualTo(Sealer.NAME_BUCKET);
        assertThat(f.store().tables().inode(s2).orElseThrow().size()).isEqualTo(2 * Sealer.NAME_BUCKET);

        f.remount();
        long again = f.lookup(1, "long");
        assertThat(text(f.fs.readlink(ROOT, again))).isEqualTo(longTarget);
        assertThat(f.attr(again).size()).isEqualTo(longTarget.length());
        assertThat(f.attr(f.lookup(1, "short")).size()).isEqualTo(shortTarget.length());
        f.fs.link(ROOT, again, 1, bytes("long, second name")); // its row stored again, nlink 2
        f.assertStoredAsShown();
        assertThat(f.store().tables().inode(s2).orElseThrow().size()).isEqualTo(2 * Sealer.NAME_BUCKET);
    }

    @Test
    void extendedAttributeNamesAreSealedTooAndComeBackAfterARemount() {
        long file = f.file(1, "f", "x");
        f.fs.setxattr(ROOT, file, bytes("user.project-codename"), bytes("v1"), 0);
        f.fs.setxattr(ROOT, file, bytes("user.gone"), bytes("v2"), 0);
        f.fs.removexattr(ROOT, file, bytes("user.gone"));
        f.fs.flushAll();

        assertThat(f.store().tables().xattrRows(file)).singleElement().satisfies(row -> {
            assertThat(indexOf(row.name(), bytes("codename"))).isEqualTo(-1);
            assertThat(row.name()).hasSize(Sealer.NAME_BUCKET + Sealer.OVERHEAD);
        });
        f.remount();
        assertThat(f.fs.listxattr(ROOT, file)).extracting(FsFixture::text).containsExactly("user.project-codename");
        assertThat(text(f.fs.getxattr(ROOT, file, bytes("user.project-codename")))).isEqualTo("v1");
    }

    @Test
    void anEntryCopiedIntoAnotherDirectoryDoesNotOpenThereAndTheRestIsServed() {
        long a = f.mkdir(1, "a");
        long b = f.mkdir(1, "b");
        f.file(a, "moved", "x");
        f.file(b, "stays", "y");
        f.fs.flushAll();
        NamespaceStore.SealingUpgrade.EntryRow row = f.store().tables().entryRows(a).getFirst();

        f.store().tamper(edit -> edit.putEntry(b, row.name(), row.ino(), row.mac()));
        f.remount();

        assertThat(f.list(b)).containsExactly("stays");
        assertThat(f.lookup(b, "moved")).isZero();
        assertThat(text(f.content(f.lookup(b, "stays")))).isEqualTo("y");
        assertThat(f.list(a)).containsExactly("moved");
    }

    private static int indexOf(byte[] haystack, byte[] needle) {
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            if (Arrays.equals(haystack, i, i + needle.length, needle, 0, needle.length)) {
                return i;
            }
        }
        return -1;
    }
}
