package dev.sqlitesuperfs.store;

import java.util.ArrayList;
import java.util.List;
import java.util.NavigableMap;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * A {@link NamespaceStore} in memory, for unit tests of the layers above the store (the sealed
 * layer, the filesystem): no PostgreSQL, no network, answers in microseconds.
 *
 * <p>Faithful to {@link PgNamespaceStore}'s contract where the layers above can tell: reads see
 * committed state only; a commit applies its change sets in order, atomically, and fails whole
 * when a foreign key of the schema would (an entry naming a missing inode, an inode deleted while
 * entries name it); {@code nblocks} is the store's, moved by the block rows a transaction adds and
 * removes, and {@link CommitResult} reports it for every inode whose row was put or whose count
 * moved; deferred change sets wait in one queue with commits, in order, and go with the next
 * commit or {@link #flushDeferred}; a group is at most 64 change sets; a group that fails for a
 * real reason is retried set by set, so that one bad set fails alone; a failure of PostgreSQL past
 * the retry timeout fails the waiting callers and puts the deferred sets back at the head of the
 * queue. {@code commit} of an empty change set returns at once without
 * storing what is deferred, as {@code PgNamespaceStore.commit} does.
 *
 * <p>Not modelled: connections, retries and their timing (a failure is injected as the outcome
 * of a whole attempt), the owner epoch (fencing is injected), the size limit of a group (only its
 * count), and key material checksums (what {@link #meta} returns is what {@link #create} and
 * {@link #replaceKeyMaterial} stored).
 *
 * <p>For tests: {@link #tables()} (the committed rows), {@link #tamper} (change rows behind the
 * store's back, as SQL from outside would), {@link #transactions()} (what each committed
 * transaction contained), {@link #failNext} (make commits fail), {@link #crash()} and
 * {@link #reopen()} (a later mount of the same namespace). The writer is
 * {@link MemoryCommitWriter}; the rows are {@link MemoryTables}.
 */
public final class MemoryNamespaceStore implements NamespaceStore {
    /** How an injected failure looks to the store's caller. */
    public enum Fault {
        /** PostgreSQL unreachable past the retry timeout: {@link StoreException.Unavailable}. */
        UNAVAILABLE,
        /** The transaction refused for a real reason (a constraint, say): a plain {@link StoreException}. */
        REFUSED,
        /** Another mount took the namespace: {@link StoreException.Fenced}, for this and every later commit. */
        FENCED
    }

    /** One change set of a committed transaction, and whether it was deferred or waited for. */
    public record Part(ChangeSet changes, boolean deferred) {}

    /** A transaction that reached storage: its change sets in the order applied, and its result. */
    public record Transaction(long number, List<Part> parts, CommitResult result) {
        /** Every change of the transaction, in order. */
        public List<ChangeSet.Change> changes() {
            return parts.stream().flatMap(p -> p.changes().changes().stream()).toList();
        }
    }

    /** What survives a mount: the rows, the metadata and the inode sequence. */
    private static final class Database {
        volatile MemoryTables tables = new MemoryTables();
        NamespaceMeta meta;
        long nextInode = 2;
        MemoryNamespaceStore holder;
        /** The meta row's last commit number and its seal. */
        long lastCommit;
        byte[] commitSeal;
    }

    private final Database db;
    private final String namespace;
    private final boolean readOnly;

    private final MemoryCommitWriter writer;
    private volatile boolean writing;
    private volatile CommitSeals seals = CommitSeals.NONE;
    private volatile boolean closed;

    /** A store of a namespace that does not exist yet ({@link #create} makes it). */
    public MemoryNamespaceStore(String namespace) {
        this(new Database(), namespace, false);
    }

    private MemoryNamespaceStore(Database db, String namespace, boolean readOnly) {
        synchronized (db) {
            if (db.holder != null) {
                throw new StoreException.NamespaceBusy("namespace " + namespace + " is open in another store");
            }
            db.holder = this;
        }
        this.db = db;
        this.namespace = namespace;
        this.readOnly = readOnly;
        this.writer = new MemoryCommitWriter(namespace, this::apply);
    }

    /** A new store on the same namespace, as the next mount would open it; this one must be closed or crashed. */
    public MemoryNamespaceStore reopen() {
        return new MemoryNamespaceStore(db, namespace, false);
    }

    public MemoryNamespaceStore reopenReadOnly() {
        return new MemoryNamespaceStore(db, namespace, true);
    }

    /**
     * The process dies: whatever is queued (deferred changes) is lost, and nothing more is stored
     * or read through this store. Callers still waiting on a queued change set are told it failed.
     */
    public void crash() {
        closed = true;
        writer.crash();
        release();
    }

    // ------------------------------------------------------------------ lifecycle

    @Override
    public Optional<NamespaceMeta> meta() {
        ensureOpen();
        synchronized (db) {
            return Optional.ofNullable(db.meta);
        }
    }

    @Override
    public void create(NamespaceMeta meta, InodeRecord root) {
        ensureOpen();
        ensureWritable("create");
        int blockSize = meta.blockSize();
        if (blockSize < 4096 || blockSize > 1 << 20 || Integer.bitCount(blockSize) != 1) {
            throw new IllegalArgumentException("block size must be a power of two from 4 KiB to 1 MiB, got " + blockSize);
        }
        if (root.ino() != 1 || !root.isDirectory()) {
            throw new IllegalArgumentException("the root must be directory inode 1");
        }
        synchronized (db) {
            if (writing) {
                throw new IllegalStateException("create() must come before startWriting()");
            }
            if (db.meta != null) {
                throw new StoreException("namespace " + namespace + " already exists");
            }
            db.meta = new NamespaceMeta(PgNamespaceStore.FORMAT_VERSION, meta.uuid(), blockSize, meta.kdfAlgorithm(),
                    meta.kdfOpsLimit(), meta.kdfMemLimit(), meta.kdfSalt(), meta.wrappedKey(), meta.quotaBytes(),
                    meta.keyCheck());
            MemoryTables t = new MemoryTables();
            t.putInodeRow(MemoryTables.withNblocks(root, 0));
            db.tables = t;
        }
    }

    @Override
    public void startWriting() {
        ensureOpen();
        ensureWritable("startWriting");
        if (writing) {
            throw new IllegalStateException("startWriting() was already called");
        }
        if (formatVersion() == 0) {
            throw new StoreException("namespace " + namespace + " does not exist");
        }
        writing = true;
    }

    @Override
    public int formatVersion() {
        synchronized (db) {
            return db.meta == null ? 0 : db.meta.formatVersion();
        }
    }

    /** Always the current format: nothing older can be made here. */
    @Override
    public boolean needsSealingUpgrade() {
        return false;
    }

    @Override
    public void upgradeSealing(SealingUpgrade upgrade) {
        ensureOpen();
        ensureWritable("upgradeSealing");
        if (writing) {
            throw new IllegalStateException("upgradeSealing() must come before startWriting()");
        }
    }

    @Override
    public void replaceKeyMaterial(NamespaceMeta current, NamespaceMeta replacement) {
        ensureOpen();
        ensureWritable("replaceKeyMaterial");
        if (writing) {
            throw new IllegalStateException("replaceKeyMaterial() must come before startWriting()");
        }
        synchronized (db) {
            if (db.meta == null || !java.util.Arrays.equals(db.meta.wrappedKey(), current.wrappedKey())) {
                throw new StoreException("the key material of namespace " + namespace
                        + " was changed by someone else meanwhile; nothing was written");
            }
            db.meta = db.meta.withKeyMaterial(replacement.kdfAlgorithm(), replacement.kdfOpsLimit(),
                    replacement.kdfMemLimit(), replacement.kdfSalt(), replacement.wrappedKey(), replacement.keyCheck());
        }
    }

    /** Stores everything queued (deferred changes included), then lets the namespace go. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        writer.close();
        closed = true;
        release();
    }

    private void release() {
        synchronized (db) {
            if (db.holder == this) {
                db.holder = null;
            }
        }
    }

    // ------------------------------------------------------------------ reads

    /** The committed rows: read them freely, change them only through {@link #tamper}. */
    public MemoryTables tables() {
        return db.tables;
    }

    private MemoryTables read() {
        ensureOpen();
        if (formatVersion() == 0) {
            throw new StoreException("namespace " + namespace + " does not exist");
        }
        return db.tables;
    }

    @Override
    public Optional<InodeRecord> inode(long ino) {
        return read().inode(ino);
    }

    @Override
    public List<InodeRecord> inodes(long[] inos) {
        MemoryTables t = read();
        List<InodeRecord> found = new ArrayList<>();
        for (long ino : inos) {
            t.inode(ino).ifPresent(found::add);
        }
        return found;
    }

    @Override
    public List<DirEntryRecord> entries(long dir) {
        return read().entries(dir);
    }

    @Override
    public List<ParentEntry> parentEntries(long dirIno) {
        return read().entriesNaming(dirIno).stream().limit(2)
                .map(e -> new ParentEntry(e.parent(), e.name(), e.mac())).toList();
    }

    @Override
    public Optional<byte[]> symlinkTarget(long ino) {
        return read().symlink(ino);
    }

    @Override
    public List<XattrRecord> xattrs(long ino) {
        return read().xattrRows(ino).stream().map(x -> new XattrRecord(x.name(), x.sealedValue())).toList();
    }

    @Override
    public List<StoredTag> blockTags(long ino, long fromIdx, long toIdx) {
        List<StoredTag> tags = new ArrayList<>();
        if (fromIdx < toIdx) {
            read().blockRows(ino).subMap(fromIdx, toIdx)
                    .forEach((idx, data) -> tags.add(new StoredTag(idx, MemoryTables.tagOf(data))));
        }
        tagsRead.addAndGet(tags.size());
        return tags;
    }

    private final java.util.concurrent.atomic.AtomicLong tagsRead = new java.util.concurrent.atomic.AtomicLong();

    /** How many block tags reads have fetched so far (what a file's first read costs). */
    public long tagsRead() {
        return tagsRead.get();
    }

    @Override
    public TagIndex tagIndex(long ino, long firstGroupEnd) {
        MemoryTables t = read();
        List<GroupDigest> groups = new ArrayList<>();
        t.groupsOf(ino).forEach((g, d) -> groups.add(new GroupDigest(g, d)));
        return new TagIndex(blockTags(ino, 0, firstGroupEnd), groups);
    }

    @Override
    public List<SealedBlock> blocks(long ino, long fromIdx, long toIdx) {
        MemoryTables t = read();
        if (fromIdx >= toIdx) {
            return List.of();
        }
        List<SealedBlock> found = new ArrayList<>();
        t.blockRows(ino).subMap(fromIdx, toIdx).forEach((idx, data) -> found.add(new SealedBlock(idx, data.clone())));
        return found;
    }

    @Override
    public OptionalLong nextStoredBlock(long ino, long fromIdx) {
        Long idx = read().blockRows(ino).ceilingKey(fromIdx);
        return idx == null ? OptionalLong.empty() : OptionalLong.of(idx);
    }

    @Override
    public long nextMissingBlock(long ino, long fromIdx) {
        NavigableMap<Long, byte[]> stored = read().blockRows(ino);
        long idx = fromIdx;
        while (stored.containsKey(idx)) {
            idx++;
        }
        return idx;
    }

    @Override
    public long[] orphans() {
        return read().inodes.values().stream().filter(r -> r.nlink() == 0).mapToLong(InodeRecord::ino).toArray();
    }

    @Override
    public java.util.Map<Long, byte[]> inodeAuthenticators() {
        java.util.Map<Long, byte[]> auths = new java.util.HashMap<>();
        for (InodeRecord r : read().inodes.values()) {
            auths.put(r.ino(), r.auth());
        }
        return auths;
    }

    @Override
    public long[] inodeNumbers() {
        return read().inodes.keySet().stream().mapToLong(Long::longValue).toArray();
    }

    /** Inodes, and the sum of their {@code nblocks} (not a count of block rows), as the query reads. */
    @Override
    public Usage usage() {
        MemoryTables t = read();
        return new Usage(t.inodes.size(), t.inodes.values().stream().mapToLong(InodeRecord::nblocks).sum());
    }

    @Override
    public InodeRange allocateInodes() {
        ensureOpen();
        ensureWritable("allocateInodes");
        synchronized (db) {
            long first = db.nextInode;
            db.nextInode += PgNamespaceStore.INODE_RANGE_SIZE;
            return new InodeRange(first, PgNamespaceStore.INODE_RANGE_SIZE);
        }
    }

    @Override
    public List<String> check() {
        MemoryTables t = read();
        return MemoryChecks.run(t, meta().orElseThrow().blockSize());
    }

    // ------------------------------------------------------------------ tests' access

    /**
     * Changes stored rows behind the store's back (no foreign keys, no block counts), as SQL from
     * outside would: the edit sees and changes a copy of the committed rows, which then replaces them.
     */
    public void tamper(Consumer<RowEditor> edit) {
        synchronized (db) {
            MemoryTables copy = db.tables.copy();
            edit.accept(new RowEditor(copy));
            db.tables = copy;
        }
    }

    /** The committed transactions of this store, in order. */
    public List<Transaction> transactions() {
        return writer.transactions();
    }

    /**
     * Makes the next {@code count} attempts at a transaction fail with {@code kind}. A group of
     * change sets that fails with {@link Fault#REFUSED} is attempted again set by set (as
     * PostgreSQL's writer does), each of those attempts using up one more.
     */
    public void failNext(int count, Fault kind) {
        writer.failNext(count, kind);
    }

    /**
     * Makes every commit wait, once it is called, until {@code gate} opens (a server that is slow
     * to answer); {@link #commitsWaiting()} counts the commits held there.
     */
    public void holdCommits(CountDownLatch gate) {
        this.gate = gate;
    }

    /** How many commits wait at the gate of {@link #holdCommits}. */
    public int commitsWaiting() {
        return waiting.get();
    }

    private volatile CountDownLatch gate;
    private final AtomicInteger waiting = new AtomicInteger();

    private void passGate() {
        CountDownLatch g = gate;
        if (g == null) {
            return;
        }
        waiting.incrementAndGet();
        try {
            g.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            waiting.decrementAndGet();
        }
    }

    /** From now on, transactions succeed again (a fencing stays). */
    public void stopFailing() {
        writer.failNext(0, null);
    }

    /** How many attempts at a transaction failed by injection. */
    public int failedAttempts() {
        return writer.failedAttempts();
    }

    /** How many change sets are queued (deferred, or waiting for the leader). */
    public int queued() {
        return writer.queued();
    }

    // ------------------------------------------------------------------ writes

    @Override
    public CommitResult commit(ChangeSet changes) {
        requireWriter("commit");
        if (changes.isEmpty()) {
            return CommitResult.EMPTY;
        }
        passGate();
        return writer.commit(changes);
    }

    @Override
    public Deferred defer(ChangeSet changes) {
        requireWriter("defer");
        return writer.defer(changes);
    }

    @Override
    public Deferred deferAfter(Deferred earlier, ChangeSet changes) {
        requireWriter("deferAfter");
        return writer.deferAfter(earlier, changes);
    }

    /** A read-only store has nothing deferred: nothing to do. */
    @Override
    public void flushDeferred() {
        if (readOnly) {
            return;
        }
        requireWriter("flushDeferred");
        writer.flushDeferred();
    }

    @Override
    public long oldestDeferred() {
        ensureOpen();
        return writer.oldestDeferred();
    }

    /** One group's transaction: its change sets applied in order to a copy, checked, published. */
    private CommitResult apply(List<ChangeSet> sets) {
        long number;
        CommitResult result;
        synchronized (db) {
            number = db.lastCommit + 1;
            java.util.Map<Long, InodeRecord> put = new java.util.LinkedHashMap<>();
            java.util.Set<Long> deleted = new java.util.HashSet<>();
            for (ChangeSet set : sets) {
                for (ChangeSet.Change c : set.changes()) {
                    if (c instanceof ChangeSet.PutInode(InodeRecord r)) {
                        put.put(r.ino(), r);
                        deleted.remove(r.ino());
                    } else if (c instanceof ChangeSet.DeleteInode(long ino)) {
                        put.remove(ino);
                        deleted.add(ino);
                    }
                }
            }
            byte[] seal = seals.seal(number, put.values(), deleted);
            MemoryTables next = db.tables.copy();
            MemoryTables.Transaction tx = new MemoryTables.Transaction();
            for (ChangeSet set : sets) {
                for (ChangeSet.Change c : set.changes()) {
                    next.apply(c, tx);
                }
            }
            result = new CommitResult(next.finish(tx));
            db.tables = next;
            db.lastCommit = number;
            db.commitSeal = seal;
        }
        seals.committed(number);
        return result;
    }

    @Override
    public CommitState commitState() {
        ensureOpen();
        synchronized (db) {
            return new CommitState(db.lastCommit, db.commitSeal == null ? null : db.commitSeal.clone());
        }
    }

    @Override
    public void sealCommits(CommitSeals seals) {
        if (writing) {
            throw new IllegalStateException("sealCommits() must come before startWriting()");
        }
        this.seals = seals;
    }

    /** Every committed row and the meta row's commit record, as a dump of the namespace would keep them. */
    public record Backup(MemoryTables tables, long lastCommit, byte[] commitSeal) {}

    public Backup backup() {
        synchronized (db) {
            return new Backup(db.tables.copy(), db.lastCommit, db.commitSeal);
        }
    }

    /** Puts {@code backup} back in place of everything (the dump restored); the store must not be writing. */
    public void restore(Backup backup) {
        synchronized (db) {
            db.tables = backup.tables().copy();
            db.lastCommit = backup.lastCommit();
            db.commitSeal = backup.commitSeal();
        }
    }

    /** Puts the meta row's commit number and seal back as they were at {@code state} (a restored backup). */
    public void rollBackCommitState(CommitState state) {
        synchronized (db) {
            db.lastCommit = state.lastCommit();
            db.commitSeal = state.seal() == null ? null : state.seal().clone();
        }
    }

    private void requireWriter(String operation) {
        ensureOpen();
        if (!writing) {
            ensureWritable(operation);
            throw new IllegalStateException(operation + "() needs startWriting() first");
        }
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("the store of namespace " + namespace + " is closed");
        }
    }

    private void ensureWritable(String operation) {
        if (readOnly) {
            throw new IllegalStateException(operation + "() is not allowed on a read-only store");
        }
    }
}
