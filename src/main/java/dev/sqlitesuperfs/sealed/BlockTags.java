package dev.sqlitesuperfs.sealed;

import dev.sqlitesuperfs.crypto.Sealer;
import dev.sqlitesuperfs.store.NamespaceStore.StoredTag;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The Poly1305 tag of every stored block of one file, by block index, as far as it is known: what
 * each block read back must end with. A file's blocks fall in groups of {@value #GROUP_BLOCKS}
 * consecutive indexes. The first group's tags are known from the start (they are part of the
 * file's content digest, see {@link InodeAuth}); every later group that holds blocks has a digest,
 * known from the start too, and its tags are loaded, checked against that digest, on the first
 * question about one of its indexes: the first read of a large file needs its first group and the
 * group it reads, not every tag of the file.
 *
 * <p>16 bytes per known block (two longs and a presence bit, per group), so a dense file of a
 * million blocks costs about 16 MiB once all of it has been read, and a sparse one only its groups.
 * Thread-safe: readers of a file may load its groups at the same time.
 */
final class BlockTags {
    static final int GROUP_SHIFT = 10;
    static final int GROUP_BLOCKS = 1 << GROUP_SHIFT;

    /** Loads and checks the tags of a group of a file's blocks against its digest, or refuses them. */
    @FunctionalInterface
    interface GroupLoader {
        List<StoredTag> load(long group, byte[] digest);
    }

    private static final class Group {
        final long[] tags = new long[2 * GROUP_BLOCKS];
        final long[] present = new long[GROUP_BLOCKS / 64];
        int count;
    }

    private final GroupLoader loader;
    /** Known tags, by group. */
    private final TreeMap<Long, Group> groups = new TreeMap<>();
    /** The digest of every later group (index 1 and up) that holds blocks. */
    private final TreeMap<Long, byte[]> digests = new TreeMap<>();
    /** Later groups whose tags are all in {@link #groups}. */
    private final Set<Long> loaded = new HashSet<>();

    /** An empty file's: nothing stored, nothing to load. */
    BlockTags() {
        this(null, Map.of());
    }

    /** Tags of the first group are {@link #put} by the caller; later groups come from {@code loader}. */
    BlockTags(GroupLoader loader, Map<Long, byte[]> digests) {
        this.loader = loader;
        this.digests.putAll(digests);
    }

    static long groupOf(long idx) {
        return idx >>> GROUP_SHIFT;
    }

    static long firstOf(long group) {
        return group << GROUP_SHIFT;
    }

    synchronized boolean contains(long idx) {
        Group g = known(groupOf(idx));
        return g != null && isPresent(g, slot(idx));
    }

    /** Copies the tag of block {@code idx} into {@code dest[at..at+16)}; false if the block is not stored. */
    synchronized boolean get(long idx, byte[] dest, int at) {
        Group g = known(groupOf(idx));
        int slot = slot(idx);
        if (g == null || !isPresent(g, slot)) {
            return false;
        }
        putLong(dest, at, g.tags[2 * slot]);
        putLong(dest, at + 8, g.tags[2 * slot + 1]);
        return true;
    }

    /** Whether {@code tag[at..at+16)} is the tag of block {@code idx}. */
    synchronized boolean matches(long idx, byte[] tag, int at) {
        Group g = known(groupOf(idx));
        int slot = slot(idx);
        return g != null && isPresent(g, slot) && g.tags[2 * slot] == getLong(tag, at)
                && g.tags[2 * slot + 1] == getLong(tag, at + 8);
    }

    /** The digest of later group {@code group}, or null if it holds no block. */
    synchronized byte[] digest(long group) {
        byte[] d = digests.get(group);
        return d == null ? null : d.clone();
    }

    /** The later groups from {@code group} on that hold blocks. */
    synchronized List<Long> groupsFrom(long group) {
        return List.copyOf(digests.tailMap(Math.max(1, group), true).keySet());
    }

    /** The smallest stored index {@code >= idx}, or -1. */
    synchronized long nextPresent(long idx) {
        return nextPresentBefore(idx, Long.MAX_VALUE);
    }

    /** The smallest stored index in {@code [idx, end)}, or -1; loads no group at or past {@code end}. */
    synchronized long nextPresentBefore(long idx, long end) {
        long group = groupOf(idx);
        while (firstOf(group) < end) {
            Group g = known(group);
            if (g != null) {
                for (int slot = group == groupOf(idx) ? slot(idx) : 0; slot < GROUP_BLOCKS; slot++) {
                    if (isPresent(g, slot)) {
                        long found = firstOf(group) + slot;
                        return found < end ? found : -1;
                    }
                }
            }
            Long nextKnown = groups.higherKey(group);
            Long nextDigest = digests.higherKey(group);
            if (nextKnown == null && nextDigest == null) {
                return -1;
            }
            group = nextKnown == null ? nextDigest : nextDigest == null ? nextKnown : Math.min(nextKnown, nextDigest);
        }
        return -1;
    }

    /** The smallest index {@code >= idx} with no stored block. */
    synchronized long nextAbsent(long idx) {
        long at = idx;
        while (contains(at)) {
            at++;
        }
        return at;
    }

    /** Every stored index in {@code [from, to)} with its tag; for truncations. */
    synchronized Map<Long, byte[]> tagsIn(long from, long to) {
        Map<Long, byte[]> found = new TreeMap<>();
        for (long i = nextPresentBefore(from, to); i >= 0; i = nextPresentBefore(i + 1, to)) {
            byte[] tag = new byte[Sealer.TAG_BYTES];
            get(i, tag, 0);
            found.put(i, tag);
        }
        return found;
    }

    synchronized void put(long idx, byte[] tag, int at) {
        Group g = groups.computeIfAbsent(groupOf(idx), k -> new Group());
        int slot = slot(idx);
        if (!isPresent(g, slot)) {
            g.present[slot >>> 6] |= 1L << slot;
            g.count++;
        }
        g.tags[2 * slot] = getLong(tag, at);
        g.tags[2 * slot + 1] = getLong(tag, at + 8);
    }

    synchronized void remove(long idx) {
        Long key = groupOf(idx);
        Group g = groups.get(key);
        int slot = slot(idx);
        if (g == null || !isPresent(g, slot)) {
            return;
        }
        g.present[slot >>> 6] &= ~(1L << slot);
        g.count--;
        if (g.count == 0) {
            groups.remove(key);
        }
    }

    /** Forgets every later group from {@code group} on: a truncation removed them whole. */
    synchronized void dropGroupsFrom(long group) {
        long from = Math.max(1, group);
        groups.tailMap(from, true).clear();
        digests.tailMap(from, true).clear();
        loaded.removeIf(g -> g >= from);
    }

    /**
     * Sets the digest of later group {@code group} as a committed transaction left it (null: it
     * holds no block). Its tags are all known: the transaction loaded the group before changing it,
     * or it was empty before.
     */
    synchronized void setDigest(long group, byte[] digest) {
        if (digest == null) {
            digests.remove(group);
            groups.remove(group);
            loaded.remove(group);
        } else {
            digests.put(group, digest.clone());
            loaded.add(group);
        }
    }

    /** The group's known tags, loaded first if it is a later group holding blocks not yet loaded. */
    private Group known(long group) {
        if (group > 0 && !loaded.contains(group)) {
            byte[] digest = digests.get(group);
            if (digest != null) {
                if (loader == null) {
                    throw new IllegalStateException("group " + group + " of a file that was never stored");
                }
                for (StoredTag t : loader.load(group, digest.clone())) {
                    put(t.idx(), t.tag(), 0);
                }
                loaded.add(group);
            }
        }
        return groups.get(group);
    }

    private static int slot(long idx) {
        return (int) (idx & (GROUP_BLOCKS - 1));
    }

    private static boolean isPresent(Group g, int slot) {
        return (g.present[slot >>> 6] & (1L << slot)) != 0;
    }

    private static long getLong(byte[] b, int at) {
        long v = 0;
        for (int i = 0; i < 8; i++) {
            v = (v << 8) | (b[at + i] & 0xff);
        }
        return v;
    }

    private static void putLong(byte[] b, int at, long v) {
        for (int i = 7; i >= 0; i--) {
            b[at + i] = (byte) v;
            v >>>= 8;
        }
    }

    @Override
    public synchronized String toString() {
        return "BlockTags[" + groups.size() + " groups known, " + digests.size() + " later groups]";
    }
}
