package dev.sqlitesuperfs.store;

import dev.sqlitesuperfs.store.ChangeSet.Change;
import dev.sqlitesuperfs.store.ChangeSet.DeleteEntry;
import dev.sqlitesuperfs.store.ChangeSet.DeleteInode;
import dev.sqlitesuperfs.store.ChangeSet.DeleteXattr;
import dev.sqlitesuperfs.store.ChangeSet.PutBlockGroup;
import dev.sqlitesuperfs.store.ChangeSet.PutBlocks;
import dev.sqlitesuperfs.store.ChangeSet.PutEntry;
import dev.sqlitesuperfs.store.ChangeSet.PutInode;
import dev.sqlitesuperfs.store.ChangeSet.PutSymlink;
import dev.sqlitesuperfs.store.ChangeSet.PutXattr;
import dev.sqlitesuperfs.store.ChangeSet.TruncateBlocks;
import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * What a sequence of change sets does to each row, once all of them have run: the last change to
 * a row wins, and rows that a later change deletes are not written first. This lets a whole group
 * go to PostgreSQL as one statement, in which no row may be touched twice and the order of the
 * parts is not defined (see {@link ApplyStatement}).
 *
 * <p>Inode numbers are never reused, so a deleted inode drops every earlier change to it, its
 * blocks, attributes and target included. Block truncations keep their lowest start per inode;
 * a block written after a truncation that covers it survives it.
 */
final class NetChanges {

    /** A directory entry or extended attribute key: an owner and a byte-string name. */
    record NameKey(long owner, ByteBuffer name) {
        static NameKey of(long owner, byte[] name) {
            return new NameKey(owner, ByteBuffer.wrap(name));
        }

        byte[] nameBytes() {
            return name.array();
        }
    }

    /** The final write of one block, and whether no row can exist for it before this group. */
    record BlockWrite(byte[] data, boolean knownNew) {}

    /** Final state of each touched inode row; inodes deleted by the group are in {@link #deletedInodes}. */
    final Map<Long, InodeRecord> inodes = new LinkedHashMap<>();
    final Set<Long> deletedInodes = new HashSet<>();
    /** An entry as it must be stored: the inode it names and its authenticator. */
    record EntryValue(long ino, byte[] mac) {}

    /** Entry key to what it names, or to null when the entry is removed. */
    final Map<NameKey, EntryValue> entries = new LinkedHashMap<>();
    /** Per inode, the lowest block index from which stored blocks are removed. */
    final Map<Long, Long> truncations = new HashMap<>();
    /** Per inode, the final content of every block the group writes. */
    final Map<Long, TreeMap<Long, BlockWrite>> blocks = new LinkedHashMap<>();
    /** Attribute key to its sealed value, or to null when the attribute is removed. */
    final Map<NameKey, byte[]> xattrs = new LinkedHashMap<>();
    final Map<Long, byte[]> symlinks = new LinkedHashMap<>();
    /** A group of one file's blocks. */
    record GroupKey(long ino, long group) {}

    /** Group to its digest, or to null when its row is removed. */
    final Map<GroupKey, byte[]> groups = new LinkedHashMap<>();

    private NetChanges() {}

    static NetChanges of(Iterable<ChangeSet> sets) {
        NetChanges net = new NetChanges();
        for (ChangeSet set : sets) {
            for (Change change : set.changes()) {
                net.add(change);
            }
        }
        return net;
    }

    private void add(Change change) {
        switch (change) {
            case PutInode(InodeRecord inode) -> inodes.put(inode.ino(), inode);
            case DeleteInode(long ino) -> {
                inodes.remove(ino);
                deletedInodes.add(ino);
                truncations.remove(ino);
                blocks.remove(ino);
                xattrs.keySet().removeIf(k -> k.owner() == ino);
                symlinks.remove(ino);
                groups.keySet().removeIf(k -> k.ino() == ino);
            }
            case PutEntry(long parent, byte[] name, long ino, byte[] mac) ->
                    entries.put(NameKey.of(parent, name), new EntryValue(ino, mac));
            case DeleteEntry(long parent, byte[] name) -> entries.put(NameKey.of(parent, name), null);
            case PutBlocks(long ino, long firstNewIdx, var written) -> {
                TreeMap<Long, BlockWrite> perInode = blocks.computeIfAbsent(ino, k -> new TreeMap<>());
                for (SealedBlock b : written) {
                    perInode.put(b.idx(), new BlockWrite(b.data(), b.idx() >= firstNewIdx));
                }
            }
            case TruncateBlocks(long ino, long fromIdx) -> {
                truncations.merge(ino, fromIdx, Math::min);
                TreeMap<Long, BlockWrite> perInode = blocks.get(ino);
                if (perInode != null) {
                    perInode.tailMap(fromIdx, true).clear();
                }
            }
            case PutXattr(long ino, byte[] name, byte[] sealedValue) -> xattrs.put(NameKey.of(ino, name), sealedValue);
            case DeleteXattr(long ino, byte[] name) -> xattrs.put(NameKey.of(ino, name), null);
            case PutSymlink(long ino, byte[] sealedTarget) -> symlinks.put(ino, sealedTarget);
            case PutBlockGroup(long ino, long group, byte[] digest) -> groups.put(new GroupKey(ino, group), digest);
        }
    }

    /** Whether a group's row is removed (what only the fuller statements do). */
    boolean removesGroups() {
        return groups.containsValue(null);
    }

    /** Whether anything but block writes, truncations, group digests and inode rows changes. */
    boolean hasNamespaceChanges() {
        return !deletedInodes.isEmpty() || !entries.isEmpty() || !xattrs.isEmpty() || !symlinks.isEmpty();
    }

    boolean isEmpty() {
        return inodes.isEmpty() && deletedInodes.isEmpty() && entries.isEmpty() && truncations.isEmpty()
                && blocks.isEmpty() && xattrs.isEmpty() && symlinks.isEmpty() && groups.isEmpty();
    }

    /**
     * Removes and returns the block writes that may be inserted without looking (no row can exist:
     * written past the stored size, and no truncation of the same inode in this group that could
     * leave an older row in place). Used to stream large writes with COPY.
     */
    Map<Long, TreeMap<Long, BlockWrite>> takeKnownNewBlocks() {
        Map<Long, TreeMap<Long, BlockWrite>> taken = new LinkedHashMap<>();
        for (Iterator<Map.Entry<Long, TreeMap<Long, BlockWrite>>> it = blocks.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<Long, TreeMap<Long, BlockWrite>> e = it.next();
            if (truncations.containsKey(e.getKey())) {
                continue;
            }
            TreeMap<Long, BlockWrite> fresh = new TreeMap<>();
            e.getValue().entrySet().removeIf(b -> {
                if (b.getValue().knownNew()) {
                    fresh.put(b.getKey(), b.getValue());
                    return true;
                }
                return false;
            });
            if (!fresh.isEmpty()) {
                taken.put(e.getKey(), fresh);
            }
            if (e.getValue().isEmpty()) {
                it.remove();
            }
        }
        return taken;
    }

    /** How many block writes {@link #takeKnownNewBlocks()} would take. */
    long knownNewBlockCount() {
        long n = 0;
        for (Map.Entry<Long, TreeMap<Long, BlockWrite>> e : blocks.entrySet()) {
            if (!truncations.containsKey(e.getKey())) {
                for (BlockWrite b : e.getValue().values()) {
                    if (b.knownNew()) {
                        n++;
                    }
                }
            }
        }
        return n;
    }

    /** Every inode whose row or block count this group may change. */
    Set<Long> touchedInodes() {
        Set<Long> touched = new HashSet<>(inodes.keySet());
        touched.addAll(truncations.keySet());
        touched.addAll(blocks.keySet());
        return touched;
    }
}
