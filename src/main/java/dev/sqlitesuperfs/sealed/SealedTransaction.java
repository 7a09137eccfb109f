package dev.sqlitesuperfs.sealed;

import dev.sqlitesuperfs.crypto.Sealer;
import dev.sqlitesuperfs.store.ChangeSet;
import dev.sqlitesuperfs.store.CommitResult;
import dev.sqlitesuperfs.store.InodeRecord;
import dev.sqlitesuperfs.store.NamespaceStore;
import dev.sqlitesuperfs.store.SealedBlock;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * Changes that reach PostgreSQL in one transaction, in the order added. Payloads are sealed as
 * they are added; the digests they change are worked out alongside and sealed into the
 * authenticator of each inode whose row the transaction puts (every change of an inode's
 * contents comes with its row). What is known of the inodes changes only once the transaction
 * is committed or deferred. Made by {@link SealedStore#transaction()}, whose knowledge of the
 * inodes it reads and updates; used by one thread.
 */
public final class SealedTransaction {
    private sealed interface Op permits PutInode, Other {}

    private record PutInode(InodeRecord record) implements Op {}

    private record Other(Consumer<ChangeSet> add) implements Op {}

    /** One inode's changes within this transaction. */
    private final class Work {
        final InodeAuth base;
        final boolean created;
        final byte[] content;
        final byte[] xattrs;
        /** Block index to its new tag, or to null when the transaction removes it. */
        final Map<Long, byte[]> tags = new HashMap<>();
        /** Attribute name to its new term, or to null when removed. */
        final Map<ByteBuffer, byte[]> xattrTerms = new HashMap<>();
        /** Later group of blocks (see {@link BlockTags}) to its digest as of this point, for each group changed. */
        final Map<Long, byte[]> groupDigests = new TreeMap<>();
        /** The first later group a truncation removed whole, or {@code Long.MAX_VALUE}. */
        long groupsCutFrom = Long.MAX_VALUE;
        /** The content digest with the terms of the changed groups, once {@link #changes()} worked it out. */
        byte[] finalContent;
        boolean deleted;
        boolean rowPut;

        Work(InodeAuth base, boolean created) {
            this.base = base;
            this.created = created;
            this.content = base.content.clone();
            this.xattrs = base.xattrs.clone();
        }

        /** The block's tag as of this point of the transaction, or null if not stored. */
        byte[] currentTag(long idx) {
            if (tags.containsKey(idx)) {
                return tags.get(idx);
            }
            if (BlockTags.groupOf(idx) >= groupsCutFrom) {
                return null; // its group was cut whole earlier in this transaction
            }
            byte[] tag = new byte[Sealer.TAG_BYTES];
            return owner.tagsOf(base).get(idx, tag, 0) ? tag : null;
        }

        /**
         * Where the term of block {@code idx} is summed: the content digest for the first group,
         * the digest of its group (as this transaction leaves it so far) for a later one.
         */
        byte[] termSum(long idx) {
            long group = BlockTags.groupOf(idx);
            if (group == 0) {
                return content;
            }
            // (a group a truncation cut whole is in the map already, as empty)
            return groupDigests.computeIfAbsent(group, g -> {
                byte[] stored = owner.tagsOf(base).digest(g);
                return stored != null ? stored : new byte[Sealer.DIGEST_BYTES];
            });
        }

        byte[] currentXattrTerm(ByteBuffer name) {
            return xattrTerms.containsKey(name) ? xattrTerms.get(name) : owner.xattrTermsOf(base).get(name);
        }
    }

    private final SealedStore owner;
    private final NamespaceStore store;
    private final Sealer sealer;
    private final List<Op> ops = new ArrayList<>();
    private final Map<Long, Work> work = new LinkedHashMap<>();
    private final List<Consumer<RuntimeException>> onFailure = new ArrayList<>(1);

    SealedTransaction(SealedStore owner) {
        this.owner = owner;
        this.store = owner.store;
        this.sealer = owner.sealer;
    }

    private Work work(long ino) {
        return work.computeIfAbsent(ino, k -> {
            InodeAuth a = owner.known.get(ino);
            // An inode nobody has read is one this transaction creates.
            return a != null ? new Work(a, false) : new Work(InodeAuth.fresh(ino), true);
        });
    }

    private SealedTransaction add(Consumer<ChangeSet> change) {
        ops.add(new Other(change));
        return this;
    }

    public SealedTransaction putInode(InodeRecord inode) {
        work(inode.ino()).rowPut = true;
        ops.add(new PutInode(inode));
        return this;
    }

    public SealedTransaction deleteInode(long ino) {
        work(ino).deleted = true;
        return add(c -> c.deleteInode(ino));
    }

    /** Names {@code ino} as {@code name} in {@code parent}; {@code replaced} is the inode the name named before, or 0. */
    public SealedTransaction putEntry(long parent, byte[] name, long ino, long replaced) {
        Work p = work(parent);
        InodeAuth.xor(p.content, sealer.entryTerm(parent, name, ino));
        if (replaced != 0) {
            InodeAuth.xor(p.content, sealer.entryTerm(parent, name, replaced));
        }
        byte[] mac = sealer.entryMac(parent, name, ino);
        byte[] stored = owner.storedName(parent, name);
        return add(c -> c.putEntry(parent, stored, ino, mac));
    }

    /** Removes the entry {@code name} of {@code parent}, which names {@code ino}. */
    public SealedTransaction deleteEntry(long parent, byte[] name, long ino) {
        InodeAuth.xor(work(parent).content, sealer.entryTerm(parent, name, ino));
        byte[] stored = owner.storedName(parent, name);
        return add(c -> c.deleteEntry(parent, stored));
    }

    /** @see ChangeSet#putBlocks for the meaning of {@code firstNewIdx} */
    public SealedTransaction putBlocks(long ino, long firstNewIdx, List<PlainBlock> blocks) {
        if (blocks.isEmpty()) {
            return this;
        }
        Work w = work(ino);
        List<SealedBlock> sealed = new ArrayList<>(blocks.size());
        for (PlainBlock b : blocks) {
            byte[] data = sealer.sealBlock(ino, b.idx(), b.data(), 0, b.length());
            sealed.add(new SealedBlock(b.idx(), data));
            byte[] old = w.currentTag(b.idx());
            byte[] sum = w.termSum(b.idx());
            if (old != null) {
                sealer.addBlockTerm(sum, ino, b.idx(), old, 0);
            }
            sealer.addBlockTerm(sum, ino, b.idx(), data, data.length - Sealer.TAG_BYTES);
            w.tags.put(b.idx(), Arrays.copyOfRange(data, data.length - Sealer.TAG_BYTES, data.length));
        }
        return add(c -> c.putBlocks(ino, firstNewIdx, sealed));
    }

    public SealedTransaction truncateBlocks(long ino, long fromIdx) {
        Work w = work(ino);
        // Blocks of a group that keeps some (and of the first group) leave one at a time; later
        // groups go whole, their terms with them, without loading their tags.
        long wholeFrom = fromIdx > 0 && fromIdx % BlockTags.GROUP_BLOCKS == 0 ? fromIdx
                : BlockTags.firstOf(BlockTags.groupOf(fromIdx) + 1);
        Map<Long, byte[]> gone = new HashMap<>();
        if (fromIdx < wholeFrom && BlockTags.groupOf(fromIdx) < w.groupsCutFrom) {
            gone.putAll(owner.tagsOf(w.base).tagsIn(fromIdx, wholeFrom));
        }
        for (Map.Entry<Long, byte[]> e : w.tags.entrySet()) {
            if (e.getKey() >= fromIdx && e.getKey() < wholeFrom) {
                gone.put(e.getKey(), e.getValue());
            }
        }
        for (Map.Entry<Long, byte[]> e : gone.entrySet()) {
            if (e.getValue() != null) {
                sealer.addBlockTerm(w.termSum(e.getKey()), ino, e.getKey(), e.getValue(), 0);
            }
            w.tags.put(e.getKey(), null);
        }
        long firstWholeGroup = BlockTags.groupOf(wholeFrom);
        for (long group : owner.tagsOf(w.base).groupsFrom(firstWholeGroup)) {
            w.groupDigests.put(group, new byte[Sealer.DIGEST_BYTES]);
        }
        for (Map.Entry<Long, byte[]> e : w.groupDigests.entrySet()) {
            if (e.getKey() >= firstWholeGroup) {
                e.setValue(new byte[Sealer.DIGEST_BYTES]);
            }
        }
        w.tags.keySet().removeIf(idx -> idx >= wholeFrom);
        w.groupsCutFrom = Math.min(w.groupsCutFrom, firstWholeGroup);
        return add(c -> c.truncateBlocks(ino, fromIdx));
    }

    public SealedTransaction putXattr(long ino, byte[] name, byte[] value) {
        Work w = work(ino);
        ByteBuffer key = ByteBuffer.wrap(name);
        byte[] old = w.currentXattrTerm(key);
        if (old != null) {
            InodeAuth.xor(w.xattrs, old);
        }
        byte[] term = new byte[Sealer.DIGEST_BYTES];
        sealer.addXattrTerm(term, ino, name, value);
        InodeAuth.xor(w.xattrs, term);
        w.xattrTerms.put(key, term);
        byte[] sealedValue = sealer.sealXattr(ino, name, value);
        byte[] stored = owner.storedXattrName(ino, name);
        return add(c -> c.putXattr(ino, stored, sealedValue));
    }

    public SealedTransaction deleteXattr(long ino, byte[] name) {
        Work w = work(ino);
        ByteBuffer key = ByteBuffer.wrap(name);
        byte[] old = w.currentXattrTerm(key);
        if (old != null) {
            InodeAuth.xor(w.xattrs, old);
        }
        w.xattrTerms.put(key, null);
        byte[] stored = owner.storedXattrName(ino, name);
        return add(c -> c.deleteXattr(ino, stored));
    }

    public SealedTransaction putSymlink(long ino, byte[] target) {
        byte[] sealedTarget = sealer.sealSymlink(ino, owner.storedTarget(target));
        return add(c -> c.putSymlink(ino, sealedTarget));
    }

    public boolean isEmpty() {
        return ops.isEmpty();
    }

    /**
     * Runs {@code handler} with the failure if {@link #commit} fails (before the failure is
     * thrown on), for whoever must undo in memory what the transaction was to store. Only for
     * transactions that are committed, not deferred.
     */
    public SealedTransaction onFailure(Consumer<RuntimeException> handler) {
        onFailure.add(handler);
        return this;
    }

    /** Commits durably; see {@link NamespaceStore#commit}. */
    public CommitResult commit() {
        if (ops.isEmpty()) {
            return CommitResult.EMPTY;
        }
        CommitResult result;
        try {
            result = store.commit(changes());
        } catch (RuntimeException e) {
            for (var handler : onFailure) {
                handler.accept(e);
            }
            throw e;
        }
        owner.recordCommitted();
        apply();
        return result;
    }

    private void requireNoFailureHandler() {
        if (!onFailure.isEmpty()) {
            throw new IllegalStateException("a transaction with a failure handler must be committed");
        }
    }

    /** Queues the changes for the next commit, in order; see {@link NamespaceStore#defer}. */
    public NamespaceStore.Deferred defer() {
        requireNoFailureHandler();
        NamespaceStore.Deferred queued = store.defer(changes());
        apply();
        return queued;
    }

    /** Defers only while {@code earlier} is still queued (else null); see {@link NamespaceStore#deferAfter}. */
    public NamespaceStore.Deferred deferAfter(NamespaceStore.Deferred earlier) {
        requireNoFailureHandler();
        NamespaceStore.Deferred queued = store.deferAfter(earlier, changes());
        if (queued != null) {
            apply();
        }
        return queued;
    }

    /** The store's change set, each put inode row with its authenticator over this transaction's digests. */
    private ChangeSet changes() {
        ChangeSet groupChanges = new ChangeSet();
        for (Work w : work.values()) {
            w.finalContent = finalContent(w, groupChanges);
        }
        for (Map.Entry<Long, Work> e : work.entrySet()) {
            Work w = e.getValue();
            boolean changed = !Arrays.equals(w.finalContent, w.base.content) || !Arrays.equals(w.xattrs, w.base.xattrs);
            if (changed && !w.rowPut && !w.deleted) {
                throw new IllegalStateException("inode " + e.getKey() + ": its contents change without its row");
            }
        }
        ChangeSet changes = new ChangeSet();
        for (Op op : ops) {
            switch (op) {
                case PutInode(InodeRecord r) -> {
                    Work w = work.get(r.ino());
                    byte[] auth = sealer.sealInode(r.ino(), InodeAuth.plaintext(r, w.finalContent, w.xattrs));
                    changes.putInode(owner.storedRow(r).withAuth(auth));
                }
                case Other(var add) -> add.accept(changes);
            }
        }
        return changes.addAll(groupChanges);
    }

    /**
     * The content digest of {@code w} with the term of each later group it changed swapped for the
     * group's new one, and into {@code groupChanges} the rows those groups need (none for a deleted
     * inode: its rows go with it).
     */
    private byte[] finalContent(Work w, ChangeSet groupChanges) {
        byte[] content = w.content.clone();
        if (w.groupDigests.isEmpty()) {
            return content;
        }
        BlockTags stored = owner.tagsOf(w.base);
        for (Map.Entry<Long, byte[]> e : w.groupDigests.entrySet()) {
            long group = e.getKey();
            byte[] before = stored.digest(group);
            byte[] after = InodeAuth.isZero(e.getValue()) ? null : e.getValue();
            if (Arrays.equals(before, after)) {
                continue;
            }
            if (before != null) {
                sealer.addGroupTerm(content, w.base.ino, group, before);
            }
            if (after != null) {
                sealer.addGroupTerm(content, w.base.ino, group, after);
            }
            if (!w.deleted) {
                groupChanges.putBlockGroup(w.base.ino, group, after == null ? null : after.clone());
            }
        }
        return content;
    }

    /** What the committed (or deferred) transaction made authentic, into what is known. */
    private void apply() {
        for (Work w : work.values()) {
            if (w.deleted) {
                owner.known.remove(w.base.ino);
                continue;
            }
            InodeAuth a = w.base;
            synchronized (a) {
                System.arraycopy(w.finalContent, 0, a.content, 0, Sealer.DIGEST_BYTES);
                System.arraycopy(w.xattrs, 0, a.xattrs, 0, Sealer.DIGEST_BYTES);
                if (!w.tags.isEmpty() || !w.groupDigests.isEmpty() || w.groupsCutFrom != Long.MAX_VALUE) {
                    // Loaded by the transaction itself before it changed any tag.
                    BlockTags tags = a.tags;
                    tags.dropGroupsFrom(w.groupsCutFrom);
                    for (Map.Entry<Long, byte[]> t : w.tags.entrySet()) {
                        if (t.getValue() == null) {
                            tags.remove(t.getKey());
                        } else {
                            tags.put(t.getKey(), t.getValue(), 0);
                        }
                    }
                    for (Map.Entry<Long, byte[]> g : w.groupDigests.entrySet()) {
                        tags.setDigest(g.getKey(), InodeAuth.isZero(g.getValue()) ? null : g.getValue());
                    }
                }
                if (!w.xattrTerms.isEmpty() && a.xattrTerms != null) {
                    for (Map.Entry<ByteBuffer, byte[]> x : w.xattrTerms.entrySet()) {
                        if (x.getValue() == null) {
                            a.xattrTerms.remove(x.getKey());
                        } else {
                            a.xattrTerms.put(x.getKey(), x.getValue());
                        }
                    }
                }
            }
            if (w.created) {
                owner.known.putIfAbsent(a.ino, a);
            }
        }
    }
}
