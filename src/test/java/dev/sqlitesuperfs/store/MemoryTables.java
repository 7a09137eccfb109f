package dev.sqlitesuperfs.store;

import dev.sqlitesuperfs.store.ChangeSet.Change;
import dev.sqlitesuperfs.store.ChangeSet.DeleteEntry;
import dev.sqlitesuperfs.store.ChangeSet.DeleteInode;
import dev.sqlitesuperfs.store.ChangeSet.DeleteXattr;
import dev.sqlitesuperfs.store.ChangeSet.PutBlocks;
import dev.sqlitesuperfs.store.ChangeSet.PutEntry;
import dev.sqlitesuperfs.store.ChangeSet.PutInode;
import dev.sqlitesuperfs.store.ChangeSet.PutBlockGroup;
import dev.sqlitesuperfs.store.ChangeSet.PutSymlink;
import dev.sqlitesuperfs.store.ChangeSet.PutXattr;
import dev.sqlitesuperfs.store.ChangeSet.TruncateBlocks;
import dev.sqlitesuperfs.store.NamespaceStore.SealingUpgrade.EntryRow;
import dev.sqlitesuperfs.store.NamespaceStore.SealingUpgrade.XattrRow;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * The tables of one namespace (inodes, dirents, blocks, xattrs, symlinks, as {@link NamespaceSql}
 * creates them), held in memory. An instance that has been published as the committed state is
 * never changed again: a transaction works on a {@link #copy()} and publishes it whole, so readers
 * take the current instance without a lock and see committed rows only, as PostgreSQL's readers do.
 *
 * <p>Byte arrays are copied on the way in and on the way out, so nobody can change a row by
 * keeping a reference to what it stored or read (rows in PostgreSQL cannot be changed that way
 * either).
 */
public final class MemoryTables {

    /** A byte-string key (an entry or attribute name), ordered as PostgreSQL orders bytea: unsigned bytes. */
    record Name(byte[] bytes) implements Comparable<Name> {
        @Override
        public boolean equals(Object o) {
            return o instanceof Name other && Arrays.equals(bytes, other.bytes);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(bytes);
        }

        @Override
        public int compareTo(Name other) {
            return Arrays.compareUnsigned(bytes, other.bytes);
        }
    }

    final TreeMap<Long, InodeRecord> inodes = new TreeMap<>();
    /** parent → name → entry row (parent, name, ino, mac). */
    final TreeMap<Long, TreeMap<Name, EntryRow>> dirents = new TreeMap<>();
    /** ino → idx → sealed bytes. No foreign key, as in the schema. */
    final TreeMap<Long, TreeMap<Long, byte[]>> blocks = new TreeMap<>();
    /** ino → name → sealed value. */
    final TreeMap<Long, TreeMap<Name, byte[]>> xattrs = new TreeMap<>();
    final TreeMap<Long, byte[]> symlinks = new TreeMap<>();
    /** ino → group → digest (the block_groups table). No foreign key, as in the schema. */
    final TreeMap<Long, TreeMap<Long, byte[]>> groups = new TreeMap<>();

    MemoryTables() {}

    /** A deep copy of the maps; the byte arrays are shared (no instance ever changes one). */
    MemoryTables copy() {
        MemoryTables c = new MemoryTables();
        c.inodes.putAll(inodes);
        dirents.forEach((parent, names) -> c.dirents.put(parent, new TreeMap<>(names)));
        blocks.forEach((ino, rows) -> c.blocks.put(ino, new TreeMap<>(rows)));
        xattrs.forEach((ino, rows) -> c.xattrs.put(ino, new TreeMap<>(rows)));
        c.symlinks.putAll(symlinks);
        groups.forEach((ino, rows) -> c.groups.put(ino, new TreeMap<>(rows)));
        return c;
    }

    // ------------------------------------------------------------------ reads, as the store's queries answer them

    public Optional<InodeRecord> inode(long ino) {
        return Optional.ofNullable(inodes.get(ino)).map(MemoryTables::copyOf);
    }

    /** The entries of {@code dir} whose inode exists (the query is an inner join), by name. */
    List<DirEntryRecord> entries(long dir) {
        List<DirEntryRecord> found = new ArrayList<>();
        for (EntryRow e : dirents.getOrDefault(dir, new TreeMap<>()).values()) {
            InodeRecord child = inodes.get(e.ino());
            if (child != null) {
                found.add(new DirEntryRecord(e.name().clone(), e.ino(), child.mode(), clone(e.mac())));
            }
        }
        return found;
    }

    /** Every entry row of {@code parent} as stored, dangling ones included: for tests that tamper. */
    public List<EntryRow> entryRows(long parent) {
        return dirents.getOrDefault(parent, new TreeMap<>()).values().stream().map(MemoryTables::copyOf).toList();
    }

    public Optional<EntryRow> entryRow(long parent, byte[] name) {
        return Optional.ofNullable(dirents.getOrDefault(parent, new TreeMap<>()).get(new Name(name)))
                .map(MemoryTables::copyOf);
    }

    /** Every entry naming {@code ino}, in no particular order (the query reads at most two). */
    List<EntryRow> entriesNaming(long ino) {
        List<EntryRow> found = new ArrayList<>();
        for (TreeMap<Name, EntryRow> names : dirents.values()) {
            for (EntryRow e : names.values()) {
                if (e.ino() == ino) {
                    found.add(copyOf(e));
                }
            }
        }
        return found;
    }

    /** The stored group digests of {@code ino}, group to digest, in order. */
    public TreeMap<Long, byte[]> groupsOf(long ino) {
        TreeMap<Long, byte[]> copy = new TreeMap<>();
        groups.getOrDefault(ino, new TreeMap<>()).forEach((g, d) -> copy.put(g, d.clone()));
        return copy;
    }

    /** The stored blocks of {@code ino}, index to sealed bytes, in order. */
    public TreeMap<Long, byte[]> blocksOf(long ino) {
        TreeMap<Long, byte[]> copy = new TreeMap<>();
        blocks.getOrDefault(ino, new TreeMap<>()).forEach((idx, data) -> copy.put(idx, data.clone()));
        return copy;
    }

    /** The stored blocks of {@code ino} without copying them, for the store's own reads. */
    NavigableMap<Long, byte[]> blockRows(long ino) {
        return Collections.unmodifiableNavigableMap(blocks.getOrDefault(ino, EMPTY_BLOCKS));
    }

    private static final TreeMap<Long, byte[]> EMPTY_BLOCKS = new TreeMap<>();

    public Optional<byte[]> block(long ino, long idx) {
        return Optional.ofNullable(blocks.getOrDefault(ino, new TreeMap<>()).get(idx)).map(byte[]::clone);
    }

    public Optional<byte[]> symlink(long ino) {
        return Optional.ofNullable(symlinks.get(ino)).map(byte[]::clone);
    }

    /** The attributes of {@code ino} as stored, by name. */
    public List<XattrRow> xattrRows(long ino) {
        List<XattrRow> rows = new ArrayList<>();
        xattrs.getOrDefault(ino, new TreeMap<>())
                .forEach((name, value) -> rows.add(new XattrRow(ino, name.bytes().clone(), value.clone())));
        return rows;
    }

    public Optional<byte[]> xattr(long ino, byte[] name) {
        return Optional.ofNullable(xattrs.getOrDefault(ino, new TreeMap<>()).get(new Name(name))).map(byte[]::clone);
    }

    /** How many block rows are stored, over all inodes (not the sum of nblocks, which may differ after damage). */
    public long blockRowCount() {
        return blocks.values().stream().mapToLong(Map::size).sum();
    }

    /** The generated {@code tag} column: {@code substring(data FROM length(data) - 15 FOR 16)}, all of a shorter block. */
    static byte[] tagOf(byte[] data) {
        return Arrays.copyOfRange(data, Math.max(0, data.length - 16), data.length);
    }

    // ------------------------------------------------------------------ one transaction

    /**
     * Applies {@code changes} in order to these (uncommitted) tables, as the writer's statement
     * applies a group's net effect. {@code delta} collects each inode's change of stored block
     * rows, {@code put} the inodes whose row was put, and {@code touched} what the foreign keys
     * must be checked for at the end ({@link #checkForeignKeys}).
     *
     * @throws StoreException when {@code changes} break the contract: blocks said to be new
     *     ({@code idx >= firstNewIdx}) that are stored
     */
    void apply(Change change, Transaction tx) {
        switch (change) {
            case PutInode(InodeRecord r) -> {
                InodeRecord old = inodes.get(r.ino());
                // nblocks is the store's: an update keeps the stored count, an insert starts at 0.
                inodes.put(r.ino(), withNblocks(copyOf(r), old == null ? 0 : old.nblocks()));
                tx.put.add(r.ino());
            }
            case DeleteInode(long ino) -> {
                inodes.remove(ino);
                blocks.remove(ino);
                groups.remove(ino);
                xattrs.remove(ino); // ON DELETE CASCADE
                symlinks.remove(ino); // ON DELETE CASCADE
                tx.put.remove(ino);
                tx.delta.remove(ino);
                tx.deleted.add(ino);
            }
            case PutEntry(long parent, byte[] name, long ino, byte[] mac) -> {
                EntryRow row = new EntryRow(parent, name.clone(), ino, clone(mac));
                dirents.computeIfAbsent(parent, k -> new TreeMap<>()).put(new Name(row.name()), row);
                tx.entriesPut.add(row);
            }
            case DeleteEntry(long parent, byte[] name) -> {
                TreeMap<Name, EntryRow> names = dirents.get(parent);
                if (names != null) {
                    names.remove(new Name(name));
                    if (names.isEmpty()) {
                        dirents.remove(parent);
                    }
                }
            }
            case PutBlocks(long ino, long firstNewIdx, List<SealedBlock> written) -> {
                TreeMap<Long, byte[]> rows = blocks.computeIfAbsent(ino, k -> new TreeMap<>());
                for (SealedBlock b : written) {
                    byte[] old = rows.put(b.idx(), b.data().clone());
                    if (old == null) {
                        tx.delta.merge(ino, 1L, Long::sum);
                    } else if (b.idx() >= firstNewIdx) {
                        // PostgreSQL inserts these with COPY (in large groups) and fails on the
                        // duplicate key; the contract says they cannot be stored, so fail always.
                        throw new StoreException("duplicate key value violates unique constraint \"blocks_pkey\":"
                                + " block " + b.idx() + " of inode " + ino + " is stored, but was sent as new (first new"
                                + " index " + firstNewIdx + ")");
                    }
                }
            }
            case TruncateBlocks(long ino, long fromIdx) -> {
                TreeMap<Long, byte[]> rows = blocks.get(ino);
                if (rows != null) {
                    var cut = rows.tailMap(fromIdx, true);
                    tx.delta.merge(ino, -(long) cut.size(), Long::sum);
                    cut.clear();
                    if (rows.isEmpty()) {
                        blocks.remove(ino);
                    }
                }
            }
            case PutXattr(long ino, byte[] name, byte[] value) -> {
                xattrs.computeIfAbsent(ino, k -> new TreeMap<>()).put(new Name(name.clone()), value.clone());
                tx.xattrsPut.add(ino);
            }
            case DeleteXattr(long ino, byte[] name) -> {
                TreeMap<Name, byte[]> rows = xattrs.get(ino);
                if (rows != null) {
                    rows.remove(new Name(name));
                    if (rows.isEmpty()) {
                        xattrs.remove(ino);
                    }
                }
            }
            case PutSymlink(long ino, byte[] target) -> {
                symlinks.put(ino, target.clone());
                tx.symlinksPut.add(ino);
            }
            case PutBlockGroup(long ino, long group, byte[] digest) -> {
                if (digest != null) {
                    groups.computeIfAbsent(ino, k -> new TreeMap<>()).put(group, digest.clone());
                } else if (groups.containsKey(ino)) {
                    groups.get(ino).remove(group);
                    if (groups.get(ino).isEmpty()) {
                        groups.remove(ino);
                    }
                }
            }
        }
    }

    /** What one transaction did so far, for its block counts and its foreign-key checks. */
    static final class Transaction {
        final Map<Long, Long> delta = new HashMap<>();
        final Set<Long> put = new HashSet<>();
        final Set<Long> deleted = new HashSet<>();
        final List<EntryRow> entriesPut = new ArrayList<>();
        final Set<Long> xattrsPut = new HashSet<>();
        final Set<Long> symlinksPut = new HashSet<>();
    }

    /**
     * Ends a transaction: applies each inode's block count change to its row, checks the foreign
     * keys of every row the transaction wrote or removed (PostgreSQL checks them at the end of the
     * statement, so only the final state counts), and returns the block count of every inode whose
     * row was put or whose count changed, as the statement's result rows do.
     */
    Map<Long, Long> finish(Transaction tx) {
        Map<Long, Long> nblocks = new HashMap<>();
        for (Map.Entry<Long, Long> d : tx.delta.entrySet()) {
            InodeRecord r = inodes.get(d.getKey());
            if (r != null && d.getValue() != 0) {
                inodes.put(r.ino(), withNblocks(r, r.nblocks() + d.getValue()));
                nblocks.put(r.ino(), r.nblocks() + d.getValue());
            }
        }
        for (long ino : tx.put) {
            nblocks.put(ino, inodes.get(ino).nblocks());
        }
        checkForeignKeys(tx);
        return nblocks;
    }

    private void checkForeignKeys(Transaction tx) {
        for (EntryRow e : tx.entriesPut) {
            TreeMap<Name, EntryRow> names = dirents.get(e.parent());
            EntryRow now = names == null ? null : names.get(new Name(e.name()));
            if (now == null) {
                continue; // removed again later in the same transaction
            }
            if (!inodes.containsKey(now.parent()) || !inodes.containsKey(now.ino())) {
                throw foreignKey("dirents", "an entry of directory " + now.parent() + " names inode " + now.ino()
                        + ", and one of them does not exist");
            }
        }
        for (long ino : tx.deleted) {
            if (!dirents.getOrDefault(ino, new TreeMap<>()).isEmpty() || !entriesNaming(ino).isEmpty()) {
                throw foreignKey("dirents", "inode " + ino + " was deleted but entries still refer to it");
            }
        }
        for (long ino : tx.xattrsPut) {
            if (xattrs.containsKey(ino) && !inodes.containsKey(ino)) {
                throw foreignKey("xattrs", "an attribute of inode " + ino + ", which does not exist");
            }
        }
        for (long ino : tx.symlinksPut) {
            if (symlinks.containsKey(ino) && !inodes.containsKey(ino)) {
                throw foreignKey("symlinks", "the target of inode " + ino + ", which does not exist");
            }
        }
    }

    private static StoreException foreignKey(String table, String detail) {
        return new StoreException("insert, update or delete on table \"" + table + "\" violates a foreign key"
                + " constraint: " + detail);
    }

    // ------------------------------------------------------------------ raw edits (tampering)

    void putInodeRow(InodeRecord r) {
        inodes.put(r.ino(), copyOf(r));
    }

    void deleteInodeRow(long ino) {
        inodes.remove(ino);
    }

    void putEntryRow(long parent, byte[] name, long ino, byte[] mac) {
        dirents.computeIfAbsent(parent, k -> new TreeMap<>())
                .put(new Name(name.clone()), new EntryRow(parent, name.clone(), ino, clone(mac)));
    }

    void deleteEntryRow(long parent, byte[] name) {
        TreeMap<Name, EntryRow> names = dirents.get(parent);
        if (names != null) {
            names.remove(new Name(name));
            if (names.isEmpty()) {
                dirents.remove(parent);
            }
        }
    }

    void putBlockRow(long ino, long idx, byte[] data) {
        blocks.computeIfAbsent(ino, k -> new TreeMap<>()).put(idx, data.clone());
    }

    void deleteBlockRow(long ino, long idx) {
        TreeMap<Long, byte[]> rows = blocks.get(ino);
        if (rows != null) {
            rows.remove(idx);
        }
    }

    void putXattrRow(long ino, byte[] name, byte[] value) {
        xattrs.computeIfAbsent(ino, k -> new TreeMap<>()).put(new Name(name.clone()), value.clone());
    }

    void deleteXattrRow(long ino, byte[] name) {
        TreeMap<Name, byte[]> rows = xattrs.get(ino);
        if (rows != null) {
            rows.remove(new Name(name));
        }
    }

    void putSymlinkRow(long ino, byte[] target) {
        symlinks.put(ino, target.clone());
    }

    void deleteSymlinkRow(long ino) {
        symlinks.remove(ino);
    }

    // ------------------------------------------------------------------ helpers

    static InodeRecord withNblocks(InodeRecord r, long nblocks) {
        return new InodeRecord(r.ino(), r.mode(), r.uid(), r.gid(), r.nlink(), r.size(), nblocks, r.rdev(),
                r.atimeNs(), r.mtimeNs(), r.ctimeNs(), clone(r.auth()));
    }

    static InodeRecord copyOf(InodeRecord r) {
        return withNblocks(r, r.nblocks());
    }

    static EntryRow copyOf(EntryRow e) {
        return new EntryRow(e.parent(), e.name().clone(), e.ino(), clone(e.mac()));
    }

    static byte[] clone(byte[] b) {
        return b == null ? null : b.clone();
    }
}
