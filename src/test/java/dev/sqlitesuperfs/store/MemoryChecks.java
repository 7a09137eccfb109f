package dev.sqlitesuperfs.store;

import dev.sqlitesuperfs.store.NamespaceStore.SealingUpgrade.EntryRow;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * {@link NamespaceStore#check()} over {@link MemoryTables}: the checks of {@code NamespaceSql.checks},
 * in the same order, each with its rows in the same order and the same message, at most 100 per
 * check. It checks everything the SQL checks; like the SQL it knows nothing of keys, so it cannot
 * tell a forged row from a real one.
 */
final class MemoryChecks {
    private static final int S_IFMT = 0170000;
    private static final int S_IFDIR = 0040000;
    private static final int S_IFLNK = 0120000;
    private static final int MAX_PROBLEMS_PER_CHECK = 100;

    private MemoryChecks() {}

    static List<String> run(MemoryTables t, int blockSize) {
        Map<Long, Integer> naming = new HashMap<>();
        Map<Long, Integer> subdirectories = new HashMap<>();
        List<EntryRow> all = new ArrayList<>();
        for (TreeMap<MemoryTables.Name, EntryRow> names : t.dirents.values()) {
            for (EntryRow e : names.values()) {
                all.add(e);
                naming.merge(e.ino(), 1, Integer::sum);
                InodeRecord child = t.inodes.get(e.ino());
                if (child != null && isDir(child)) {
                    subdirectories.merge(e.parent(), 1, Integer::sum);
                }
            }
        }
        List<String> problems = new ArrayList<>();
        List<String> found = new ArrayList<>();

        for (InodeRecord i : t.inodes.values()) {
            int n = naming.getOrDefault(i.ino(), 0);
            if (!isDir(i) && i.nlink() != n) {
                found.add("inode %s has nlink %s but %s entries name it".formatted(i.ino(), i.nlink(), n));
            }
        }
        add(problems, found);
        for (InodeRecord i : t.inodes.values()) {
            int expected = 2 + subdirectories.getOrDefault(i.ino(), 0);
            if (isDir(i) && i.nlink() > 0 && i.nlink() != expected) {
                found.add("directory %s has nlink %s but should have %s (2 + its subdirectories)"
                        .formatted(i.ino(), i.nlink(), expected));
            }
        }
        add(problems, found);
        for (EntryRow e : all) {
            if (!t.inodes.containsKey(e.ino())) {
                found.add("entry in directory %s named '%s' points to inode %s, which does not exist"
                        .formatted(e.parent(), escape(e.name()), e.ino()));
            }
        }
        add(problems, found);
        for (EntryRow e : all) {
            InodeRecord p = t.inodes.get(e.parent());
            if (p == null || !isDir(p)) {
                found.add("entry '%2$s' is in %1$s, which is not an existing directory"
                        .formatted(e.parent(), escape(e.name())));
            }
        }
        add(problems, found);
        for (InodeRecord i : t.inodes.values()) {
            int n = naming.getOrDefault(i.ino(), 0);
            if (isDir(i) && n != (i.ino() == 1 || i.nlink() == 0 ? 0 : 1)) {
                found.add("directory %s is named by %s entries".formatted(i.ino(), n));
            }
        }
        add(problems, found);
        InodeRecord root = t.inodes.get(1L);
        if (root == null || !isDir(root)) {
            found.add("the root directory (inode 1) is missing or not a directory");
        }
        add(problems, found);
        for (Map.Entry<Long, TreeMap<Long, byte[]>> b : t.blocks.entrySet()) {
            InodeRecord i = t.inodes.get(b.getKey());
            if (i != null && !b.getValue().isEmpty()) {
                var past = b.getValue().tailMap((i.size() + blockSize - 1) / blockSize, true);
                if (!past.isEmpty()) {
                    found.add("inode %s has %s blocks past its size, the first at index %s"
                            .formatted(i.ino(), past.size(), past.firstKey()));
                }
            }
        }
        add(problems, found);
        for (Map.Entry<Long, TreeMap<Long, byte[]>> b : t.blocks.entrySet()) {
            if (!t.inodes.containsKey(b.getKey()) && !b.getValue().isEmpty()) {
                found.add("inode %s does not exist but has %s blocks".formatted(b.getKey(), b.getValue().size()));
            }
        }
        add(problems, found);
        for (InodeRecord i : t.inodes.values()) {
            int stored = t.blocks.getOrDefault(i.ino(), new TreeMap<>()).size();
            if (i.nblocks() != stored) {
                found.add("inode %s has nblocks %s but %s stored blocks".formatted(i.ino(), i.nblocks(), stored));
            }
        }
        add(problems, found);
        Set<Long> reachable = reachable(t);
        for (InodeRecord i : t.inodes.values()) {
            if (i.nlink() > 0 && !reachable.contains(i.ino())) {
                found.add("inode %s is linked but not reachable from the root".formatted(i.ino()));
            }
        }
        add(problems, found);
        for (InodeRecord i : t.inodes.values()) {
            if ((i.mode() & S_IFMT) == S_IFLNK && !t.symlinks.containsKey(i.ino())) {
                found.add("symlink %s has no target".formatted(i.ino()));
            }
        }
        add(problems, found);
        for (long ino : t.symlinks.keySet()) {
            InodeRecord i = t.inodes.get(ino);
            if (i != null && (i.mode() & S_IFMT) != S_IFLNK) {
                found.add("inode %s has a symlink target but is not a symlink".formatted(ino));
            }
        }
        add(problems, found);
        return problems;
    }

    /** The recursive query: inode 1 and everything named from something reachable (rows, not types). */
    private static Set<Long> reachable(MemoryTables t) {
        Set<Long> seen = new HashSet<>();
        ArrayDeque<Long> todo = new ArrayDeque<>(List.of(1L));
        while (!todo.isEmpty()) {
            long ino = todo.poll();
            if (seen.add(ino)) {
                for (EntryRow e : t.dirents.getOrDefault(ino, new TreeMap<>()).values()) {
                    todo.add(e.ino());
                }
            }
        }
        return seen;
    }

    private static void add(List<String> problems, List<String> found) {
        if (found.size() > MAX_PROBLEMS_PER_CHECK) {
            problems.addAll(found.subList(0, MAX_PROBLEMS_PER_CHECK));
            problems.add("(more problems like the last one not listed)");
        } else {
            problems.addAll(found);
        }
        found.clear();
    }

    private static boolean isDir(InodeRecord r) {
        return (r.mode() & S_IFMT) == S_IFDIR;
    }

    /** PostgreSQL's {@code encode(name, 'escape')}: NUL and high bytes as \ooo, backslashes doubled. */
    static String escape(byte[] name) {
        StringBuilder sb = new StringBuilder();
        for (byte b : name) {
            int v = b & 0xff;
            if (v == '\\') {
                sb.append("\\\\");
            } else if (v == 0 || v >= 0x80) {
                sb.append('\\').append(String.format("%03o", v));
            } else {
                sb.append((char) v);
            }
        }
        return sb.toString();
    }
}
