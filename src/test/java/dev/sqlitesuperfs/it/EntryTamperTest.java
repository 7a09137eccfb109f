package dev.sqlitesuperfs.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sqlitesuperfs.sealed.SealedStore;
import dev.sqlitesuperfs.sealed.TamperedException;
import dev.sqlitesuperfs.testing.LogCapture;
import dev.sqlitesuperfs.testing.Posix;
import dev.sqlitesuperfs.testing.TestMount;
import dev.sqlitesuperfs.testing.TestPostgres;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Directory entries changed by SQL from outside while the namespace is not mounted. A damaged
 * entry is refused (EIO for its name, a log line, fsck --verify lists it) and, where the
 * directory's digest can tell which entries are the damaged ones, its siblings stay reachable: a
 * forged entry, or one or two entries brought back after their removal. An entry removed from
 * storage leaves a digest that no present entry explains, and the whole directory is refused
 * (SECURITY.md says why). And the digest cannot be matched by a made-up set of entries, even by
 * someone who kept every entry the directory ever had.
 */
class EntryTamperTest {

    record Row(byte[] name, long ino, byte[] mac) {}

    @Test
    void aForgedOrBroughtBackEntryIsRefusedAloneAndItsSiblingsStayReachable() throws IOException {
        try (TestMount mount = TestMount.fresh()) {
            Files.writeString(mount.path("a"), "a in the root");
            Files.writeString(mount.path("b"), "b in the root");
            Files.createDirectory(mount.path("sub"));
            Files.writeString(mount.path("sub/kept"), "kept");
            Files.writeString(mount.path("sub/gone1"), "removed later");
            Files.writeString(mount.path("sub/gone2"), "removed later too");
            Files.createDirectory(mount.path("cut"));
            Files.writeString(mount.path("cut/x"), "x");
            Files.writeString(mount.path("cut/y"), "y");
            long sub = Posix.lstat(mount.path("sub")).ino();
            long cut = Posix.lstat(mount.path("cut")).ino();
            mount.unmount();
            String dirents = "\"" + mount.namespace() + "\".dirents";
            List<Row> gone = rows(dirents, sub).stream().filter(r -> name(r).startsWith("gone")).toList();
            assertThat(gone).hasSize(2);
            String ns = "\"" + mount.namespace() + "\"";
            saveInodes(ns, gone);
            mount.mountAgain();
            Files.delete(mount.path("sub/gone1"));
            Files.delete(mount.path("sub/gone2"));
            Files.writeString(mount.path("sub/later"), "made after the removals");
            mount.unmount();

            // the root: an entry with a made-up MAC; sub: two removed entries put back with their
            // old rows, and their inodes' rows; cut: an entry deleted
            TestPostgres.update("INSERT INTO " + dirents + " (parent, name, ino, mac) VALUES (1, 'forged'::bytea, ?, ?)",
                    sub, new byte[32]);
            restoreInodes(ns);
            for (Row r : gone) {
                TestPostgres.update("INSERT INTO " + dirents + " (parent, name, ino, mac) VALUES (?, ?, ?, ?)", sub,
                        r.name(), r.ino(), r.mac());
            }
            TestPostgres.update("DELETE FROM " + dirents + " WHERE parent = ? AND name = 'x'::bytea", cut);

            // the inodes brought back: not what the last commit sealed, so refused whole (SECURITY.md);
            // taken as it is, every entry is still checked and refused alone
            assertThatThrownBy(mount::mountAgain).isInstanceOf(TamperedException.class)
                    .hasMessageContaining("are not what that commit sealed");
            mount.mountAgainAcceptingRollback();
            try (LogCapture log = LogCapture.of(SealedStore.class)) {
                assertThat(Files.readString(mount.path("a"))).isEqualTo("a in the root");
                assertThat(Files.readString(mount.path("b"))).isEqualTo("b in the root");
                assertThat(failure(() -> Files.readString(mount.path("forged")))).isEqualTo("EIO");
                assertThat(list(mount.path(""))).containsExactlyInAnyOrder("a", "b", "sub", "cut");

                assertThat(Files.readString(mount.path("sub/kept"))).isEqualTo("kept");
                assertThat(Files.readString(mount.path("sub/later"))).isEqualTo("made after the removals");
                assertThat(failure(() -> Files.readString(mount.path("sub/gone1")))).isEqualTo("EIO");
                assertThat(failure(() -> Files.readString(mount.path("sub/gone2")))).isEqualTo("EIO");
                assertThat(list(mount.path("sub"))).containsExactlyInAnyOrder("kept", "later");
                // the refused name stays refused: no new file can take it while the damage is there
                assertThat(failure(() -> Files.writeString(mount.path("sub/gone1"), "new"))).isEqualTo("EIO");
                // and the directory goes on changing with its digest kept right
                Files.writeString(mount.path("sub/newer"), "after the damage");

                assertThat(failure(() -> list(mount.path("cut")))).as("entry removed").isEqualTo("EIO");
                assertThat(failure(() -> Files.readString(mount.path("cut/y")))).isEqualTo("EIO");

                assertThat(log.lines()).anySatisfy(l -> assertThat(l).contains("directory 1: the entry 'forged'",
                        "is not authentic"));
                assertThat(log.lines()).anySatisfy(l -> assertThat(l).contains("directory " + sub
                        + ": the entry 'gone1'", "is not one last stored"));
                assertThat(log.lines()).anySatisfy(l -> assertThat(l).contains("directory " + cut
                        + ": its entries are not the ones last stored"));
            }
            mount.unmount();
            List<String> problems = mount.verify();
            assertThat(problems).anySatisfy(p -> assertThat(p).contains("directory 1: the entry 'forged'"));
            assertThat(problems).anySatisfy(p -> assertThat(p).contains("directory " + sub + ": the entry 'gone1'"));
            assertThat(problems).anySatisfy(p -> assertThat(p).contains("directory " + sub + ": the entry 'gone2'"));
            assertThat(problems).anySatisfy(p -> assertThat(p).contains("directory " + cut));
            mount.mountAgain();
            assertThat(Files.readString(mount.path("sub/newer"))).isEqualTo("after the damage");
            assertThat(list(mount.path("sub"))).containsExactlyInAnyOrder("kept", "later", "newer");
            mount.unmount(); // the damage stays: no consistency check at close
        }
    }

    /**
     * The attack format 3 was open to: every entry's digest term was stored as its MAC, so whoever
     * kept a few hundred entries a directory once had could solve for a subset whose XOR is the
     * directory's digest, and put that subset in place of the real entries. Here the attacker
     * keeps 300 such entries, solves the same linear system over GF(2) with the stored MACs, and
     * replaces the directory's only entry with the solution: the directory is refused.
     */
    @Test
    void entriesMadeToAddUpFromOldMacsAreRefused() throws IOException, SQLException {
        try (TestMount mount = TestMount.fresh()) {
            Path dir = mount.path("d");
            Files.createDirectory(dir);
            Files.writeString(dir.resolve("victim"), "the real entry");
            long d = Posix.lstat(dir).ino();
            for (int i = 0; i < 300; i++) {
                Files.writeString(dir.resolve("old-" + i), "x");
            }
            mount.unmount();
            String dirents = "\"" + mount.namespace() + "\".dirents";
            List<Row> all = rows(dirents, d);
            Row victim = all.stream().filter(r -> name(r).equals("victim")).findFirst().orElseThrow();
            List<Row> pool = all.stream().filter(r -> name(r).startsWith("old-")).toList();
            String ns = "\"" + mount.namespace() + "\"";
            saveInodes(ns, pool);
            mount.mountAgain();
            try (Stream<Path> files = Files.list(dir)) {
                for (Path p : files.filter(p -> p.getFileName().toString().startsWith("old-")).toList()) {
                    Files.delete(p);
                }
            }
            mount.unmount();

            // What the digest would be if terms were the stored MACs: the XOR of the current MACs,
            // here the victim's alone. Find old entries whose MACs XOR to it.
            BitSet chosen = solve(pool.stream().map(Row::mac).toList(), victim.mac());
            assertThat(chosen).as("300 random 256-bit MACs span the space").isNotNull();
            TestPostgres.update("DELETE FROM " + dirents + " WHERE parent = ?", d);
            restoreInodes(ns);
            for (int i = chosen.nextSetBit(0); i >= 0; i = chosen.nextSetBit(i + 1)) {
                Row r = pool.get(i);
                TestPostgres.update("INSERT INTO " + dirents + " (parent, name, ino, mac) VALUES (?, ?, ?, ?)", d,
                        r.name(), r.ino(), r.mac());
            }

            // (the inodes brought back alone would refuse the mount: see the test above)
            mount.mountAgainAcceptingRollback();
            try (LogCapture log = LogCapture.of(SealedStore.class)) {
                assertThat(failure(() -> list(dir))).isEqualTo("EIO");
                assertThat(log.lines()).anySatisfy(l -> assertThat(l).contains("directory " + d
                        + ": its entries are not the ones last stored"));
            }
            mount.unmount();
        }
    }

    /**
     * Gaussian elimination over GF(2): which of {@code vectors} (each 256 bits) XOR to
     * {@code target}, or null if none do.
     */
    static BitSet solve(List<byte[]> vectors, byte[] target) {
        int n = vectors.size();
        List<BitSet> rows = new ArrayList<>();
        List<BitSet> combos = new ArrayList<>();
        int[] pivotOf = new int[256];
        java.util.Arrays.fill(pivotOf, -1);
        for (int i = 0; i < n; i++) {
            BitSet v = BitSet.valueOf(vectors.get(i));
            BitSet c = new BitSet(n);
            c.set(i);
            reduce(v, c, rows, combos, pivotOf);
            int lead = v.nextSetBit(0);
            if (lead >= 0) {
                pivotOf[lead] = rows.size();
                rows.add(v);
                combos.add(c);
            }
        }
        BitSet t = BitSet.valueOf(target);
        BitSet c = new BitSet(n);
        reduce(t, c, rows, combos, pivotOf);
        return t.isEmpty() ? c : null;
    }

    private static void reduce(BitSet v, BitSet c, List<BitSet> rows, List<BitSet> combos, int[] pivotOf) {
        for (int bit = v.nextSetBit(0); bit >= 0; bit = v.nextSetBit(bit + 1)) {
            int row = pivotOf[bit];
            if (row >= 0) {
                v.xor(rows.get(row));
                c.xor(combos.get(row));
            }
        }
    }

    /** Keeps the inode rows of {@code entries} aside, as whoever keeps old rows would. */
    private static void saveInodes(String ns, List<Row> entries) {
        TestPostgres.execute("CREATE TABLE " + ns + ".saved_inodes AS SELECT * FROM " + ns + ".inodes WHERE false");
        for (Row r : entries) {
            TestPostgres.update("INSERT INTO " + ns + ".saved_inodes SELECT * FROM " + ns + ".inodes WHERE ino = ?",
                    r.ino());
        }
    }

    /** Puts the saved inode rows back (their blocks stay gone): entries need their inodes to be listed. */
    private static void restoreInodes(String ns) {
        TestPostgres.execute("INSERT INTO " + ns + ".inodes SELECT * FROM " + ns + ".saved_inodes");
        TestPostgres.execute("DROP TABLE " + ns + ".saved_inodes");
    }

    private static List<Row> rows(String dirents, long parent) {
        List<Row> rows = new ArrayList<>();
        try (Connection c = TestPostgres.connect();
             PreparedStatement s = c.prepareStatement("SELECT name, ino, mac FROM " + dirents + " WHERE parent = ?")) {
            s.setLong(1, parent);
            try (ResultSet r = s.executeQuery()) {
                while (r.next()) {
                    rows.add(new Row(r.getBytes(1), r.getLong(2), r.getBytes(3)));
                }
            }
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
        return rows;
    }

    private static String name(Row r) {
        return new String(r.name(), StandardCharsets.UTF_8);
    }

    private static List<String> list(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).toList();
        }
    }

    /** "EIO" if the call failed with an I/O error; anything else fails the test. */
    private static String failure(IoCall call) {
        try {
            call.run();
        } catch (IOException | UncheckedIOException e) {
            if (String.valueOf(e.getMessage()).contains("Input/output error")) {
                return "EIO";
            }
            throw new AssertionError("expected an I/O error, got " + e, e);
        }
        throw new AssertionError("expected an I/O error, but the call succeeded");
    }

    @FunctionalInterface
    interface IoCall {
        void run() throws IOException;
    }
}
