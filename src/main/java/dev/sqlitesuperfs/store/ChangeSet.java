package dev.sqlitesuperfs.store;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Row changes that must reach PostgreSQL together, in one transaction, in the order they were
 * added. The caller orders them so that every intermediate state satisfies the foreign keys
 * (an inode before the entries that name it; entries removed before their inode).
 *
 * <p>{@code nblocks} of an inode is maintained by the store: block writes and truncations adjust
 * it by the number of rows they add or remove, and {@link CommitResult} reports the new count.
 * {@link PutInode} never overwrites the stored {@code nblocks} of an existing row.
 *
 * <p>Only the net effect reaches PostgreSQL (see {@link NetChanges}): the final state of every row
 * the changes touch must be consistent, not every state in between.
 *
 * <p>Not thread-safe; build it in one thread, then hand it to
 * {@link NamespaceStore#commit(ChangeSet)} and do not touch it again.
 */
public final class ChangeSet {

    /** One change. */
    public sealed interface Change
            permits PutInode, DeleteInode, PutEntry, DeleteEntry, PutBlocks, TruncateBlocks,
                    PutXattr, DeleteXattr, PutSymlink, PutBlockGroup {}

    /** Insert the inode, or update every column of it but {@code nblocks}. */
    public record PutInode(InodeRecord inode) implements Change {}

    /** Delete the inode with its blocks, extended attributes and symlink target. */
    public record DeleteInode(long ino) implements Change {}

    /**
     * Insert the entry, or point an existing {@code (parent, name)} at {@code ino}; {@code mac} is
     * its authenticator (opaque here, may be null).
     */
    public record PutEntry(long parent, byte[] name, long ino, byte[] mac) implements Change {}

    public record DeleteEntry(long parent, byte[] name) implements Change {}

    /**
     * Insert or replace blocks of one inode. Blocks with {@code idx >= firstNewIdx} are known not
     * to be stored yet (they lie past the stored size), so the store may insert them without
     * looking; below it, it must find out whether each one replaces a row or adds one.
     */
    public record PutBlocks(long ino, long firstNewIdx, List<SealedBlock> blocks) implements Change {}

    /** Delete every block of {@code ino} with {@code idx >= fromIdx}. */
    public record TruncateBlocks(long ino, long fromIdx) implements Change {}

    public record PutXattr(long ino, byte[] name, byte[] sealedValue) implements Change {}

    public record DeleteXattr(long ino, byte[] name) implements Change {}

    /** Set the sealed target of a symlink inode (which must already be put). */
    public record PutSymlink(long ino, byte[] sealedTarget) implements Change {}

    /**
     * Set the digest of group {@code group} of a file's blocks (see {@code NamespaceStore.TagIndex}),
     * or remove the group's row when {@code digest} is null. Opaque here; rows of a deleted inode
     * go with it.
     */
    public record PutBlockGroup(long ino, long group, byte[] digest) implements Change {}

    private final List<Change> changes = new ArrayList<>();
    private long payloadBytes;

    public ChangeSet putInode(InodeRecord inode) {
        return add(new PutInode(inode), 0);
    }

    public ChangeSet deleteInode(long ino) {
        return add(new DeleteInode(ino), 0);
    }

    public ChangeSet putEntry(long parent, byte[] name, long ino) {
        return putEntry(parent, name, ino, null);
    }

    public ChangeSet putEntry(long parent, byte[] name, long ino, byte[] mac) {
        return add(new PutEntry(parent, name, ino, mac), name.length + (mac == null ? 0 : mac.length));
    }

    public ChangeSet deleteEntry(long parent, byte[] name) {
        return add(new DeleteEntry(parent, name), name.length);
    }

    public ChangeSet putBlocks(long ino, long firstNewIdx, List<SealedBlock> blocks) {
        if (blocks.isEmpty()) {
            return this;
        }
        long bytes = 0;
        for (SealedBlock b : blocks) {
            bytes += b.data().length;
        }
        return add(new PutBlocks(ino, firstNewIdx, List.copyOf(blocks)), bytes);
    }

    public ChangeSet truncateBlocks(long ino, long fromIdx) {
        return add(new TruncateBlocks(ino, fromIdx), 0);
    }

    public ChangeSet putXattr(long ino, byte[] name, byte[] sealedValue) {
        return add(new PutXattr(ino, name, sealedValue), name.length + sealedValue.length);
    }

    public ChangeSet deleteXattr(long ino, byte[] name) {
        return add(new DeleteXattr(ino, name), name.length);
    }

    public ChangeSet putSymlink(long ino, byte[] sealedTarget) {
        return add(new PutSymlink(ino, sealedTarget), sealedTarget.length);
    }

    public ChangeSet putBlockGroup(long ino, long group, byte[] digest) {
        return add(new PutBlockGroup(ino, group, digest), digest == null ? 16 : 16 + digest.length);
    }

    /** Append all changes of {@code other}, in order. */
    public ChangeSet addAll(ChangeSet other) {
        changes.addAll(other.changes);
        payloadBytes += other.payloadBytes;
        return this;
    }

    public List<Change> changes() {
        return Collections.unmodifiableList(changes);
    }

    public boolean isEmpty() {
        return changes.isEmpty();
    }

    /** Rough size of what will be sent, for deciding how many change sets to group. */
    public long payloadBytes() {
        return payloadBytes;
    }

    private ChangeSet add(Change change, long bytes) {
        changes.add(change);
        payloadBytes += bytes;
        return this;
    }
}
