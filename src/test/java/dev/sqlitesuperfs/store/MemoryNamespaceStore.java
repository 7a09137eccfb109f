package dev.sqlitesuperfs.store;

import dev.sqlitesuperfs.store.NamespaceStore.SealingUpgrade.EntryRow;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.NavigableMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

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
 * commit or {@link #flushDeferred}; a group is at most {@value #MAX_GROUP_SETS} change sets; a group
 * that fails for a real reason is retried set by set, so that one bad set fails alone; a failure
 * of PostgreSQL past the retry timeout fails the waiting callers and puts the deferred sets back
 * at the head of the queue. {@code commit} of an empty change set returns at once without
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
 * {@link #reopen()} (a later mount of the same namespace).
 */
public final class MemoryNamespaceStore implements NamespaceStore {
    private static final Logger log = LoggerFactory.getLogger(MemoryNamespaceStore.class);

    static final int MAX_GROUP_SETS = CommitWriter.MAX_GROUP_SETS;

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
        long transactionNumber;
        MemoryNamespaceStore holder;
    }

    private final Database db;
    private final String namespace;
    private final boolean readOnly;

    /** Guards the queue, {@link Pending#taken} and the state flags. */
    private final Object queueLock = new Object();
    private final ArrayDeque<Pending> queue = new ArrayDeque<>();
    private volatile boolean writing;
    private boolean closing;
    private volatile boolean closed;
    private volatile boolean fenced;
    /** Held by whoever runs transactions, as the writer's leader does. */
    private final ReentrantLock leader = new ReentrantLock();

    private final List<Transaction> transactions = new ArrayList<>();
    private int faultsLeft;
    private Fault fault;
    private int failedAttempts;

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
        List<Pending> lost;
        synchronized (queueLock) {
            closing = true;
            closed = true;
            lost = new ArrayList<>(queue);
            queue.clear();
        }
        for (Pending p : lost) {
            p.result.completeExceptionally(new StoreException.Unavailable("the store crashed", null));
        }
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
        synchronized (queueLock) {
            if (writing) {
                throw new IllegalStateException("startWriting() was already called");
            }
            if (formatVersion() == 0) {
                throw new StoreException("namespace " + namespace + " does not exist");
            }
            writing = true;
        }
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
        synchronized (queueLock) {
            if (closing) {
                return;
            }
            closing = true;
        }
        leader.lock();
        try {
            List<Pending> group;
            while (!(group = takeGroup()).isEmpty()) {
                runGroup(group);
            }
        } finally {
            leader.unlock();
        }
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
    public List<StoredTag> blockTags(long ino) {
        List<StoredTag> tags = new ArrayList<>();
        read().blockRows(ino).forEach((idx, data) -> tags.add(new StoredTag(idx, MemoryTables.tagOf(data))));
        return tags;
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
        synchronized (transactions) {
            return List.copyOf(transactions);
        }
    }

    /**
     * Makes the next {@code count} attempts at a transaction fail with {@code kind}. A group of
     * change sets that fails with {@link Fault#REFUSED} is attempted again set by set (as
     * PostgreSQL's writer does), each of those attempts using up one more.
     */
    public void failNext(int count, Fault kind) {
        synchronized (queueLock) {
            faultsLeft = count;
            fault = kind;
        }
    }

    /** From now on, transactions succeed again (a fencing stays). */
    public void stopFailing() {
        failNext(0, null);
    }

    /** How many attempts at a transaction failed by injection. */
    public int failedAttempts() {
        synchronized (queueLock) {
            return failedAttempts;
        }
    }

    /** How many change sets are queued (deferred, or waiting for the leader). */
    public int queued() {
        synchronized (queueLock) {
            return queue.size();
        }
    }

    // ------------------------------------------------------------------ writes

    /** A change set in the queue: a commit someone waits for, or deferred changes. */
    private final class Pending implements Deferred {
        final ChangeSet changes;
        final boolean deferred;
        final long queuedAt = System.nanoTime() | 1;
        final CompletableFuture<CommitResult> result = new CompletableFuture<>();
        /** Taken into a transaction attempt (guarded by queueLock); from then on it may be stored. */
        boolean taken;

        Pending(ChangeSet changes, boolean deferred) {
            this.changes = changes;
            this.deferred = deferred;
        }

        @Override
        public CompletableFuture<?> stored() {
            return result;
        }
    }

    @Override
    public CommitResult commit(ChangeSet changes) {
        requireWriter("commit");
        if (changes.isEmpty()) {
            return CommitResult.EMPTY;
        }
        return commitQueued(changes);
    }

    @Override
    public Deferred defer(ChangeSet changes) {
        requireWriter("defer");
        return enqueue(changes, true);
    }

    @Override
    public Deferred deferAfter(Deferred earlier, ChangeSet changes) {
        requireWriter("deferAfter");
        synchronized (queueLock) {
            if (!(earlier instanceof Pending p) || p.taken) {
                return null;
            }
            Pending later = new Pending(changes, true);
            queue.addLast(later);
            return later;
        }
    }

    @Override
    public void flushDeferred() {
        if (readOnly) {
            return;
        }
        requireWriter("flushDeferred");
        if (oldestDeferred() != 0) {
            commitQueued(new ChangeSet());
        }
    }

    @Override
    public long oldestDeferred() {
        ensureOpen();
        synchronized (queueLock) {
            return queue.stream().filter(p -> p.deferred).mapToLong(p -> p.queuedAt).findFirst().orElse(0);
        }
    }

    private CommitResult commitQueued(ChangeSet changes) {
        Pending own = enqueue(changes, false);
        leader.lock();
        try {
            while (!own.result.isDone()) {
                runGroup(takeGroup());
            }
        } finally {
            leader.unlock();
        }
        try {
            return own.result.join();
        } catch (CompletionException e) {
            throw rethrowable(e.getCause());
        }
    }

    private Pending enqueue(ChangeSet changes, boolean deferred) {
        if (fenced) {
            throw new StoreException.Fenced("namespace " + namespace + " is now owned by another mount");
        }
        Pending p = new Pending(changes, deferred);
        synchronized (queueLock) {
            if (closing) {
                throw new IllegalStateException("the store of namespace " + namespace + " is closed");
            }
            queue.addLast(p);
        }
        return p;
    }

    /** The queue's head, as much as one group may hold. Called by the leader. */
    private List<Pending> takeGroup() {
        synchronized (queueLock) {
            List<Pending> group = new ArrayList<>();
            while (group.size() < MAX_GROUP_SETS && !queue.isEmpty()) {
                Pending p = queue.pollFirst();
                p.taken = true;
                group.add(p);
            }
            return group;
        }
    }

    /** Commits a group as {@code CommitWriter.process} does: whole, or else set by set. */
    private void runGroup(List<Pending> group) {
        StoreException failure = attempt(group);
        if (failure == null) {
            return;
        }
        if (group.size() == 1) {
            fail(group.getFirst(), failure);
            return;
        }
        for (Pending p : group) {
            StoreException alone = attempt(List.of(p));
            if (alone != null) {
                fail(p, alone);
            }
        }
    }

    /** One transaction; settles every caller except on a refusal, which it returns. */
    private StoreException attempt(List<Pending> group) {
        Fault injected = takeFault();
        if (injected == Fault.FENCED || fenced) {
            fenced = true;
            for (Pending p : group) {
                p.result.completeExceptionally(new StoreException.Fenced("namespace " + namespace
                        + " is now owned by another mount (injected)"));
            }
            return null;
        }
        if (injected == Fault.UNAVAILABLE) {
            failUnavailable(group);
            return null;
        }
        if (injected == Fault.REFUSED) {
            return new StoreException("commit to namespace " + namespace + " failed: refused (injected)");
        }
        if (group.stream().allMatch(p -> p.changes.isEmpty())) {
            group.forEach(p -> p.result.complete(CommitResult.EMPTY)); // nothing to send: no transaction
            return null;
        }
        CommitResult result;
        synchronized (db) {
            MemoryTables next = db.tables.copy();
            MemoryTables.Transaction tx = new MemoryTables.Transaction();
            try {
                for (Pending p : group) {
                    for (ChangeSet.Change c : p.changes.changes()) {
                        next.apply(c, tx);
                    }
                }
                result = new CommitResult(next.finish(tx));
            } catch (StoreException e) {
                return new StoreException("commit to namespace " + namespace + " failed: " + e.getMessage(), e);
            }
            db.tables = next;
            List<Part> parts = group.stream().map(p -> new Part(p.changes, p.deferred)).toList();
            synchronized (transactions) {
                transactions.add(new Transaction(++db.transactionNumber, parts, result));
            }
        }
        for (Pending p : group) {
            p.result.complete(result);
        }
        return null;
    }

    /**
     * PostgreSQL away past the retry timeout: the callers waiting fail; deferred change sets go
     * back to the head of the queue for the next commit, except while closing, when they are lost.
     */
    private void failUnavailable(List<Pending> group) {
        List<Pending> back = new ArrayList<>();
        for (Pending p : group) {
            if (p.deferred && !closing) {
                back.add(p);
            } else {
                p.result.completeExceptionally(new StoreException.Unavailable("commit to namespace " + namespace
                        + " failed: PostgreSQL unavailable for longer than the retry timeout (injected)", null));
            }
        }
        synchronized (queueLock) {
            for (int i = back.size() - 1; i >= 0; i--) {
                queue.addFirst(back.get(i)); // still "taken": it may have reached storage, as far as anyone knows
            }
        }
    }

    private Fault takeFault() {
        synchronized (queueLock) {
            if (faultsLeft <= 0 || fault == null) {
                return null;
            }
            faultsLeft--;
            failedAttempts++;
            return fault;
        }
    }

    private void fail(Pending p, StoreException failure) {
        if (p.deferred) {
            log.error("Deferred changes to namespace {} could not be stored: {}", namespace, failure.getMessage());
        }
        p.result.completeExceptionally(failure);
    }

    /** A new exception of the same kind, so that the caller's stack shows where it waited. */
    private static RuntimeException rethrowable(Throwable cause) {
        return switch (cause) {
            case StoreException.Fenced f -> new StoreException.Fenced(f.getMessage());
            case StoreException.Unavailable u -> new StoreException.Unavailable(u.getMessage(), u.getCause());
            case StoreException s -> new StoreException(s.getMessage(), s);
            case RuntimeException r -> r;
            default -> new StoreException("commit failed: " + cause, cause);
        };
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

    /** Raw access to a copy of the rows during {@link #tamper}. */
    public static final class RowEditor {
        private final MemoryTables rows;

        private RowEditor(MemoryTables rows) {
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
    }
}
