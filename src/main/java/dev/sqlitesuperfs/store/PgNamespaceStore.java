package dev.sqlitesuperfs.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A namespace kept in its own PostgreSQL schema. Its lock is held on its server's lock session,
 * every write goes through one writer lane (see {@link CommitWriter}, {@link WriterLane}), reads
 * through a pool: the server's ({@link PgServer}), shared by a host's namespaces, or a standalone
 * mount's own. See {@link NamespaceStore}.
 */
public final class PgNamespaceStore implements NamespaceStore {
    private static final Logger log = LoggerFactory.getLogger(PgNamespaceStore.class);

    /** The format this program writes; namespaces of older formats are upgraded when opened. */
    public static final int FORMAT_VERSION = SchemaMigrations.CURRENT.latestVersion();

    /** How many inode numbers {@link #allocateInodes()} hands out at once. */
    public static final int INODE_RANGE_SIZE = 64;

    private static final int MIN_BLOCK_SIZE = 4096;
    private static final int MAX_BLOCK_SIZE = 1 << 20;
    private static final long ROOT_INO = 1;

    private final DatabaseConfig config;
    private final PgServer server;
    private final NamespaceName namespace;
    private final boolean readOnly;
    private final NamespaceSql sql;
    private final SchemaMigrations migrations;
    /** The namespace's format once opened (0 if it does not exist yet); below the latest only while a keyed step waits. */
    private volatile int formatVersion;
    private final WriterSession session;
    private final ReadPool reads;
    private final StoredRows rows;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final StoreMetrics metrics = new StoreMetrics();
    private CommitWriter writer;

    private PgNamespaceStore(PgServer server, NamespaceName namespace, boolean readOnly, NamespaceSql sql,
                             SchemaMigrations migrations, WriterSession session, ReadPool reads, int formatVersion) {
        this.formatVersion = formatVersion;
        this.server = server;
        this.config = server.config();
        this.namespace = namespace;
        this.readOnly = readOnly;
        this.sql = sql;
        this.migrations = migrations;
        this.session = session;
        this.reads = reads;
        this.rows = new StoredRows(reads, sql);
    }

    /**
     * Connects, takes the namespace lock (read-only stores take it too: one mount per namespace)
     * and, if the namespace exists in an older format, upgrades it.
     *
     * @throws StoreException.NamespaceBusy if another process has the namespace open
     * @throws StoreException.UnsupportedFormat if a newer program wrote it
     */
    public static PgNamespaceStore open(DatabaseConfig config, NamespaceName namespace, boolean readOnly) {
        return open(config, namespace, readOnly, SchemaMigrations.CURRENT);
    }

    static PgNamespaceStore open(DatabaseConfig config, NamespaceName namespace, boolean readOnly,
                                 SchemaMigrations migrations) {
        return openDedicated(config, namespace, readOnly, migrations, false);
    }

    /**
     * Opens, read-only, the copy of {@code namespace} that a move between servers has made on
     * {@code config}'s server and not yet switched to ({@link Placement.Copy#INCOMING}), which
     * {@link #open} refuses: so that the move can check it with the key before switching over.
     */
    public static PgNamespaceStore openIncomingCopy(DatabaseConfig config, NamespaceName namespace) {
        return openDedicated(config, namespace, true, SchemaMigrations.CURRENT, true);
    }

    /**
     * Opens {@code namespace} to follow the process that writes it (a read-only mount beside the
     * writer): no lock is taken, and every read runs in one snapshot of a committed state, which
     * {@link #renewSnapshot} moves to the newest commit ({@link SnapshotReads}). Nothing can be
     * written through it.
     *
     * @throws StoreException.UnsupportedFormat if a newer program wrote it, or it needs an upgrade
     */
    public static PgNamespaceStore openFollower(DatabaseConfig config, NamespaceName namespace) {
        PgServer own = PgServer.dedicated(config, namespace);
        try {
            return openFollower(own, namespace);
        } catch (RuntimeException e) {
            own.close();
            throw e;
        }
    }

    /**
     * As {@link #openFollower(DatabaseConfig, NamespaceName)}, on {@code server}'s connections (a
     * host's), plus the snapshot's own connection, which the server's bound does not count.
     */
    static PgNamespaceStore openFollower(PgServer server, NamespaceName namespace) {
        DatabaseConfig config = server.config();
        SnapshotReads snapshot = new SnapshotReads(config.dataSource(":" + namespace + ":follow"), namespace);
        try {
            NamespaceSql sql = new NamespaceSql(namespace);
            ReadPool reads = server.readsFor(namespace).inSnapshot(snapshot);
            int version = reads.readNewest("opening", connection -> {
                NamespaceOpening.checkServerVersion(connection, config);
                int found = NamespaceOpening.checkFormat(connection, namespace, sql, SchemaMigrations.CURRENT, true);
                if (found != 0) {
                    Placement.requireCurrent(connection, namespace, sql);
                }
                return found;
            });
            snapshot.renew();
            return new PgNamespaceStore(server, namespace, true, sql, SchemaMigrations.CURRENT, null, reads, version);
        } catch (RuntimeException e) {
            snapshot.close();
            throw e;
        }
    }

    private static PgNamespaceStore openDedicated(DatabaseConfig config, NamespaceName namespace, boolean readOnly,
                                                  SchemaMigrations migrations, boolean incomingCopy) {
        PgServer own = PgServer.dedicated(config, namespace);
        try {
            return open(own, namespace, readOnly, migrations, incomingCopy);
        } catch (RuntimeException e) {
            own.close();
            throw e;
        }
    }

    /** Opens {@code namespace} on {@code server}'s connections (see {@link PgServer#open}). */
    static PgNamespaceStore open(PgServer server, NamespaceName namespace, boolean readOnly,
                                 SchemaMigrations migrations) {
        return open(server, namespace, readOnly, migrations, false);
    }

    /**
     * With {@code incomingCopy} the namespace must be a move's copy not yet switched to; without,
     * it must not be a copy a move left or has not switched to yet ({@link Placement}).
     */
    private static PgNamespaceStore open(PgServer server, NamespaceName namespace, boolean readOnly,
                                         SchemaMigrations migrations, boolean incomingCopy) {
        DatabaseConfig config = server.config();
        NamespaceSql sql = new NamespaceSql(namespace);
        WriterSession session = NamespaceOpening.connect(server, namespace, sql);
        try {
            int version;
            session.acquire();
            try {
                NamespaceOpening.checkServerVersion(session.connection(), config);
                version = NamespaceOpening.checkFormat(session.connection(), namespace, sql, migrations, readOnly);
                if (incomingCopy) {
                    Placement placement = Placement.read(session.connection(), namespace, sql);
                    if (placement.copy() != Placement.Copy.INCOMING) {
                        throw new StoreException.NotCurrent("namespace " + namespace + " on this server is "
                                + placement + ", not a copy being moved here");
                    }
                } else if (version != 0) {
                    Placement.requireCurrent(session.connection(), namespace, sql);
                }
            } finally {
                session.release();
            }
            return new PgNamespaceStore(server, namespace, readOnly, sql, migrations, session,
                    server.readsFor(namespace), version);
        } catch (SQLException e) {
            session.close();
            throw SqlFailures.isTransient(e)
                    ? new StoreException.Unavailable("opening namespace " + namespace + " failed: lost PostgreSQL", e)
                    : SqlFailures.describe("opening", namespace, e);
        } catch (RuntimeException e) {
            session.close();
            throw e;
        }
    }

    @Override
    public int formatVersion() {
        return formatVersion;
    }

    @Override
    public boolean needsSealingUpgrade() {
        int version = formatVersion;
        return version != 0 && version < migrations.latestVersion();
    }

    @Override
    public synchronized void upgradeSealing(SealingUpgrade upgrade) {
        ensureOpen();
        ensureWritable("upgradeSealing");
        if (writer != null) {
            throw new IllegalStateException("upgradeSealing() must come before startWriting()");
        }
        if (!needsSealingUpgrade()) {
            return;
        }
        session.acquire();
        try {
            if (!session.isConnected()) {
                session.reconnect();
            }
            migrations.upgradeKeyed(session.connection(), namespace, sql, formatVersion,
                    connection -> fillSealing(connection, upgrade));
            log.info("Upgraded namespace {} from format version {} to {}: metadata authenticated", namespace,
                    formatVersion, migrations.latestVersion());
            formatVersion = migrations.latestVersion();
        } catch (SQLException e) {
            if (SqlFailures.isTransient(e)) {
                session.discard();
                throw new StoreException.Unavailable("upgrading namespace " + namespace + " failed: lost PostgreSQL", e);
            }
            throw SqlFailures.describe("upgrading", namespace, e);
        } finally {
            session.release();
        }
    }

    /** The keyed part of the upgrade: every row to the sealer, its authenticators back to the rows. */
    private void fillSealing(Connection connection, SealingUpgrade upgrade) throws SQLException {
        List<InodeRecord> inodes = new ArrayList<>();
        try (PreparedStatement read = connection.prepareStatement(sql.allInodes); ResultSet rows = read.executeQuery()) {
            while (rows.next()) {
                inodes.add(StoredRows.inodeRow(rows));
            }
        }
        upgrade.progress("read " + inodes.size() + " inodes");
        List<SealingUpgrade.BlockTag> tags = new ArrayList<>();
        try (PreparedStatement read = connection.prepareStatement(sql.allBlockTags)) {
            // streamed (a cursor, inside the upgrade's transaction): a large namespace's tags need not arrive at once
            read.setFetchSize(10_000);
            try (ResultSet rows = read.executeQuery()) {
                long reported = System.nanoTime();
                while (rows.next()) {
                    tags.add(new SealingUpgrade.BlockTag(rows.getLong(1), rows.getLong(2), rows.getBytes(3)));
                    if (System.nanoTime() - reported > 1_000_000_000L) {
                        reported = System.nanoTime();
                        upgrade.progress("reading block tags: " + tags.size() + " so far");
                    }
                }
            }
        }
        upgrade.progress("read " + tags.size() + " block tags");
        List<SealingUpgrade.EntryRow> entries = new ArrayList<>();
        try (PreparedStatement read = connection.prepareStatement(sql.allEntries); ResultSet rows = read.executeQuery()) {
            while (rows.next()) {
                entries.add(new SealingUpgrade.EntryRow(rows.getLong(1), rows.getBytes(2), rows.getLong(3),
                        rows.getBytes(4)));
            }
        }
        List<SealingUpgrade.XattrRow> xattrs = new ArrayList<>();
        try (PreparedStatement read = connection.prepareStatement(sql.allXattrs); ResultSet rows = read.executeQuery()) {
            while (rows.next()) {
                xattrs.add(new SealingUpgrade.XattrRow(rows.getLong(1), rows.getBytes(2), rows.getBytes(3)));
            }
        }
        upgrade.progress("read " + entries.size() + " entries and " + xattrs.size() + " extended attributes");
        CommitState commit;
        try (PreparedStatement read = connection.prepareStatement(sql.readCommitState); ResultSet rows = read.executeQuery()) {
            commit = rows.next() ? new CommitState(rows.getLong(1), rows.getBytes(2)) : new CommitState(0, null);
        }
        SealingUpgrade.Sealed sealed = upgrade.seal(inodes, tags, entries, xattrs, commit);
        try (PreparedStatement update = connection.prepareStatement(sql.setAuth)) {
            for (var e : sealed.auth().entrySet()) {
                update.setBytes(1, e.getValue());
                update.setLong(2, e.getKey());
                update.addBatch();
            }
            update.executeBatch();
        }
        try (PreparedStatement update = connection.prepareStatement(sql.setMac)) {
            for (SealingUpgrade.EntryMac m : sealed.macs()) {
                update.setBytes(1, m.mac());
                update.setLong(2, m.parent());
                update.setBytes(3, m.name());
                update.addBatch();
            }
            update.executeBatch();
        }
        try (PreparedStatement insert = connection.prepareStatement(sql.insertGroup)) {
            for (SealingUpgrade.GroupRow g : sealed.groups()) {
                insert.setLong(1, g.ino());
                insert.setLong(2, g.group());
                insert.setBytes(3, g.digest());
                insert.addBatch();
            }
            insert.executeBatch();
        }
        if (sealed.commitSeal() != null) {
            try (PreparedStatement update = connection.prepareStatement(sql.setCommitSeal)) {
                update.setBytes(1, sealed.commitSeal());
                update.executeUpdate();
            }
        }
        upgrade.progress("stored " + sealed.auth().size() + " inode authenticators, " + sealed.macs().size()
                + " entry MACs and " + sealed.groups().size() + " block group digests");
    }

    public NamespaceName namespace() {
        return namespace;
    }

    @Override
    public Optional<NamespaceMeta> meta() {
        ensureOpen();
        return reads.read("reading the metadata", connection -> {
            if (!NamespaceOpening.exists(connection, namespace, sql)) {
                return Optional.empty();
            }
            return Optional.of(MetaRow.read(connection, namespace, sql));
        });
    }

    @Override
    public Replication replication() {
        ensureOpen();
        return reads.read("reading how the server replicates", Replication::read);
    }

    @Override
    public CommitState commitState() {
        ensureOpen();
        return reads.read("reading the last commit", this::readCommitState);
    }

    @Override
    public long newestCommit() {
        ensureOpen();
        return reads.readNewest("reading the newest commit", connection -> {
            try (PreparedStatement read = connection.prepareStatement(sql.readNewestCommit)) {
                read.setString(1, Placement.table(sql));
                try (ResultSet rows = read.executeQuery()) {
                    if (!rows.next()) {
                        throw new StoreException("namespace " + namespace + " has no metadata row");
                    }
                    if (rows.getBoolean(2)) {
                        // A move switched over while this follower was mounted: the copy it reads
                        // will never see a commit again.
                        Placement.requireCurrent(connection, namespace, sql);
                    }
                    return rows.getLong(1);
                }
            }
        });
    }

    private CommitState readCommitState(Connection connection) throws SQLException {
        try (PreparedStatement read = connection.prepareStatement(sql.readCommitState);
             ResultSet rows = read.executeQuery()) {
            if (!rows.next()) {
                throw new StoreException("namespace " + namespace + " has no metadata row");
            }
            return new CommitState(rows.getLong(1), rows.getBytes(2));
        }
    }

    @Override
    public java.time.Duration catchUpTimeout() {
        return reads.snapshot() != null ? config.retryTimeout() : java.time.Duration.ZERO;
    }

    @Override
    public boolean snapshotLost() {
        SnapshotReads snapshot = reads.snapshot();
        return snapshot != null && snapshot.lost();
    }

    @Override
    public void renewSnapshot() {
        ensureOpen();
        SnapshotReads snapshot = reads.snapshot();
        if (snapshot == null) {
            throw new IllegalStateException("namespace " + namespace + " was not opened to follow its writer");
        }
        snapshot.renew();
    }

    @Override
    public void sealCommits(CommitSeals seals) {
        if (writer != null) {
            throw new IllegalStateException("sealCommits() must come before startWriting()");
        }
        session.sealCommits(seals);
    }

    /**
     * {@inheritDoc}
     *
     * <p>The format version stored is always {@link #FORMAT_VERSION}, whatever {@code meta} says:
     * the layout of the tables is this store's business.
     */
    @Override
    public synchronized void create(NamespaceMeta meta, InodeRecord root) {
        ensureOpen();
        ensureWritable("create");
        if (writer != null) {
            throw new IllegalStateException("create() must come before startWriting()");
        }
        validate(meta, root);
        try {
            inWriterTransaction(connection -> {
                migrations.createAll(connection, sql);
                try (PreparedStatement insert = connection.prepareStatement(sql.insertMeta)) {
                    insert.setInt(1, migrations.latestVersion());
                    insert.setObject(2, meta.uuid());
                    insert.setInt(3, meta.blockSize());
                    insert.setString(4, meta.kdfAlgorithm());
                    insert.setLong(5, meta.kdfOpsLimit());
                    insert.setLong(6, meta.kdfMemLimit());
                    insert.setBytes(7, meta.kdfSalt());
                    insert.setBytes(8, meta.wrappedKey());
                    insert.setLong(9, meta.quotaBytes());
                    insert.setBoolean(10, meta.sealNames());
                    insert.executeUpdate();
                }
                NamespaceMeta stored = new NamespaceMeta(migrations.latestVersion(), meta.uuid(), meta.blockSize(),
                        meta.kdfAlgorithm(), meta.kdfOpsLimit(), meta.kdfMemLimit(), meta.kdfSalt(), meta.wrappedKey(),
                        meta.quotaBytes(), meta.keyCheck(), meta.sealNames());
                writeKeyMaterial(connection, stored, meta.wrappedKey());
                try (PreparedStatement insert = connection.prepareStatement(sql.insertRoot)) {
                    insert.setLong(1, root.ino());
                    insert.setInt(2, root.mode());
                    insert.setLong(3, Integer.toUnsignedLong(root.uid()));
                    insert.setLong(4, Integer.toUnsignedLong(root.gid()));
                    insert.setInt(5, root.nlink());
                    insert.setLong(6, root.size());
                    insert.setLong(7, Integer.toUnsignedLong(root.rdev()));
                    insert.setLong(8, root.atimeNs());
                    insert.setLong(9, root.mtimeNs());
                    insert.setLong(10, root.ctimeNs());
                    insert.setBytes(11, root.auth());
                    insert.executeUpdate();
                }
                // In the same transaction, so that the catalog never lists a namespace that was not made.
                Catalog.registerCreated(connection, namespace, stored);
            });
            log.info("Created namespace {}", namespace);
        } catch (SQLException e) {
            if ("42P06".equals(e.getSQLState())) {
                throw new StoreException("namespace " + namespace + " already exists");
            }
            if (SqlFailures.isTransient(e)) {
                throw new StoreException.Unavailable("creating namespace " + namespace + " failed: lost PostgreSQL", e);
            }
            throw SqlFailures.describe("creating the namespace", namespace, e);
        }
    }

    private static void validate(NamespaceMeta meta, InodeRecord root) {
        int blockSize = meta.blockSize();
        if (blockSize < MIN_BLOCK_SIZE || blockSize > MAX_BLOCK_SIZE || Integer.bitCount(blockSize) != 1) {
            throw new IllegalArgumentException("block size must be a power of two from 4 KiB to 1 MiB, got " + blockSize);
        }
        if (root.ino() != ROOT_INO || !root.isDirectory()) {
            throw new IllegalArgumentException("the root must be directory inode 1");
        }
        if (meta.quotaBytes() < 0) {
            throw new IllegalArgumentException("quota must not be negative");
        }
    }

    @Override
    public synchronized void startWriting() {
        ensureOpen();
        ensureWritable("startWriting");
        if (writer != null) {
            throw new IllegalStateException("startWriting() was already called");
        }
        long deadline = System.nanoTime() + config.retryTimeout().toNanos();
        Backoff backoff = new Backoff();
        while (true) {
            SQLException failure;
            session.acquire();
            try {
                if (!session.isConnected()) {
                    session.reconnect();
                }
                if (!NamespaceOpening.exists(session.connection(), namespace, sql)) {
                    throw new StoreException("namespace " + namespace + " does not exist");
                }
                session.startEpoch();
                break;
            } catch (SQLException e) {
                if (!SqlFailures.isTransient(e)) {
                    throw SqlFailures.describe("starting to write", namespace, e);
                }
                session.discard();
                failure = e;
            } finally {
                session.release();
            }
            if (System.nanoTime() - deadline >= 0) {
                throw new StoreException.Unavailable("starting to write to namespace " + namespace
                        + " failed: PostgreSQL unavailable for longer than " + config.retryTimeout().toSeconds()
                        + " s", failure);
            }
            backoff.pause(deadline);
        }
        metrics.writer(writer = new CommitWriter(session, namespace, sql, config.retryTimeout(), metrics));
    }

    @Override
    public Optional<InodeRecord> inode(long ino) {
        ensureOpen();
        return rows.inode(ino);
    }

    @Override
    public List<InodeRecord> inodes(long[] inos) {
        ensureOpen();
        return rows.inodes(inos);
    }

    @Override
    public List<DirEntryRecord> entries(long dir) {
        ensureOpen();
        return rows.entries(dir);
    }

    @Override
    public List<StoredTag> blockTags(long ino, long fromIdx, long toIdx) {
        ensureOpen();
        return rows.blockTags(ino, fromIdx, toIdx);
    }

    @Override
    public TagIndex tagIndex(long ino, long firstGroupEnd) {
        ensureOpen();
        return rows.tagIndex(ino, firstGroupEnd);
    }

    @Override
    public List<ParentEntry> parentEntries(long dirIno) {
        ensureOpen();
        return rows.parentEntries(dirIno);
    }

    @Override
    public Optional<byte[]> symlinkTarget(long ino) {
        ensureOpen();
        return rows.symlinkTarget(ino);
    }

    @Override
    public List<XattrRecord> xattrs(long ino) {
        ensureOpen();
        return rows.xattrs(ino);
    }

    @Override
    public List<SealedBlock> blocks(long ino, long fromIdx, long toIdx) {
        ensureOpen();
        return rows.blocks(ino, fromIdx, toIdx);
    }

    @Override
    public OptionalLong nextStoredBlock(long ino, long fromIdx) {
        ensureOpen();
        return rows.nextStoredBlock(ino, fromIdx);
    }

    @Override
    public long nextMissingBlock(long ino, long fromIdx) {
        ensureOpen();
        return rows.nextMissingBlock(ino, fromIdx);
    }

    @Override
    public long[] orphans() {
        ensureOpen();
        return rows.orphans();
    }

    @Override
    public long[] inodeNumbers() {
        ensureOpen();
        return rows.inodeNumbers();
    }

    @Override
    public java.util.Map<Long, byte[]> inodeAuthenticators() {
        ensureOpen();
        return rows.inodeAuthenticators();
    }

    @Override
    public Usage usage() {
        ensureOpen();
        return rows.usage();
    }

    @Override
    public InodeRange allocateInodes() {
        ensureOpen();
        ensureWritable("allocateInodes");
        return rows.allocateInodes(INODE_RANGE_SIZE);
    }

    @Override
    public List<String> check() {
        ensureOpen();
        return rows.check();
    }

    @Override
    public CommitResult commit(ChangeSet changes) {
        CommitWriter current = writer("commit");
        if (changes.isEmpty()) {
            return CommitResult.EMPTY;
        }
        return current.commit(changes);
    }

    @Override
    public Deferred defer(ChangeSet changes) {
        return writer("defer").defer(changes);
    }

    @Override
    public Deferred deferAfter(Deferred earlier, ChangeSet changes) {
        return writer("deferAfter").deferAfter(earlier, changes);
    }

    /** A read-only store has nothing deferred: nothing to do. */
    @Override
    public void flushDeferred() {
        if (!readOnly) {
            writer("flushDeferred").flushDeferred();
        }
    }

    @Override
    public long oldestDeferred() {
        ensureOpen();
        CommitWriter current;
        synchronized (this) {
            current = writer;
        }
        return current == null ? 0 : current.oldestDeferred();
    }

    private CommitWriter writer(String operation) {
        ensureOpen();
        CommitWriter current;
        synchronized (this) {
            current = writer;
        }
        if (current == null) {
            ensureWritable(operation);
            throw new IllegalStateException(operation + "() needs startWriting() first");
        }
        return current;
    }

    /** Commits, transactions and the writer's queue, for the operator. */
    public StoreMetrics metrics() {
        return metrics;
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        CommitWriter current;
        synchronized (this) {
            current = writer;
        }
        try {
            if (current != null) {
                current.close();
            }
        } finally {
            synchronized (this) {
                if (session != null) {
                    session.close();
                }
            }
            reads.close();
            if (server.dedicated()) {
                server.close();
            }
        }
    }

    private void ensureOpen() {
        if (closed.get()) {
            throw new IllegalStateException("the store of namespace " + namespace + " is closed");
        }
    }

    private void ensureWritable(String operation) {
        if (readOnly) {
            throw new IllegalStateException(operation + "() is not allowed on a read-only store");
        }
    }

    /**
     * Replaces the key material: algorithm, costs, salt, wrapped key and key check of
     * {@code replacement}, with a new metadata checksum, in one transaction, provided the stored
     * wrapped key is still {@code current}'s. Used to change the passphrase and to give a namespace
     * of format 1 its first key check. Only before {@link #startWriting()}: a mount never changes
     * its own key material while serving.
     *
     * @throws StoreException if the stored key material is no longer {@code current}'s
     */
    @Override
    public synchronized void replaceKeyMaterial(NamespaceMeta current, NamespaceMeta replacement) {
        ensureOpen();
        ensureWritable("replaceKeyMaterial");
        if (writer != null) {
            throw new IllegalStateException("replaceKeyMaterial() must come before startWriting()");
        }
        try {
            inWriterTransaction(connection -> {
                NamespaceMeta stored = MetaRow.read(connection, namespace, sql);
                writeKeyMaterial(connection, stored.withKeyMaterial(replacement.kdfAlgorithm(),
                        replacement.kdfOpsLimit(), replacement.kdfMemLimit(), replacement.kdfSalt(),
                        replacement.wrappedKey(), replacement.keyCheck()), current.wrappedKey());
            });
        } catch (SQLException e) {
            if (SqlFailures.isTransient(e)) {
                throw new StoreException.Unavailable("changing the key material of namespace " + namespace
                        + " failed: lost PostgreSQL", e);
            }
            throw SqlFailures.describe("changing the key material", namespace, e);
        }
    }

    /** Work done in one transaction on the connection that holds the namespace lock. */
    @FunctionalInterface
    private interface WriterWork {
        void run(Connection connection) throws SQLException;
    }

    /**
     * Runs {@code work} in one transaction on the lock-holding connection, before the writer owns
     * it (creating the namespace, replacing key material); rolls back on any failure.
     */
    private void inWriterTransaction(WriterWork work) throws SQLException {
        session.acquire();
        try {
            if (!session.isConnected()) {
                session.reconnect();
            }
            Connection connection = session.connection();
            connection.setAutoCommit(false);
            try {
                work.run(connection);
                connection.commit();
            } catch (SQLException | RuntimeException e) {
                session.rollbackOrDiscard();
                if (e instanceof SQLException sql && SqlFailures.isTransient(sql)) {
                    session.discard();
                }
                throw e;
            } finally {
                if (session.isConnected()) {
                    connection.setAutoCommit(true);
                }
            }
        } finally {
            session.release();
        }
    }

    /** Writes {@code next}'s key material and checksum if the wrapped key is still {@code expectedWrapped}. */
    private void writeKeyMaterial(Connection connection, NamespaceMeta next, byte[] expectedWrapped)
            throws SQLException {
        try (PreparedStatement update = connection.prepareStatement(sql.replaceKeyMaterial)) {
            update.setString(1, next.kdfAlgorithm());
            update.setLong(2, next.kdfOpsLimit());
            update.setLong(3, next.kdfMemLimit());
            update.setBytes(4, next.kdfSalt());
            update.setBytes(5, next.wrappedKey());
            update.setBytes(6, next.keyCheck());
            update.setBytes(7, MetaChecksum.of(next));
            update.setBytes(8, expectedWrapped);
            if (update.executeUpdate() != 1) {
                throw new StoreException("the key material of namespace " + namespace
                        + " was changed by someone else meanwhile; nothing was written");
            }
        }
    }
}
