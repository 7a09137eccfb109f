package dev.sqlitesuperfs.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A namespace kept in its own PostgreSQL schema. One connection holds the namespace lock and does
 * every write (see {@link CommitWriter}); reads go through a small pool. See {@link NamespaceStore}.
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
    private final NamespaceName namespace;
    private final boolean readOnly;
    private final NamespaceSql sql;
    private final SchemaMigrations migrations;
    /** The namespace's format once opened (0 if it does not exist yet); below the latest only while a keyed step waits. */
    private volatile int formatVersion;
    private final WriterSession session;
    private final ReadPool reads;
    private final AtomicBoolean closed = new AtomicBoolean();
    private CommitWriter writer;

    private PgNamespaceStore(DatabaseConfig config, NamespaceName namespace, boolean readOnly, NamespaceSql sql,
                             SchemaMigrations migrations, WriterSession session, ReadPool reads, int formatVersion) {
        this.formatVersion = formatVersion;
        this.config = config;
        this.namespace = namespace;
        this.readOnly = readOnly;
        this.sql = sql;
        this.migrations = migrations;
        this.session = session;
        this.reads = reads;
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
        NamespaceSql sql = new NamespaceSql(namespace);
        WriterSession session = connect(config, namespace, sql);
        try {
            checkServerVersion(session.connection(), config);
            int version = checkFormat(session.connection(), namespace, sql, migrations, readOnly);
            return new PgNamespaceStore(config, namespace, readOnly, sql, migrations, session,
                    new ReadPool(config, namespace), version);
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

    private static WriterSession connect(DatabaseConfig config, NamespaceName namespace, NamespaceSql sql) {
        long deadline = System.nanoTime() + config.retryTimeout().toNanos();
        Backoff backoff = new Backoff();
        while (true) {
            try {
                return WriterSession.open(config, namespace, sql);
            } catch (SQLException e) {
                if (!SqlFailures.isTransient(e)) {
                    throw SqlFailures.describeConnecting(namespace, e);
                }
                if (System.nanoTime() - deadline >= 0) {
                    // Thrown, not logged: whoever opens reports it (the command line as its one line).
                    throw SqlFailures.unavailable("opening namespace " + namespace, config.retryTimeout(), e);
                }
                backoff.pause(deadline);
            }
        }
    }

    /** Upgrades what can be upgraded without the key; returns the format version the namespace then has (0: none). */
    private static int checkFormat(Connection connection, NamespaceName namespace, NamespaceSql sql,
                                   SchemaMigrations migrations, boolean readOnly) throws SQLException {
        if (!exists(connection, namespace, sql)) {
            return 0;
        }
        int version;
        try (PreparedStatement read = connection.prepareStatement(sql.readFormatVersion);
             ResultSet rows = read.executeQuery()) {
            if (!rows.next()) {
                throw new StoreException("namespace " + namespace + " has no metadata row");
            }
            version = rows.getInt(1);
        }
        int latest = migrations.latestVersion();
        if (version > latest) {
            // A newer program kept the checksum (MetaChecksum's rule); a version set by hand breaks it.
            try {
                MetaRow.read(connection, namespace, sql);
            } catch (SQLException e) {
                log.debug("the meta row of namespace {} (format {}) does not read as this format's: {}", namespace,
                        version, e.getMessage());
            }
            throw new StoreException.UnsupportedFormat("namespace " + namespace + " has format version " + version
                    + ", but this program only knows versions up to " + latest + "; use a newer sqlitesuperfs");
        }
        MetaRow.read(connection, namespace, sql);
        int reachable = migrations.reachableWithoutKey(version);
        if (version < reachable) {
            if (readOnly) {
                throw new StoreException.UnsupportedFormat("namespace " + namespace + " has format version " + version
                        + " and needs an upgrade to " + reachable + ": open it once without read-only");
            }
            migrations.upgrade(connection, namespace, sql, version);
            log.info("Upgraded namespace {} from format version {} to {}", namespace, version, reachable);
        }
        return reachable;
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
        }
    }

    /** The keyed part of the upgrade: every row to the sealer, its authenticators back to the rows. */
    private void fillSealing(Connection connection, SealingUpgrade upgrade) throws SQLException {
        List<InodeRecord> inodes = new ArrayList<>();
        try (PreparedStatement read = connection.prepareStatement(sql.allInodes); ResultSet rows = read.executeQuery()) {
            while (rows.next()) {
                inodes.add(inodeRow(rows));
            }
        }
        List<SealingUpgrade.BlockTag> tags = new ArrayList<>();
        try (PreparedStatement read = connection.prepareStatement(sql.allBlockTags);
             ResultSet rows = read.executeQuery()) {
            while (rows.next()) {
                tags.add(new SealingUpgrade.BlockTag(rows.getLong(1), rows.getLong(2), rows.getBytes(3)));
            }
        }
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
        SealingUpgrade.Sealed sealed = upgrade.seal(inodes, tags, entries, xattrs);
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
    }

    /** Whether the schema exists; a schema of that name that is not a namespace is an error. */
    private static boolean exists(Connection connection, NamespaceName namespace, NamespaceSql sql) throws SQLException {
        try (PreparedStatement schema = connection.prepareStatement(NamespaceSql.SCHEMA_EXISTS)) {
            schema.setString(1, namespace.value());
            try (ResultSet rows = schema.executeQuery()) {
                rows.next();
                if (!rows.getBoolean(1)) {
                    return false;
                }
            }
        }
        try (PreparedStatement meta = connection.prepareStatement(NamespaceSql.RELATION_EXISTS)) {
            meta.setString(1, sql.table("meta"));
            try (ResultSet rows = meta.executeQuery()) {
                rows.next();
                if (!rows.getBoolean(1)) {
                    throw new StoreException.NotANamespace("schema " + namespace
                            + " exists but is not a sqlitesuperfs namespace; choose another name");
                }
            }
        }
        return true;
    }

    public NamespaceName namespace() {
        return namespace;
    }

    @Override
    public Optional<NamespaceMeta> meta() {
        ensureOpen();
        return reads.read("reading the metadata", connection -> {
            if (!exists(connection, namespace, sql)) {
                return Optional.empty();
            }
            return Optional.of(MetaRow.read(connection, namespace, sql));
        });
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
                    insert.executeUpdate();
                }
                NamespaceMeta stored = new NamespaceMeta(migrations.latestVersion(), meta.uuid(), meta.blockSize(),
                        meta.kdfAlgorithm(), meta.kdfOpsLimit(), meta.kdfMemLimit(), meta.kdfSalt(), meta.wrappedKey(),
                        meta.quotaBytes(), meta.keyCheck());
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
            });
            log.info("Created namespace {}", namespace);
        } catch (SQLException e) {
            if ("42P06".equals(e.getSQLState())) {
                throw new StoreException("namespace " + namespace + " already exists");
            }
            if (SqlFailures.isTransient(e)) {
                session.discard();
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
            try {
                if (!session.isConnected()) {
                    session.reconnect();
                }
                if (!exists(session.connection(), namespace, sql)) {
                    throw new StoreException("namespace " + namespace + " does not exist");
                }
                session.startEpoch();
                break;
            } catch (SQLException e) {
                if (!SqlFailures.isTransient(e)) {
                    throw SqlFailures.describe("starting to write", namespace, e);
                }
                session.discard();
                if (System.nanoTime() - deadline >= 0) {
                    throw new StoreException.Unavailable("starting to write to namespace " + namespace
                            + " failed: PostgreSQL unavailable for longer than " + config.retryTimeout().toSeconds()
                            + " s", e);
                }
                backoff.pause(deadline);
            }
        }
        writer = new CommitWriter(session, namespace, sql, config.retryTimeout());
    }

    @Override
    public Optional<InodeRecord> inode(long ino) {
        ensureOpen();
        return reads.read("reading an inode", connection -> {
            try (PreparedStatement read = connection.prepareStatement(sql.inode)) {
                read.setLong(1, ino);
                try (ResultSet rows = read.executeQuery()) {
                    return rows.next() ? Optional.of(inodeRow(rows)) : Optional.empty();
                }
            }
        });
    }

    @Override
    public List<InodeRecord> inodes(long[] inos) {
        ensureOpen();
        if (inos.length == 0) {
            return List.of();
        }
        return reads.read("reading inodes", connection -> {
            try (PreparedStatement read = connection.prepareStatement(sql.inodes)) {
                read.setObject(1, inos);
                try (ResultSet rows = read.executeQuery()) {
                    List<InodeRecord> found = new ArrayList<>(inos.length);
                    while (rows.next()) {
                        found.add(inodeRow(rows));
                    }
                    return found;
                }
            }
        });
    }

    @Override
    public List<DirEntryRecord> entries(long dir) {
        ensureOpen();
        return reads.read("listing a directory", connection -> {
            try (PreparedStatement read = connection.prepareStatement(sql.entries)) {
                read.setLong(1, dir);
                try (ResultSet rows = read.executeQuery()) {
                    List<DirEntryRecord> found = new ArrayList<>();
                    while (rows.next()) {
                        found.add(new DirEntryRecord(rows.getBytes(1), rows.getLong(2), rows.getInt(3), rows.getBytes(4)));
                    }
                    return found;
                }
            }
        });
    }

    @Override
    public List<StoredTag> blockTags(long ino) {
        ensureOpen();
        return reads.read("reading block tags", connection -> {
            try (PreparedStatement read = connection.prepareStatement(sql.blockTags)) {
                read.setLong(1, ino);
                try (ResultSet rows = read.executeQuery()) {
                    List<StoredTag> found = new ArrayList<>();
                    while (rows.next()) {
                        found.add(new StoredTag(rows.getLong(1), rows.getBytes(2)));
                    }
                    return found;
                }
            }
        });
    }

    @Override
    public List<ParentEntry> parentEntries(long dirIno) {
        ensureOpen();
        return reads.read("finding a parent directory", connection -> {
            try (PreparedStatement read = connection.prepareStatement(sql.parentEntries)) {
                read.setLong(1, dirIno);
                try (ResultSet rows = read.executeQuery()) {
                    List<ParentEntry> found = new ArrayList<>(1);
                    while (rows.next()) {
                        found.add(new ParentEntry(rows.getLong(1), rows.getBytes(2), rows.getBytes(3)));
                    }
                    return found;
                }
            }
        });
    }

    @Override
    public Optional<byte[]> symlinkTarget(long ino) {
        ensureOpen();
        return reads.read("reading a symlink", connection -> {
            try (PreparedStatement read = connection.prepareStatement(sql.symlinkTarget)) {
                read.setLong(1, ino);
                try (ResultSet rows = read.executeQuery()) {
                    return rows.next() ? Optional.of(rows.getBytes(1)) : Optional.empty();
                }
            }
        });
    }

    @Override
    public List<XattrRecord> xattrs(long ino) {
        ensureOpen();
        return reads.read("reading extended attributes", connection -> {
            try (PreparedStatement read = connection.prepareStatement(sql.xattrs)) {
                read.setLong(1, ino);
                try (ResultSet rows = read.executeQuery()) {
                    List<XattrRecord> found = new ArrayList<>();
                    while (rows.next()) {
                        found.add(new XattrRecord(rows.getBytes(1), rows.getBytes(2)));
                    }
                    return found;
                }
            }
        });
    }

    @Override
    public List<SealedBlock> blocks(long ino, long fromIdx, long toIdx) {
        ensureOpen();
        if (fromIdx >= toIdx) {
            return List.of();
        }
        return reads.read("reading blocks", connection -> {
            try (PreparedStatement read = connection.prepareStatement(sql.blocks)) {
                read.setLong(1, ino);
                read.setLong(2, fromIdx);
                read.setLong(3, toIdx);
                try (ResultSet rows = read.executeQuery()) {
                    List<SealedBlock> found = new ArrayList<>();
                    while (rows.next()) {
                        found.add(new SealedBlock(rows.getLong(1), rows.getBytes(2)));
                    }
                    return found;
                }
            }
        });
    }

    @Override
    public OptionalLong nextStoredBlock(long ino, long fromIdx) {
        ensureOpen();
        return reads.read("finding the next stored block", connection -> {
            try (PreparedStatement read = connection.prepareStatement(sql.nextStoredBlock)) {
                read.setLong(1, ino);
                read.setLong(2, fromIdx);
                try (ResultSet rows = read.executeQuery()) {
                    rows.next();
                    long idx = rows.getLong(1);
                    return rows.wasNull() ? OptionalLong.empty() : OptionalLong.of(idx);
                }
            }
        });
    }

    @Override
    public long nextMissingBlock(long ino, long fromIdx) {
        ensureOpen();
        return reads.read("finding the next missing block", connection -> {
            try (PreparedStatement read = connection.prepareStatement(sql.nextMissingBlock)) {
                read.setLong(1, ino);
                read.setLong(2, fromIdx);
                read.setLong(3, fromIdx);
                read.setLong(4, ino);
                read.setLong(5, fromIdx);
                read.setLong(6, ino);
                try (ResultSet rows = read.executeQuery()) {
                    rows.next();
                    return rows.getLong(1);
                }
            }
        });
    }

    @Override
    public long[] orphans() {
        return inodeList("listing orphans", sql.orphans);
    }

    @Override
    public long[] inodeNumbers() {
        return inodeList("listing inodes", sql.inodeNumbers);
    }

    private long[] inodeList(String what, String query) {
        ensureOpen();
        return reads.read(what, connection -> {
            try (PreparedStatement read = connection.prepareStatement(query); ResultSet rows = read.executeQuery()) {
                List<Long> found = new ArrayList<>();
                while (rows.next()) {
                    found.add(rows.getLong(1));
                }
                return found.stream().mapToLong(Long::longValue).toArray();
            }
        });
    }

    @Override
    public Usage usage() {
        ensureOpen();
        return reads.read("measuring usage", connection -> {
            try (PreparedStatement read = connection.prepareStatement(sql.usage); ResultSet rows = read.executeQuery()) {
                rows.next();
                return new Usage(rows.getLong(1), rows.getLong(2));
            }
        });
    }

    @Override
    public InodeRange allocateInodes() {
        ensureOpen();
        ensureWritable("allocateInodes");
        return reads.read("allocating inode numbers", connection -> {
            // A range lost to a failure after nextval is simply never used: the sequence never repeats.
            try (PreparedStatement next = connection.prepareStatement(sql.allocateInodes)) {
                next.setString(1, sql.inodeSequence);
                try (ResultSet rows = next.executeQuery()) {
                    rows.next();
                    return new InodeRange(rows.getLong(1), INODE_RANGE_SIZE);
                }
            }
        });
    }

    @Override
    public List<String> check() {
        ensureOpen();
        return reads.read("checking consistency", connection -> {
            // One snapshot for every check, so that a concurrent commit cannot look like a problem.
            connection.setAutoCommit(false);
            connection.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
            connection.setReadOnly(true);
            try {
                List<String> problems = new ArrayList<>();
                for (NamespaceSql.Check check : sql.checks) {
                    runCheck(connection, check, problems);
                }
                return problems;
            } finally {
                connection.rollback();
            }
        });
    }

    private static final int MAX_PROBLEMS_PER_CHECK = 100;

    private static void runCheck(Connection connection, NamespaceSql.Check check, List<String> problems)
            throws SQLException {
        try (PreparedStatement query = connection.prepareStatement(check.query())) {
            query.setMaxRows(MAX_PROBLEMS_PER_CHECK + 1);
            try (ResultSet rows = query.executeQuery()) {
                int columns = rows.getMetaData().getColumnCount();
                int count = 0;
                while (rows.next()) {
                    if (++count > MAX_PROBLEMS_PER_CHECK) {
                        problems.add("(more problems like the last one not listed)");
                        break;
                    }
                    Object[] values = new Object[columns];
                    for (int i = 0; i < columns; i++) {
                        values[i] = rows.getObject(i + 1);
                    }
                    problems.add(check.format().formatted(values));
                }
            }
        }
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

    /** Commits queued behind the one the writer is working on; for tests. */
    synchronized int queuedCommits() {
        return writer == null ? 0 : writer.queued();
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
                session.close();
            }
            reads.close();
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

    /** An inode row of {@link NamespaceSql#inode}'s columns (the last one the authenticator). */
    private static InodeRecord inodeRow(ResultSet rows) throws SQLException {
        return new InodeRecord(rows.getLong(1), rows.getInt(2), (int) rows.getLong(3), (int) rows.getLong(4),
                rows.getInt(5), rows.getLong(6), rows.getLong(7), (int) rows.getLong(8), rows.getLong(9),
                rows.getLong(10), rows.getLong(11), rows.getBytes(12));
    }

    /**
     * The oldest PostgreSQL this works with: 12 brought stored generated columns (each block's
     * tag, format 3); 11 hashtextextended, which the namespace lock uses.
     */
    public static final int MIN_SERVER_VERSION = 120000;

    private static void checkServerVersion(Connection connection, DatabaseConfig config) throws SQLException {
        try (PreparedStatement read = connection.prepareStatement(NamespaceSql.SERVER_VERSION);
             ResultSet rows = read.executeQuery()) {
            rows.next();
            int version = rows.getInt(1);
            if (version < MIN_SERVER_VERSION) {
                // Before 10 the number was major.minor.patch in two digits each, 90624 for 9.6.24.
                String readable = version >= 100000 ? version / 10000 + "." + version % 10000
                        : version / 10000 + "." + version / 100 % 100 + "." + version % 100;
                throw new StoreException.UnsupportedServer("the PostgreSQL server at " + config.endpoints().getFirst()
                        + " is version " + readable + "; sqlitesuperfs needs " + MIN_SERVER_VERSION / 10000
                        + " or newer");
            }
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
                session.discard();
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
            throw e;
        } finally {
            if (session.isConnected()) {
                connection.setAutoCommit(true);
            }
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
