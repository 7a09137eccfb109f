package dev.sqlitesuperfs.store;

import dev.sqlitesuperfs.store.NamespaceStore.SealingUpgrade.EntryRow;

/**
 * Raw access to a copy of a {@link MemoryNamespaceStore}'s rows during
 * {@link MemoryNamespaceStore#tamper}: what SQL from outside could do, with no foreign keys and
 * no block counts kept.
 */
public final class RowEditor {
    private final MemoryTables rows;

    RowEditor(MemoryTables rows) {
        this.rows = rows;
    }

    /** The rows as they are at this point of the edit. */
    public MemoryTables rows() {
        return rows;
    }

    /** Puts the row as given, {@code nblocks} and {@code auth} included. */
    public RowEditor putInode(InodeRecord r) {
        rows.putInodeRow(r);
        return this;
    }

    public RowEditor deleteInode(long ino) {
        rows.deleteInodeRow(ino);
        return this;
    }

    public RowEditor putEntry(long parent, byte[] name, long ino, byte[] mac) {
        rows.putEntryRow(parent, name, ino, mac);
        return this;
    }

    public RowEditor putEntry(EntryRow row) {
        return putEntry(row.parent(), row.name(), row.ino(), row.mac());
    }

    public RowEditor deleteEntry(long parent, byte[] name) {
        rows.deleteEntryRow(parent, name);
        return this;
    }

    public RowEditor putBlock(long ino, long idx, byte[] data) {
        rows.putBlockRow(ino, idx, data);
        return this;
    }

    public RowEditor deleteBlock(long ino, long idx) {
        rows.deleteBlockRow(ino, idx);
        return this;
    }

    public RowEditor putXattr(long ino, byte[] name, byte[] sealedValue) {
        rows.putXattrRow(ino, name, sealedValue);
        return this;
    }

    public RowEditor deleteXattr(long ino, byte[] name) {
        rows.deleteXattrRow(ino, name);
        return this;
    }

    public RowEditor putSymlink(long ino, byte[] sealedTarget) {
        rows.putSymlinkRow(ino, sealedTarget);
        return this;
    }

    public RowEditor deleteSymlink(long ino) {
        rows.deleteSymlinkRow(ino);
        return this;
    }

    public RowEditor putGroup(long ino, long group, byte[] digest) {
        rows.groups.computeIfAbsent(ino, k -> new java.util.TreeMap<>()).put(group, digest.clone());
        return this;
    }

    public RowEditor deleteGroup(long ino, long group) {
        var groups = rows.groups.get(ino);
        if (groups != null) {
            groups.remove(group);
        }
        return this;
    }
}
