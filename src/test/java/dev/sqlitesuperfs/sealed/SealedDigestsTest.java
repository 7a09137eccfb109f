package dev.sqlitesuperfs.sealed;

import static dev.sqlitesuperfs.sealed.SealedTree.bytes;
import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.store.InodeRecord;
import dev.sqlitesuperfs.testing.MemoryNamespace;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Transactions keep every digest right: a seeded random sequence of block writes, truncations,
 * creations, removals, renames (over existing names too) and attribute changes, several to a
 * transaction and several to one inode, each transaction committed and then everything read back
 * and compared with a model. Read back by the sealed store that made the changes (its digests
 * updated in memory) and, every few steps, by a new one that knows only what is stored (as the
 * next mount), so a digest that drifted from the rows fails either way.
 */
class SealedDigestsTest {
    private static final int BLOCK = 4096;
    private static final int STEPS = 150;
    private static final int REMOUNT_EVERY = 10;
    /**
     * Where blocks are written: near the start, and on both sides of the edges of the later groups
     * of blocks a file's digest is made of (1,024 blocks each), so that writes and truncations
     * change the first group, later groups, and remove later groups whole.
     */
    private static final long[] INDEXES = {0, 1, 2, 3, 5, 7, 1023, 1024, 1025, 2047, 2048, 2050, 4100};

    /** A file as the model has it. */
    private static final class File {
        final TreeMap<Long, byte[]> blocks = new TreeMap<>();
        final TreeMap<String, String> xattrs = new TreeMap<>();
        long size;

        long storedEnd() {
            return blocks.isEmpty() ? 0 : blocks.lastKey() + 1;
        }

        byte[] content() {
            byte[] data = new byte[(int) size];
            blocks.forEach((idx, b) -> System.arraycopy(b, 0, data, (int) (idx * BLOCK), b.length));
            return data;
        }
    }

    private MemoryNamespace ns;
    private SealedTree tree;
    private SplittableRandom random;
    private long dir;
    /** The directory's names, and the files by inode. */
    private final TreeMap<String, Long> names = new TreeMap<>();
    private final Map<Long, File> files = new java.util.HashMap<>();
    private int created;
    private int committed;
    private int stored;

    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {1, 2, 3})
    void digestsStayRightOverManyRandomTransactions(long seed) {
        random = new SplittableRandom(seed);
        try (MemoryNamespace opened = MemoryNamespace.create(BLOCK)) {
            ns = opened;
            tree = new SealedTree(ns);
            dir = tree.dir(1, "d");
            for (int step = 1; step <= STEPS; step++) {
                transaction();
                String where = "seed " + seed + ", step " + step;
                if (step % REMOUNT_EVERY == 0) {
                    stored += ns.store().transactions().size();
                    ns.remount();
                }
                verify(where);
            }
            assertThat(stored + ns.store().transactions().size())
                    .as("one transaction per step that changed anything, after the one that made the directory")
                    .isEqualTo(1 + committed);
        }
    }

    /**
     * One change for the transaction to stage, decided (and made in the model) by {@link #change}.
     * Kept apart from the transaction so that this test names no type of the sealed layer's but
     * {@link SealedStore}.
     */
    private sealed interface Change {
        record Create(long ino, String name, InodeRecord row, List<PlainBlock> blocks) implements Change {}

        record Write(long ino, long firstNewIdx, PlainBlock block) implements Change {}

        record Truncate(long ino, long fromIdx) implements Change {}

        record Remove(long ino, String name) implements Change {}

        /** {@code replaced}: the inode {@code to} named before, or 0. */
        record Rename(long ino, String from, String to, long replaced) implements Change {}

        record SetXattr(long ino, String name, String value) implements Change {}

        record RemoveXattr(long ino, String name) implements Change {}

        record Nothing() implements Change {}
    }

    /** One to four random changes, committed together. */
    private void transaction() {
        // As the filesystem does: what a transaction changes has been read first (an inode the
        // sealed store has not read is one the transaction creates).
        tree.row(dir);
        files.keySet().forEach(tree::row);
        var tx = tree.sealed().transaction();
        Set<Long> touched = new LinkedHashSet<>();
        Set<Long> deleted = new HashSet<>();
        int changes = 1 + random.nextInt(4);
        for (int i = 0; i < changes; i++) {
            switch (change(touched, deleted)) {
                case Change.Create c -> tx.putInode(c.row()).putBlocks(c.ino(), 0, c.blocks())
                        .putEntry(dir, bytes(c.name()), c.ino(), 0);
                case Change.Write w -> tx.putBlocks(w.ino(), w.firstNewIdx(), List.of(w.block()));
                case Change.Truncate t -> tx.truncateBlocks(t.ino(), t.fromIdx());
                case Change.Remove r -> tx.deleteEntry(dir, bytes(r.name()), r.ino()).deleteInode(r.ino());
                case Change.Rename r -> {
                    tx.deleteEntry(dir, bytes(r.from()), r.ino()).putEntry(dir, bytes(r.to()), r.ino(), r.replaced());
                    if (r.replaced() != 0) {
                        tx.deleteInode(r.replaced());
                    }
                }
                case Change.SetXattr x -> tx.putXattr(x.ino(), bytes(x.name()), bytes(x.value()));
                case Change.RemoveXattr x -> tx.deleteXattr(x.ino(), bytes(x.name()));
                case Change.Nothing n -> { }
            }
        }
        for (long ino : touched) {
            if (!deleted.contains(ino)) {
                tx.putInode(rowOf(ino));
            }
        }
        if (!tx.isEmpty()) {
            committed++;
        }
        tx.commit();
    }

    /** Picks a random change, makes it in the model, and says what the transaction must stage. */
    private Change change(Set<Long> touched, Set<Long> deleted) {
        int op = files.isEmpty() ? 0 : random.nextInt(10);
        Long ino = files.isEmpty() ? null : new ArrayList<>(names.values()).get(random.nextInt(names.size()));
        switch (op) {
            case 0 -> { // create, with a few blocks (holes between them)
                long fresh = tree.newIno();
                String name = "f" + created++;
                File f = new File();
                files.put(fresh, f);
                names.put(name, fresh);
                touched.add(fresh);
                touched.add(dir);
                InodeRecord row = rowOf(fresh);
                List<PlainBlock> blocks = new ArrayList<>();
                for (int n = random.nextInt(4); n > 0; n--) {
                    long idx = INDEXES[random.nextInt(INDEXES.length)];
                    byte[] data = randomBytes(1 + random.nextInt(BLOCK));
                    blocks.removeIf(b -> b.idx() == idx);
                    blocks.add(new PlainBlock(idx, data, data.length));
                    f.blocks.put(idx, data);
                    f.size = Math.max(f.size, idx * BLOCK + data.length);
                }
                return new Change.Create(fresh, name, row, blocks);
            }
            case 1, 2, 3 -> { // write one block, new or over a stored one
                File f = files.get(ino);
                long idx = INDEXES[random.nextInt(INDEXES.length)];
                byte[] data = randomBytes(1 + random.nextInt(BLOCK));
                long firstNew = f.storedEnd();
                f.blocks.put(idx, data);
                f.size = Math.max(f.size, idx * BLOCK + data.length);
                touched.add(ino);
                return new Change.Write(ino, firstNew, new PlainBlock(idx, data, data.length));
            }
            case 4 -> { // truncate at a block boundary
                File f = files.get(ino);
                long from = random.nextBoolean() ? random.nextLong(f.storedEnd() + 1)
                        : Math.min(f.storedEnd(), INDEXES[random.nextInt(INDEXES.length)]);
                f.blocks.tailMap(from, true).clear();
                f.size = Math.min(f.size, from * BLOCK);
                touched.add(ino);
                return new Change.Truncate(ino, from);
            }
            case 5 -> { // remove
                String name = nameOf(ino);
                names.remove(name);
                files.remove(ino);
                deleted.add(ino);
                touched.add(dir);
                return new Change.Remove(ino, name);
            }
            case 6 -> { // rename, over an existing name half of the time
                String from = nameOf(ino);
                String to = random.nextBoolean() ? new ArrayList<>(names.keySet()).get(random.nextInt(names.size()))
                        : "r" + created++;
                if (to.equals(from)) {
                    return new Change.Nothing();
                }
                Long replaced = names.get(to);
                names.remove(from);
                names.put(to, ino);
                if (replaced != null) {
                    files.remove(replaced);
                    deleted.add(replaced);
                }
                touched.add(dir);
                return new Change.Rename(ino, from, to, replaced == null ? 0 : replaced);
            }
            case 7, 8 -> { // set an attribute, new or replacing one
                String name = "user.k" + random.nextInt(3);
                String value = "v" + random.nextInt(1000);
                files.get(ino).xattrs.put(name, value);
                touched.add(ino);
                return new Change.SetXattr(ino, name, value);
            }
            default -> { // remove an attribute, if there is one
                File f = files.get(ino);
                if (f.xattrs.isEmpty()) {
                    return new Change.Nothing();
                }
                String name = f.xattrs.firstKey();
                f.xattrs.remove(name);
                touched.add(ino);
                return new Change.RemoveXattr(ino, name);
            }
        }
    }

    private String nameOf(long ino) {
        return names.entrySet().stream().filter(e -> e.getValue() == ino).findFirst().orElseThrow().getKey();
    }

    private byte[] randomBytes(int length) {
        byte[] data = new byte[length];
        random.nextBytes(data);
        return data;
    }

    private InodeRecord rowOf(long ino) {
        long t = 1_000_000_000L;
        if (ino == dir) {
            return new InodeRecord(dir, SealedTree.DIR, 0, 0, 2, 0, 0, 0, t, t, t);
        }
        return new InodeRecord(ino, SealedTree.FILE, 0, 0, 1, files.get(ino).size, 0, 0, t, t, t);
    }

    private void verify(String where) {
        assertThat(tree.names(dir)).as(where).containsExactlyElementsOf(names.keySet());
        assertThat(tree.refused(dir)).as(where).isEmpty();
        for (Map.Entry<String, Long> e : names.entrySet()) {
            long ino = e.getValue();
            File f = files.get(ino);
            assertThat(tree.row(ino).size()).as("%s: size of %s", where, e.getKey()).isEqualTo(f.size);
            assertThat(tree.read(ino)).as("%s: content of %s", where, e.getKey()).isEqualTo(f.content());
            Map<String, String> xattrs = new TreeMap<>();
            tree.sealed().xattrs(ino).forEach((k, v) -> xattrs.put(new String(k, StandardCharsets.UTF_8),
                    new String(v, StandardCharsets.UTF_8)));
            assertThat(xattrs).as("%s: attributes of %s", where, e.getKey()).isEqualTo(f.xattrs);
        }
        assertThat(ns.store().check()).as(where).isEmpty();
    }
}
