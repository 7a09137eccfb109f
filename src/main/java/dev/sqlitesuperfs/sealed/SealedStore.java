package dev.sqlitesuperfs.sealed;

import dev.sqlitesuperfs.crypto.IntegrityException;
import dev.sqlitesuperfs.crypto.Sealer;
import dev.sqlitesuperfs.store.DirEntryRecord;
import dev.sqlitesuperfs.sys.FileType;
import dev.sqlitesuperfs.store.InodeRange;
import dev.sqlitesuperfs.store.InodeRecord;
import dev.sqlitesuperfs.store.NamespaceStore;
import dev.sqlitesuperfs.store.SealedBlock;
import dev.sqlitesuperfs.store.Usage;
import dev.sqlitesuperfs.store.XattrRecord;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The namespace's storage as the filesystem sees it: plaintext in and out, and nothing read that
 * is not authentic. Payloads (blocks, symlink targets, xattr values) are sealed here on the way
 * down, in the calling thread, and opened on the way up. Every inode row carries a sealed
 * authenticator of its attributes and of the digests of its contents (see {@link Sealer}); rows,
 * entries, attributes and blocks are checked against it as they are read, and a change (a
 * {@link SealedTransaction}) updates the digests as it goes down. Anything that does not open or add up is logged once and surfaces
 * as {@link TamperedException}, never as data.
 *
 * <p>Keeps, per inode the filesystem holds, what it knows to be authentic ({@link InodeAuth}):
 * the filesystem calls {@link #forget} when it lets an inode go.
 */
public final class SealedStore {
    private static final Logger log = LoggerFactory.getLogger(SealedStore.class);

    final NamespaceStore store;
    final Sealer sealer;
    private final String namespace;
    private final boolean sealNames;
    /** What is known to be authentic of each inode the filesystem holds; shared with its transactions. */
    final ConcurrentHashMap<Long, InodeAuth> known = new ConcurrentHashMap<>();

    /** The namespace's commit record, as its reads and commits see it (see {@link Freshness}). */
    interface CommitRecord {
        /** Every authentic row is taken as current, and commits are recorded nowhere. */
        CommitRecord NONE = new CommitRecord() {
            @Override
            public boolean isCurrent(long ino, byte[] auth) {
                return true;
            }

            @Override
            public void recordCommitted() {}
        };

        /** Whether an inode's stored authenticator is the one the namespace's last commit left it with. */
        boolean isCurrent(long ino, byte[] auth);

        /**
         * Records (in the freshness anchor) every commit the store has confirmed so far; called in
         * the committing thread, once the store has answered and before the caller is, outside the
         * store's writer lane so that tenants record in parallel.
         */
        void recordCommitted();
    }

    private volatile CommitRecord record = CommitRecord.NONE;

    /** From now on, every inode row read must be current by {@code record}, and commits are recorded in it. */
    void useCommitRecord(CommitRecord record) {
        this.record = record;
    }

    /** See {@link CommitRecord#recordCommitted}. */
    void recordCommitted() {
        record.recordCommitted();
    }

    public SealedStore(NamespaceStore store, Sealer sealer, String namespace) {
        this(store, sealer, namespace, false);
    }

    /**
     * @param sealNames whether the namespace stores names and symlink targets sealed (see
     *                  {@link Sealer#sealName}): then every name (of entries and of extended
     *                  attributes) is sealed on its way to the store
     *                  and opened on its way back, and a symlink's target and the size in its row
     *                  are padded to a bucket, so that PostgreSQL sees neither names nor their
     *                  exact lengths. Everything above this class sees plain names either way.
     */
    public SealedStore(NamespaceStore store, Sealer sealer, String namespace, boolean sealNames) {
        this.store = store;
        this.sealer = sealer;
        this.namespace = namespace;
        this.sealNames = sealNames;
    }

    /** Receives opened blocks from {@link #readBlocks}. */
    @FunctionalInterface
    public interface BlockSink {
        /** {@code data} holds exactly the block's stored bytes and belongs to the receiver. */
        void accept(long idx, byte[] data);
    }

    /**
     * {@code root} (inode 1 of a new namespace) with its authenticator: nothing stored under it yet.
     * {@link SealedNamespace#create} makes the root this way; so does whoever sets up a namespace with
     * a sealer of its own (the in-memory store of the unit tests).
     */
    public static InodeRecord authenticatedRoot(Sealer sealer, InodeRecord root) {
        InodeAuth fresh = InodeAuth.fresh(root.ino());
        return root.withAuth(sealer.sealInode(root.ino(), InodeAuth.plaintext(root, fresh.content, fresh.xattrs)));
    }

    /**
     * Checks the whole namespace against its authenticators, as {@code fsck --verify} does (see
     * {@link NamespaceAudit}): one line per inode that fails. For a namespace nothing has mounted.
     */
    public List<String> audit(int blockSize) {
        return new NamespaceAudit(this, namespace, blockSize).problems();
    }

    // ------------------------------------------------------------------ reads

    public Optional<InodeRecord> inode(long ino) {
        return store.inode(ino).map(this::verified);
    }

    /** The inodes among {@code inos} that exist, each checked against its authenticator. */
    public List<InodeRecord> inodes(long[] inos) {
        List<InodeRecord> found = store.inodes(inos);
        List<InodeRecord> checked = new ArrayList<>(found.size());
        for (InodeRecord r : found) {
            checked.add(verified(r));
        }
        return checked;
    }

    /**
     * What a directory's stored entries say: the entries that are authentic and current, and the
     * names of entries found damaged (each refused and logged). See {@link #entries}.
     */
    public record Listing(List<DirEntryRecord> entries, List<byte[]> refused) {}

    /**
     * The entries of {@code dir}, each with its MAC checked, and together against the directory's
     * digest. Damage is kept to what it touches where the digest allows: an entry whose MAC does
     * not match (forged or changed) is refused alone; when the authentic entries add up to the
     * digest once one or two of them are left out, those are entries brought back after their
     * removal (or added), and only they are refused. When they do not (an entry is missing, maybe
     * with another brought back in its place), nothing tells which of the rest are current, and
     * the whole directory is refused.
     */
    public Listing entries(long dir) {
        InodeAuth d = stateOf(dir);
        List<DirEntryRecord> rows = store.entries(dir);
        List<DirEntryRecord> authentic = new ArrayList<>(rows.size());
        List<byte[]> terms = new ArrayList<>(rows.size());
        List<byte[]> refused = new ArrayList<>();
        byte[] excess = new byte[Sealer.DIGEST_BYTES];
        for (DirEntryRecord stored : rows) {
            DirEntryRecord row = sealNames ? openedEntry(dir, stored) : stored;
            if (row == null) {
                continue;
            }
            if (row.mac() == null || !Arrays.equals(sealer.entryMac(dir, row.name(), row.ino()), row.mac())) {
                damaged("directory " + dir + ": the entry '" + printable(row.name()) + "' (inode " + row.ino()
                        + ") is not authentic");
                refused.add(row.name());
                continue;
            }
            byte[] term = sealer.entryTerm(dir, row.name(), row.ino());
            InodeAuth.xor(excess, term);
            authentic.add(row);
            terms.add(term);
        }
        InodeAuth.xor(excess, d.content);
        if (InodeAuth.isZero(excess)) {
            return new Listing(authentic, refused);
        }
        int[] stale = StaleEntries.explain(terms, excess);
        if (stale == null) {
            throw tampered("directory " + dir + ": its entries are not the ones last stored (one was removed,"
                    + " perhaps with others added or brought back); none of them can be vouched for");
        }
        List<DirEntryRecord> current = new ArrayList<>(authentic);
        for (int i : stale) {
            DirEntryRecord row = authentic.get(i);
            damaged("directory " + dir + ": the entry '" + printable(row.name()) + "' (inode " + row.ino()
                    + ") is not one last stored (brought back after its removal, or added)");
            refused.add(row.name());
            current.remove(row);
        }
        return new Listing(current, refused);
    }

    /**
     * The directory holding {@code dir}'s entry, for ".." of a directory loaded by inode number
     * alone. The entry's MAC is checked, and a directory named by two entries is refused: a parent
     * can neither be forged nor chosen among stale rows. Whether the entry is still current is
     * checked when either directory is listed (against its digest), not here.
     */
    public OptionalLong parentOf(long dir) {
        List<NamespaceStore.ParentEntry> found = store.parentEntries(dir);
        if (found.isEmpty()) {
            return OptionalLong.empty();
        }
        if (found.size() > 1) {
            throw tampered("directory " + dir + ": named by more than one entry");
        }
        NamespaceStore.ParentEntry e = found.get(0);
        if (sealNames) {
            try {
                e = new NamespaceStore.ParentEntry(e.parent(), sealer.openName(e.parent(), e.name()), e.mac());
            } catch (IntegrityException failed) {
                throw tampered("directory " + dir + ": its entry in directory " + e.parent() + ": "
                        + failed.getMessage());
            }
        }
        if (e.mac() == null || !Arrays.equals(sealer.entryMac(e.parent(), e.name(), dir), e.mac())) {
            throw tampered("directory " + dir + ": its entry '" + printable(e.name()) + "' in directory " + e.parent()
                    + " is not authentic");
        }
        return OptionalLong.of(e.parent());
    }

    public byte[] symlinkTarget(long ino) {
        byte[] sealed = store.symlinkTarget(ino)
                .orElseThrow(() -> tampered("inode " + ino + ": symlink target missing"));
        try {
            byte[] target = sealer.openSymlink(ino, sealed);
            return sealNames ? withoutPadding(target) : target;
        } catch (IntegrityException e) {
            throw tampered("inode " + ino + ": symlink target failed authentication");
        }
    }

    /**
     * {@code stored} with its name opened, or null (logged) if the name does not open: a name that
     * was never sealed here for this directory cannot even be named, and is left out.
     */
    private DirEntryRecord openedEntry(long dir, DirEntryRecord stored) {
        try {
            return new DirEntryRecord(sealer.openName(dir, stored.name()), stored.ino(), stored.mode(), stored.mac());
        } catch (IntegrityException e) {
            damaged("directory " + dir + ": an entry (inode " + stored.ino() + ") is not authentic: " + e.getMessage());
            return null;
        }
    }

    /** What the store keeps of the name {@code name} in directory {@code dir}. */
    byte[] storedName(long dir, byte[] name) {
        return sealNames ? sealer.sealName(dir, name) : name;
    }

    /** What the store keeps of the name {@code name} of an extended attribute of inode {@code ino}. */
    byte[] storedXattrName(long ino, byte[] name) {
        return sealNames ? sealer.sealXattrName(ino, name) : name;
    }

    /** What the store keeps of a symlink target: padded to its bucket when names are sealed. */
    byte[] storedTarget(byte[] target) {
        return sealNames ? Arrays.copyOf(target, Sealer.paddedLength(target.length)) : target;
    }

    /**
     * The row the store keeps of {@code r}: where names are sealed a symlink's size is its padded
     * target's (the authenticator keeps the real one, see {@link #verified}).
     */
    InodeRecord storedRow(InodeRecord r) {
        long size = storedSize(r.mode(), r.size());
        return size == r.size() ? r : r.withSize(size);
    }

    /** The size the store keeps for an inode of {@code mode} whose real size is {@code size}. */
    private long storedSize(int mode, long size) {
        return sealNames && FileType.isSymlink(mode) ? Sealer.paddedLength((int) size) : size;
    }

    private static byte[] withoutPadding(byte[] padded) {
        int length = padded.length;
        while (length > 0 && padded[length - 1] == 0) {
            length--;
        }
        return Arrays.copyOf(padded, length);
    }

    /** Every extended attribute of {@code ino}, name to opened value, checked against the inode's digest. */
    public Map<byte[], byte[]> xattrs(long ino) {
        InodeAuth a = stateOf(ino);
        Map<byte[], byte[]> result = new LinkedHashMap<>();
        Map<ByteBuffer, byte[]> terms = new HashMap<>();
        byte[] sum = new byte[Sealer.DIGEST_BYTES];
        for (XattrRecord x : store.xattrs(ino)) {
            byte[] name;
            byte[] value;
            try {
                name = sealNames ? sealer.openXattrName(ino, x.name()) : x.name();
                value = sealer.openXattr(ino, name, x.sealedValue());
            } catch (IntegrityException e) {
                throw tampered("inode " + ino + ": xattr " + printable(x.name()) + " failed authentication");
            }
            byte[] term = new byte[Sealer.DIGEST_BYTES];
            sealer.addXattrTerm(term, ino, name, value);
            InodeAuth.xor(sum, term);
            terms.put(ByteBuffer.wrap(name), term);
            result.put(name, value);
        }
        if (!Arrays.equals(sum, a.xattrs)) {
            throw tampered("inode " + ino + ": its extended attributes are not the ones last stored");
        }
        synchronized (a) {
            a.xattrTerms = terms;
        }
        return result;
    }

    /**
     * Opens the stored blocks of {@code ino} with {@code fromIdx <= idx < toIdx} and hands each to
     * {@code sink}, in index order; holes are skipped. Fetched in one query. Each block must be the
     * one last stored at its place (its tag), and none may be missing or added.
     */
    public void readBlocks(long ino, long fromIdx, long toIdx, BlockSink sink) {
        BlockTags tags = tagsOf(stateOf(ino));
        long expected = tags.nextPresentBefore(fromIdx, toIdx);
        for (SealedBlock b : store.blocks(ino, fromIdx, toIdx)) {
            int length = b.data().length - Sealer.OVERHEAD;
            if (length < 0) {
                throw tampered("inode " + ino + " block " + b.idx() + ": stored block too short");
            }
            if (expected >= 0 && expected < b.idx()) {
                throw tampered("inode " + ino + " block " + expected + ": missing from storage");
            }
            if (!tags.matches(b.idx(), b.data(), b.data().length - Sealer.TAG_BYTES)) {
                throw tampered("inode " + ino + " block " + b.idx() + " is not the version last stored there");
            }
            byte[] plain = new byte[length];
            try {
                sealer.openBlock(ino, b.idx(), b.data(), plain, 0);
            } catch (IntegrityException e) {
                throw tampered("inode " + ino + " block " + b.idx() + " failed authentication");
            }
            sink.accept(b.idx(), plain);
            expected = tags.nextPresentBefore(b.idx() + 1, toIdx);
        }
        if (expected >= 0) {
            throw tampered("inode " + ino + " block " + expected + ": missing from storage");
        }
    }

    /**
     * The tag of each block of {@code ino} with {@code fromIdx <= idx < toIdx} (null for a hole),
     * as authenticated for reads: which blocks changed between two states, without reading them
     * (a block read is checked against the same tag).
     */
    public byte[][] blockTags(long ino, long fromIdx, long toIdx) {
        BlockTags tags = tagsOf(stateOf(ino));
        byte[][] result = new byte[(int) (toIdx - fromIdx)][];
        for (long idx = fromIdx; idx < toIdx; idx++) {
            byte[] tag = new byte[Sealer.TAG_BYTES];
            if (tags.get(idx, tag, 0)) {
                result[(int) (idx - fromIdx)] = tag;
            }
        }
        return result;
    }

    /** The smallest stored block index {@code >= fromIdx} (from the authenticated tags). */
    public OptionalLong nextStoredBlock(long ino, long fromIdx) {
        long next = tagsOf(stateOf(ino)).nextPresent(fromIdx);
        return next < 0 ? OptionalLong.empty() : OptionalLong.of(next);
    }

    /** The smallest index {@code >= fromIdx} without a stored block (from the authenticated tags). */
    public long nextMissingBlock(long ino, long fromIdx) {
        return tagsOf(stateOf(ino)).nextAbsent(fromIdx);
    }

    /** Inodes whose authenticated link count is 0: unlinked, left open by a mount that died. */
    public long[] orphans() {
        long[] candidates = store.orphans();
        if (candidates.length == 0) {
            return candidates;
        }
        List<Long> orphans = new ArrayList<>();
        for (InodeRecord r : inodes(candidates)) {
            if (r.nlink() == 0) {
                orphans.add(r.ino());
            }
        }
        return orphans.stream().mapToLong(Long::longValue).toArray();
    }

    public Usage usage() {
        return store.usage();
    }

    public InodeRange allocateInodes() {
        return store.allocateInodes();
    }

    /** The filesystem no longer holds inode {@code ino}: what is known of it is read again when needed. */
    public void forget(long ino) {
        known.remove(ino);
    }

    /** Commits every deferred transaction; see {@link NamespaceStore#flushDeferred()}. */
    public void flushDeferred() {
        store.flushDeferred();
        record.recordCommitted();
    }

    /** See {@link NamespaceStore#oldestDeferred()}. */
    public long oldestDeferred() {
        return store.oldestDeferred();
    }

    /** A transaction to fill and then commit or defer; see {@link SealedTransaction}. */
    public SealedTransaction transaction() {
        return new SealedTransaction(this);
    }

    /**
     * Checks {@code r} against its authenticator and against the namespace's commit record, and
     * remembers the digests it carries.
     */
    private InodeRecord verified(InodeRecord r) {
        if (!record.isCurrent(r.ino(), r.auth())) {
            // A commit of this inode may have landed between the read and the check: once more.
            InodeRecord again = store.inode(r.ino()).orElse(null);
            if (again == null || !record.isCurrent(again.ino(), again.auth())) {
                throw tampered("inode " + r.ino() + ": its row is not the one the last commit left (an earlier"
                        + " version put back with what it vouched for, or an inode brought back after its removal)");
            }
            r = again;
        }
        byte[] plain;
        try {
            plain = sealer.openInode(r.ino(), r.auth());
        } catch (IntegrityException e) {
            throw tampered("inode " + r.ino() + ": " + e.getMessage());
        }
        ByteBuffer b = ByteBuffer.wrap(plain);
        int mode = b.getInt();
        int uid = b.getInt();
        int gid = b.getInt();
        int nlink = b.getInt();
        long size = b.getLong();
        // A symlink's row holds its padded size where names are sealed; the real one is sealed.
        boolean same = mode == r.mode() & uid == r.uid() & gid == r.gid() & nlink == r.nlink()
                & storedSize(mode, size) == r.size() & b.getInt() == r.rdev()
                & b.getLong() == r.atimeNs() & b.getLong() == r.mtimeNs() & b.getLong() == r.ctimeNs();
        if (!same) {
            throw tampered("inode " + r.ino() + ": its row does not match its authenticator (attributes changed)");
        }
        if (size != r.size()) {
            r = r.withSize(size);
        }
        byte[] content = new byte[Sealer.DIGEST_BYTES];
        byte[] xattrs = new byte[Sealer.DIGEST_BYTES];
        b.get(content).get(xattrs);
        // Memory is ahead of storage for an inode the filesystem holds: what it knows stays.
        known.putIfAbsent(r.ino(), new InodeAuth(r.ino(), content, xattrs));
        return r;
    }

    private InodeAuth stateOf(long ino) {
        InodeAuth a = known.get(ino);
        if (a == null) {
            inode(ino).orElseThrow(() -> tampered("inode " + ino + " is missing from storage"));
            a = known.get(ino);
        }
        return a;
    }

    /**
     * The tags of a file's stored blocks, known as far as they are needed: on first use, the tags
     * of its first group and the digests of its later groups, read in one query and checked
     * against its content digest; each later group's tags once something asks about one of its
     * blocks (see {@link BlockTags}).
     */
    BlockTags tagsOf(InodeAuth a) {
        synchronized (a) {
            if (a.tags == null) {
                if (InodeAuth.isZero(a.content)) {
                    a.tags = new BlockTags();
                    return a.tags;
                }
                NamespaceStore.TagIndex index = store.tagIndex(a.ino, BlockTags.GROUP_BLOCKS);
                byte[] sum = new byte[Sealer.DIGEST_BYTES];
                Map<Long, byte[]> digests = new HashMap<>();
                for (NamespaceStore.GroupDigest g : index.groups()) {
                    if (g.group() < 1 || g.digest() == null || g.digest().length != Sealer.DIGEST_BYTES) {
                        throw tampered("inode " + a.ino + ": the digest of its block group " + g.group() + " is malformed");
                    }
                    sealer.addGroupTerm(sum, a.ino, g.group(), g.digest());
                    digests.put(g.group(), g.digest());
                }
                BlockTags tags = new BlockTags((group, digest) -> groupTags(a.ino, group, digest), digests);
                addBlockTerms(sum, a.ino, index.firstGroup());
                for (NamespaceStore.StoredTag t : index.firstGroup()) {
                    tags.put(t.idx(), t.tag(), 0);
                }
                if (!Arrays.equals(sum, a.content)) {
                    throw tampered("inode " + a.ino + ": its blocks are not the ones last stored (a block of its first "
                            + BlockTags.GROUP_BLOCKS + " or the digest of a later group of blocks was replaced by an"
                            + " older version, removed or added)");
                }
                a.tags = tags;
            }
            return a.tags;
        }
    }

    /** The tags of later group {@code group} of file {@code ino}, checked against the group's authenticated digest. */
    private List<NamespaceStore.StoredTag> groupTags(long ino, long group, byte[] digest) {
        long first = BlockTags.firstOf(group);
        List<NamespaceStore.StoredTag> tags = store.blockTags(ino, first, first + BlockTags.GROUP_BLOCKS);
        byte[] sum = new byte[Sealer.DIGEST_BYTES];
        addBlockTerms(sum, ino, tags);
        if (!Arrays.equals(sum, digest)) {
            throw tampered("inode " + ino + ": its blocks " + first + " to " + (first + BlockTags.GROUP_BLOCKS - 1)
                    + " are not the ones last stored (a block was replaced by an older version, removed or added)");
        }
        return tags;
    }

    /** XORs the term of each of {@code tags} (stored tags of file {@code ino}) into {@code sum}; a malformed one is refused. */
    private void addBlockTerms(byte[] sum, long ino, List<NamespaceStore.StoredTag> tags) {
        for (NamespaceStore.StoredTag t : tags) {
            if (t.tag() == null || t.tag().length != Sealer.TAG_BYTES) {
                throw tampered("inode " + ino + " block " + t.idx() + ": stored block too short");
            }
            sealer.addBlockTerm(sum, ino, t.idx(), t.tag(), 0);
        }
    }

    Map<ByteBuffer, byte[]> xattrTermsOf(InodeAuth a) {
        synchronized (a) {
            if (a.xattrTerms != null) {
                return a.xattrTerms;
            }
        }
        xattrs(a.ino);
        synchronized (a) {
            return a.xattrTerms;
        }
    }

    private TamperedException tampered(String what) {
        String message = "namespace " + namespace + ": " + what + "; refusing to serve it";
        log.error(message);
        return new TamperedException(message);
    }

    /** Logs damage that is refused on its own while what is around it is still served. */
    private void damaged(String what) {
        log.error("namespace {}: {}; refusing it, serving the rest", namespace, what);
    }

    /** An entry or attribute name for a message: printable ASCII as it is, other bytes escaped. */
    static String printable(byte[] name) {
        StringBuilder sb = new StringBuilder();
        for (byte b : name) {
            sb.append(b >= 0x20 && b < 0x7f ? String.valueOf((char) b) : String.format("\\x%02x", b & 0xff));
        }
        return sb.toString();
    }
}
