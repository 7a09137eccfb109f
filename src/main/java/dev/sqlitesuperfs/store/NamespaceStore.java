package dev.sqlitesuperfs.store;

import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * One namespace in PostgreSQL, owned by this process for as long as it is open.
 *
 * <p>Lifecycle: {@link PgNamespaceStore#open} connects and takes the namespace's lock (or fails with
 * {@link StoreException.NamespaceBusy}); {@link #meta()} tells whether the namespace exists;
 * {@link #create} makes it; {@link #startWriting()} fences out every earlier owner and starts the
 * writer; then reads and commits; {@link #close()} drains pending commits and lets the lock go.
 *
 * <p>Every method is thread-safe. Every method may throw {@link StoreException} once its retries
 * are exhausted.
 */
public interface NamespaceStore extends AutoCloseable {

    /** The namespace's metadata, or empty if it does not exist yet. */
    Optional<NamespaceMeta> meta();

    /**
     * Create the namespace: its schema, tables, metadata and root inode, in one transaction.
     * Fails if it already exists.
     */
    void create(NamespaceMeta meta, InodeRecord root);

    /**
     * Become the namespace's only writer: record a new owner epoch (so that a process that lost
     * the lock can never write again) and start the group-commit writer. Not allowed on a
     * read-only store.
     */
    void startWriting();

    // ---- reads (from the pool; see committed state only) ----

    Optional<InodeRecord> inode(long ino);

    /** The inodes among {@code inos} that exist, in no particular order. */
    List<InodeRecord> inodes(long[] inos);

    /** Every entry of directory {@code dir}, with each child's mode. */
    List<DirEntryRecord> entries(long dir);

    /**
     * The entries that name directory {@code dirIno} (at most two are read: a directory has one,
     * so a second is damage); none for the root or a missing inode.
     */
    List<ParentEntry> parentEntries(long dirIno);

    /** An entry seen from the inode it names: the directory holding it, its name and its MAC. */
    record ParentEntry(long parent, byte[] name, byte[] mac) {}

    Optional<byte[]> symlinkTarget(long ino);

    List<XattrRecord> xattrs(long ino);

    /** A stored block's Poly1305 tag (the last 16 bytes of its sealed bytes), by index. */
    record StoredTag(long idx, byte[] tag) {}

    /** The digest stored for one group of a file's blocks (opaque here; see {@code ChangeSet.PutBlockGroup}). */
    record GroupDigest(long group, byte[] digest) {}

    /** What a file's first read needs: the tags of its blocks below {@code firstGroupEnd}, and every group digest. */
    record TagIndex(List<StoredTag> firstGroup, List<GroupDigest> groups) {}

    /** The tags of the blocks of {@code ino} with {@code idx < firstGroupEnd} and its group digests, in one query. */
    TagIndex tagIndex(long ino, long firstGroupEnd);

    /** The tags of the stored blocks of {@code ino} with {@code fromIdx <= idx < toIdx}, in index order. */
    List<StoredTag> blockTags(long ino, long fromIdx, long toIdx);

    /** The stored blocks of {@code ino} with {@code fromIdx <= idx < toIdx}, in index order. */
    List<SealedBlock> blocks(long ino, long fromIdx, long toIdx);

    /** The smallest stored block index {@code >= fromIdx}, or empty if there is none. */
    OptionalLong nextStoredBlock(long ino, long fromIdx);

    /** The smallest index {@code >= fromIdx} that has no stored block (there always is one). */
    long nextMissingBlock(long ino, long fromIdx);

    /** Inodes with a link count of 0: unlinked files whose last user went away without reclaiming them. */
    long[] orphans();

    /** Every stored inode number, in order (for a keyed check of the whole namespace). */
    long[] inodeNumbers();

    /** Every stored inode's authenticator, by inode number (for the namespace-wide digest). */
    java.util.Map<Long, byte[]> inodeAuthenticators();

    Usage usage();

    /** Fresh inode numbers; never returns a number twice, across processes and restarts. */
    InodeRange allocateInodes();

    /**
     * Consistency problems of the stored namespace, one human-readable line each (empty when
     * clean): link counts against entries, entries without inodes, blocks past a file's size,
     * {@code nblocks} against stored rows, unreachable inodes, directories with several parents.
     */
    List<String> check();

    /**
     * Whether the namespace's format predates authenticated metadata: it can be read only after
     * {@link #upgradeSealing}, which needs the key.
     */
    boolean needsSealingUpgrade();

    /** The namespace's format version as stored (0 if it does not exist yet). */
    int formatVersion();

    /** What the keyed upgrade of a namespace reads and writes; see {@link #upgradeSealing}. */
    interface SealingUpgrade {
        record BlockTag(long ino, long idx, byte[] tag) {}

        /** An entry with its stored MAC (null in namespaces older than format 3). */
        record EntryRow(long parent, byte[] name, long ino, byte[] mac) {}

        record XattrRow(long ino, byte[] name, byte[] sealedValue) {}

        record EntryMac(long parent, byte[] name, byte[] mac) {}

        /**
         * Authenticators to store: per inode, and per entry; the group digests of large files
         * (see {@link GroupDigest}); and the seal of the last commit over the new authenticators
         * (null: the stored one stays).
         */
        record Sealed(java.util.Map<Long, byte[]> auth, List<EntryMac> macs, List<GroupRow> groups, byte[] commitSeal) {
            public Sealed(java.util.Map<Long, byte[]> auth, List<EntryMac> macs) {
                this(auth, macs, List.of(), null);
            }
        }

        record GroupRow(long ino, long group, byte[] digest) {}

        /**
         * Given every row of the namespace and its commit record, the authenticators to store with
         * them (only those that change: inodes left out keep theirs).
         */
        Sealed seal(List<InodeRecord> inodes, List<BlockTag> tags, List<EntryRow> entries, List<XattrRow> xattrs,
                    CommitState commit);

        /** Told what the upgrade has done so far, one short line per step (and during long reads). */
        default void progress(String step) {}
    }

    /**
     * Brings a namespace of an older format to the latest one in one transaction, the
     * authenticators {@code upgrade} computes from its rows included. Before {@link #startWriting}.
     */
    void upgradeSealing(SealingUpgrade upgrade);

    /**
     * How the server replicates commits (see {@link Replication}), or null for a store that is not
     * a PostgreSQL server.
     */
    default Replication replication() {
        return null;
    }

    /** The meta row's record of the last committed transaction: its number and seal (see {@link CommitSeals}). */
    CommitState commitState();

    /**
     * The number of the newest commit stored now. A follower's other reads see the state of its
     * snapshot; this one reads outside it, to learn whether there is anything new to follow.
     */
    default long newestCommit() {
        return commitState().lastCommit();
    }

    /**
     * Followers only (a read-only store opened beside the namespace's writer): every read from now
     * on sees the newest committed state, and keeps seeing that same one until the next renewal.
     */
    default void renewSnapshot() {
        throw new UnsupportedOperationException("this store does not follow a writer");
    }

    /**
     * Followers: whether the snapshot was lost with its connection, so that reads fail until the
     * next {@link #renewSnapshot}; false for any other store.
     */
    default boolean snapshotLost() {
        return false;
    }

    /**
     * Followers: how long an opening may wait for the server to show a commit this machine has
     * already seen (a standby still applying it), renewing the snapshot meanwhile; zero for any
     * other store.
     */
    default java.time.Duration catchUpTimeout() {
        return java.time.Duration.ZERO;
    }

    /**
     * Who seals each transaction's number and hears of each one committed; before
     * {@link #startWriting()}. Without it, commits store no seal.
     */
    void sealCommits(CommitSeals seals);

    // ---- writes ----

    /** Changes queued by {@link #defer}. */
    interface Deferred {
        /** Completes when the changes are committed; fails if they never will be. */
        java.util.concurrent.CompletableFuture<?> stored();
    }

    /**
     * Queue {@code changes} without waiting: they are committed together with the next
     * {@link #commit} (in the same or an earlier transaction), or by {@link #flushDeferred}, and
     * always before any change queued after them. Until then they are in no transaction; a crash
     * loses them together with everything queued after them, never alone.
     */
    Deferred defer(ChangeSet changes);

    /**
     * Like {@link #defer}, but only if {@code earlier} is still waiting in the queue, in no
     * transaction yet; otherwise queues nothing and returns null. Lets a change that undoes
     * {@code earlier} (removing a name it created) stay in memory only as long as {@code earlier}
     * does, so that a crash can never bring back what was removed.
     */
    Deferred deferAfter(Deferred earlier, ChangeSet changes);

    /** Commit everything deferred so far, durably; returns at once if nothing is. */
    void flushDeferred();

    /** {@link System#nanoTime()} of the oldest change still deferred, or 0 when none is. */
    long oldestDeferred();

    /**
     * Apply {@code changes} atomically and durably (the PostgreSQL commit has returned), together
     * with every change deferred before them, and return what it did. An empty change set returns
     * at once and stores nothing, not even what is deferred ({@link #flushDeferred} does that).
     * Change sets committed concurrently by several threads may share one
     * transaction; a change set is never split across transactions. If a shared transaction
     * fails, each change set is retried on its own, so one bad change set fails alone.
     */
    CommitResult commit(ChangeSet changes);

    /**
     * Replace the key material (algorithm, costs, salt, wrapped key, key check) with
     * {@code replacement}'s, in one transaction, if the stored wrapped key is still
     * {@code current}'s; the metadata checksum follows. Only before {@link #startWriting()}.
     */
    void replaceKeyMaterial(NamespaceMeta current, NamespaceMeta replacement);

    /** Drain pending commits, stop the writer, release the lock and close every connection. */
    @Override
    void close();
}
