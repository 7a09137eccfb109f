package dev.sqlitesuperfs.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server's catalog of namespaces, and the administration of namespaces that needs no key:
 * listing them, their exact usage, their quota, dropping one. The catalog is the table
 * {@code sqlitesuperfs.namespaces} (layout in {@link CatalogSql#CREATE_TABLE}), made on first use; a
 * namespace is registered in the transaction that creates it ({@link #registerCreated}), and one
 * made before the catalog existed is registered when a listing finds it.
 *
 * <p>One connection per instance, named {@code sqlitesuperfs:admin} in pg_stat_activity; it holds
 * no namespace lock except for the moment of a drop.
 */
public final class Catalog implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Catalog.class);

    /** The session that holds a namespace's lock: the mount (or command) using it. */
    public record Holder(int pid, String applicationName, String clientAddress, OffsetDateTime since) {}

    /**
     * One namespace as the catalog knows it.
     *
     * @param approximateBlocks block rows by PostgreSQL's statistics, -1 when it has none
     * @param holder            who holds its lock, or null when nobody does (not mounted)
     * @param moving            whether a move between servers has marked this copy (see {@link Placement}):
     *                          the new copy not yet switched to, or the old one not yet dropped
     * @param followers         read-only mounts following it now (by their connections' application
     *                          name, {@code ...:NAME:follow})
     */
    public record Entry(String name, UUID uuid, int formatVersion, int blockSize, long quotaBytes,
            OffsetDateTime createdAt, long approximateBlocks, Holder holder, boolean moving, int followers) {}

    /**
     * A namespace's exact figures, counted in one snapshot.
     *
     * @param blockRows   stored blocks: what the quota counts, each as a whole block
     * @param sealedBytes the bytes those blocks hold, sealed (each block's plaintext plus 40)
     * @param diskBytes   the namespace's tables, their TOAST data and indexes, on disk
     * @param blockSize   from the meta row
     * @param quotaBytes  from the meta row (0: none)
     */
    public record ExactUsage(long inodes, long blockRows, long sealedBytes, long diskBytes, int blockSize,
            long quotaBytes) {
        /** What the quota counts: every stored block as a whole block. */
        public long usedBytes() {
            return blockRows * blockSize;
        }
    }

    /**
     * What {@code ns info} shows: the catalog's entry, the meta row (checked), how often it was
     * mounted, and the number of its newest commit as stored (0: none yet; checked only by a mount
     * or {@code fsck --verify}, with the key), and the other sessions using its tables now: its
     * followers (read-only mounts, which hold no namespace lock), or a command's short read.
     */
    public record Info(Entry entry, NamespaceMeta meta, long mountEpoch, long lastCommit, List<Holder> readers) {}

    /** Insufficient privilege; a read-only transaction (a standby, or default_transaction_read_only). */
    private static final Set<String> READ_ONLY_STATES = Set.of("42501", "25006");

    private final Connection connection;

    private Catalog(Connection connection) {
        this.connection = connection;
    }

    /** Connects (retrying for the config's retry timeout while the server is away) and checks the server. */
    public static Catalog open(DatabaseConfig config) {
        long deadline = System.nanoTime() + config.retryTimeout().toNanos();
        Backoff backoff = new Backoff();
        while (true) {
            Connection connection = null;
            try {
                connection = config.dataSource(":admin").getConnection();
                NamespaceOpening.checkServerVersion(connection, config);
                return new Catalog(connection);
            } catch (SQLException e) {
                closeQuietly(connection);
                if (!SqlFailures.isTransient(e)) {
                    throw SqlFailures.describeServerWork("connecting to PostgreSQL", e);
                }
                if (System.nanoTime() - deadline >= 0) {
                    throw SqlFailures.unavailable("connecting to PostgreSQL", config.retryTimeout(), e);
                }
                backoff.pause(deadline);
            } catch (RuntimeException e) {
                closeQuietly(connection);
                throw e;
            }
        }
    }

    // ------------------------------------------------------------------ reading

    /**
     * Drops the tombstone a move left for {@code name} (a schema with nothing but a placement row
     * that says where the namespace went), so that a new namespace of that name can be made here;
     * only when the caller knows the namespace it names is gone (no server of the fleet holds it).
     */
    public void dropTombstone(NamespaceName name) {
        NamespaceSql sql = new NamespaceSql(name);
        work("dropping the tombstone of namespace " + name, () -> inTransaction(() -> {
            if (Placement.read(connection, name, sql).copy() != Placement.Copy.LEFT) {
                throw new StoreException("schema " + name + " is not the tombstone of a namespace moved away;"
                        + " it was left alone");
            }
            try (Statement drop = connection.createStatement()) {
                drop.execute(CatalogSql.dropSchema(sql));
            }
            return null;
        }));
    }

    /**
     * Holds, until closed, the fleet-wide lock of the name {@code name}: the one place two
     * processes creating a namespace of the same name on different servers of a fleet meet. A
     * session-level advisory lock on a connection of its own, waited for (the other creation
     * takes a moment).
     */
    public AutoCloseable lockFleetName(NamespaceName name) {
        return work("locking the name " + name + " in the fleet", () -> {
            try (PreparedStatement lock = connection.prepareStatement(CatalogSql.FLEET_NAME_LOCK)) {
                lock.setString(1, name.value());
                lock.execute();
            }
            return (AutoCloseable) () -> {
                try (PreparedStatement unlock = connection.prepareStatement(CatalogSql.FLEET_NAME_UNLOCK)) {
                    unlock.setString(1, name.value());
                    unlock.execute();
                }
            };
        });
    }

    /** What this server holds of {@code name}: nothing, the namespace, or a copy a move left or is making. */
    public Placement placement(NamespaceName name) {
        return work("looking for namespace " + name, () -> Placement.read(connection, name, new NamespaceSql(name)));
    }

    /**
     * Every namespace of the database, by name. First brings the catalog up to date: rows whose
     * schema is gone are removed, namespaces without a row get one. Then one query.
     */
    public List<Entry> list() {
        return work("listing namespaces", () -> {
            try {
                reconcile();
            } catch (SQLException e) {
                // A role that may only read, or a standby, still gets the list as the catalog has it.
                if (!READ_ONLY_STATES.contains(e.getSQLState()) || !catalogExists(connection)) {
                    throw e;
                }
                log.warn("The catalog of namespaces cannot be brought up to date here (SQLState {}): namespaces"
                        + " made since it last was, or dropped by hand, are not shown as they are", e.getSQLState());
            }
            try (PreparedStatement list = connection.prepareStatement(CatalogSql.LIST);
                    ResultSet rows = list.executeQuery()) {
                List<Entry> entries = new ArrayList<>();
                while (rows.next()) {
                    entries.add(entry(rows));
                }
                return entries;
            }
        });
    }

    /** The namespace's catalog entry, checked meta row and mount count; empty if it does not exist. */
    public Optional<Info> info(NamespaceName name) {
        return work("reading namespace " + name, () -> {
            if (!requireKind(name)) {
                return Optional.empty();
            }
            Entry entry = registeredEntry(name);
            NamespaceSql sql = new NamespaceSql(name);
            return inSnapshot(() -> {
                NamespaceMeta meta = MetaRow.read(connection, name, sql);
                long epoch = singleLong(CatalogSql.readMountEpoch(sql));
                long lastCommit = singleLong(CatalogSql.readLastCommit(sql));
                return Optional.of(new Info(entry, meta, epoch, lastCommit, SchemaReaders.readers(connection, name)));
            });
        });
    }

    /** The namespace's catalog entry (registering it if it has none); empty if it does not exist. */
    public Optional<Entry> entry(NamespaceName name) {
        return work("reading namespace " + name, () -> requireKind(name) ? Optional.of(registeredEntry(name))
                : Optional.<Entry>empty());
    }

    /** Exact counts, read in one snapshot (they read every row of the inodes and blocks tables). */
    public Optional<ExactUsage> usage(NamespaceName name) {
        return work("measuring namespace " + name, () -> {
            if (!requireKind(name)) {
                return Optional.empty();
            }
            NamespaceSql sql = new NamespaceSql(name);
            return inSnapshot(() -> {
                long inodes = singleLong(CatalogSql.countInodes(sql));
                long blocks;
                long sealed;
                try (PreparedStatement count = connection.prepareStatement(CatalogSql.countBlocks(sql));
                        ResultSet rows = count.executeQuery()) {
                    rows.next();
                    blocks = rows.getLong(1);
                    sealed = rows.getLong(2);
                }
                try (PreparedStatement meta = connection.prepareStatement(CatalogSql.readMetaSummary(sql));
                        ResultSet rows = meta.executeQuery()) {
                    if (!rows.next()) {
                        throw new StoreException("namespace " + name + " has no metadata row");
                    }
                    return Optional.of(new ExactUsage(inodes, blocks, sealed, diskBytes(name), rows.getInt(3),
                            rows.getLong(4)));
                }
            });
        });
    }

    // ------------------------------------------------------------------ changing

    /**
     * Stores {@code quotaBytes} (0: none) in the namespace's meta row and in its catalog row, in one
     * transaction. Allowed while mounted: a mount reads the quota when it starts.
     *
     * @throws StoreException.NoSuchNamespace if it does not exist
     */
    public void setQuota(NamespaceName name, long quotaBytes) {
        if (quotaBytes < 0) {
            throw new IllegalArgumentException("a quota cannot be negative");
        }
        work("setting the quota of namespace " + name, () -> {
            if (!requireKind(name)) {
                throw noSuch(name);
            }
            registeredEntry(name);
            NamespaceSql sql = new NamespaceSql(name);
            inTransaction(() -> {
                try (PreparedStatement meta = connection.prepareStatement(CatalogSql.setMetaQuota(sql));
                        PreparedStatement row = connection.prepareStatement(CatalogSql.SET_QUOTA)) {
                    meta.setLong(1, quotaBytes);
                    meta.executeUpdate();
                    row.setLong(1, quotaBytes);
                    row.setString(2, name.value());
                    row.executeUpdate();
                }
                return null;
            });
            return null;
        });
    }

    /**
     * Drops the namespace: its schema with every table, and its catalog row, in one transaction,
     * while holding its lock, so that no mount or command can be using it. Returns the bytes its
     * tables took on disk, which PostgreSQL frees.
     *
     * @throws StoreException.NamespaceBusy   if it is mounted (or a command has it open)
     * @throws StoreException.NoSuchNamespace if it does not exist
     * @throws StoreException.NotANamespace   if a schema of that name is not a namespace (it is left alone)
     */
    public long drop(NamespaceName name) {
        return work("dropping namespace " + name, () -> {
            if (!LockSession.lock(connection, name)) {
                Entry held = registeredOrNull(name);
                throw new StoreException.NamespaceBusy("namespace " + name + " is mounted or in use by another command"
                        + (held != null && held.holder() != null ? " (" + describe(held.holder()) + ")" : "")
                        + "; unmount it first");
            }
            try {
                if (!requireKind(name)) {
                    inTransaction(() -> unregister(name));
                    throw noSuch(name);
                }
                NamespaceSql sql = new NamespaceSql(name);
                return inTransaction(() -> {
                    long freed = diskBytes(name);
                    SchemaReaders.exclusively(connection, name, "then drop it", c -> {
                        try (Statement drop = c.createStatement()) {
                            drop.execute(CatalogSql.dropSchema(sql));
                        }
                    });
                    unregister(name);
                    return freed;
                });
            } finally {
                LockSession.unlock(connection, name);
            }
        });
    }

    /** "pid 1234, sqlitesuperfs:ns:lock from 10.0.0.5 since ...": who holds a namespace. */
    public static String describe(Holder holder) {
        return "backend pid " + holder.pid()
                + (holder.applicationName() == null || holder.applicationName().isEmpty() ? ""
                        : ", " + holder.applicationName())
                + " from " + (holder.clientAddress() == null ? "a local socket" : holder.clientAddress());
    }

    @Override
    public void close() {
        closeQuietly(connection);
    }

    // ------------------------------------------------------------------ used by the store

    /**
     * Registers a namespace being created, in the creating transaction on {@code connection}
     * (making the catalog first if this server has none).
     */
    static void registerCreated(Connection connection, NamespaceName name, NamespaceMeta stored) throws SQLException {
        ensureCatalog(connection);
        try (PreparedStatement insert = connection.prepareStatement(CatalogSql.REGISTER_CREATED)) {
            insert.setString(1, name.value());
            insert.setObject(2, stored.uuid());
            insert.setInt(3, stored.formatVersion());
            insert.setInt(4, stored.blockSize());
            insert.setLong(5, stored.quotaBytes());
            insert.executeUpdate();
        }
    }

    /**
     * Registers a namespace copied here from another server, from its meta row (its creation time
     * stays the original's), in the copying transaction on {@code connection}.
     */
    static void registerCopied(Connection connection, NamespaceName name, NamespaceSql sql) throws SQLException {
        ensureCatalog(connection);
        try (PreparedStatement insert = connection.prepareStatement(CatalogSql.registerCopied(sql))) {
            insert.setString(1, name.value());
            insert.executeUpdate();
        }
    }

    /** Keeps the catalog's copy of the format version, in the upgrade's transaction; nothing if there is no catalog. */
    static void recordFormat(Connection connection, NamespaceName name, int version) throws SQLException {
        if (!catalogExists(connection)) {
            return;
        }
        try (PreparedStatement update = connection.prepareStatement(CatalogSql.SET_FORMAT)) {
            update.setInt(1, version);
            update.setString(2, name.value());
            update.executeUpdate();
        }
    }

    // ------------------------------------------------------------------ inside

    private static boolean catalogExists(Connection connection) throws SQLException {
        return oneValue(connection, CatalogSql.TABLE_EXISTS, CatalogSql.TABLE, rows -> rows.getBoolean(1));
    }

    /**
     * Makes the catalog if it does not exist, inside the caller's transaction. A namespace named
     * like the catalog's schema, made by a version that had no catalog, is refused, not mixed with it.
     */
    private static void ensureCatalog(Connection connection) throws SQLException {
        if (catalogExists(connection)) {
            return;
        }
        try (Statement statement = connection.createStatement()) {
            statement.execute(CatalogSql.CREATION_LOCK);
            if (catalogExists(connection)) {
                return;
            }
            if (schemaKind(connection, NamespaceName.CATALOG) == 2) {
                throw new StoreException.NotANamespace("schema " + NamespaceName.CATALOG + " is a namespace made by an"
                        + " older sqlitesuperfs, and the catalog of namespaces needs that name: rename it first"
                        + " (ALTER SCHEMA " + NamespaceName.CATALOG + " RENAME TO another_name)");
            }
            statement.execute(CatalogSql.CREATE_SCHEMA);
            statement.execute(CatalogSql.CREATE_TABLE);
            statement.execute(CatalogSql.COMMENT_SCHEMA);
        }
        log.debug("Created the catalog of namespaces ({})", CatalogSql.TABLE);
    }

    /** Removes rows of vanished schemas and registers namespaces that have no row. */
    private void reconcile() throws SQLException {
        inTransaction(() -> {
            ensureCatalog(connection);
            return null;
        });
        try (Statement forget = connection.createStatement()) {
            int forgotten = forget.executeUpdate(CatalogSql.FORGET_VANISHED);
            if (forgotten > 0) {
                log.debug("Removed {} catalog row(s) of namespaces whose schema is gone", forgotten);
            }
        }
        List<String> found = new ArrayList<>();
        try (PreparedStatement unregistered = connection.prepareStatement(CatalogSql.UNREGISTERED)) {
            unregistered.setString(1, NamespaceName.CATALOG);
            try (ResultSet rows = unregistered.executeQuery()) {
                while (rows.next()) {
                    found.add(rows.getString(1));
                }
            }
        }
        for (String name : found) {
            registerFound(new NamespaceName(name));
        }
    }

    /** Registers a namespace that exists without a row, from its meta row; one that cannot be read is left out. */
    private void registerFound(NamespaceName name) throws SQLException {
        NamespaceSql sql = new NamespaceSql(name);
        try (PreparedStatement read = connection.prepareStatement(CatalogSql.readMetaSummary(sql));
                ResultSet rows = read.executeQuery()) {
            if (!rows.next()) {
                log.warn("Namespace {} has no metadata row; it is not listed", name);
                return;
            }
            try (PreparedStatement insert = connection.prepareStatement(CatalogSql.REGISTER_FOUND)) {
                insert.setString(1, name.value());
                insert.setObject(2, rows.getObject(2, UUID.class));
                insert.setInt(3, rows.getInt(1));
                insert.setInt(4, rows.getInt(3));
                insert.setLong(5, rows.getLong(4));
                insert.setObject(6, rows.getObject(5, OffsetDateTime.class));
                insert.executeUpdate();
            }
            log.debug("Registered namespace {}, made before the catalog, in the catalog", name);
        } catch (SQLException e) {
            if (SqlFailures.isTransient(e)) {
                throw e;
            }
            log.warn("Namespace {} cannot be registered in the catalog (SQLState {}); it is not listed", name,
                    e.getSQLState());
        }
    }

    /** The entry of an existing namespace, registering it first if it has no row. */
    private Entry registeredEntry(NamespaceName name) throws SQLException {
        Entry entry = registeredOrNull(name);
        if (entry == null) {
            inTransaction(() -> {
                ensureCatalog(connection);
                return null;
            });
            registerFound(name);
            entry = registeredOrNull(name);
        }
        if (entry == null) {
            throw new StoreException("namespace " + name + " cannot be registered in the catalog");
        }
        return entry;
    }

    private Entry registeredOrNull(NamespaceName name) throws SQLException {
        if (!catalogExists(connection)) {
            return null;
        }
        try (PreparedStatement one = connection.prepareStatement(CatalogSql.LIST_ONE)) {
            one.setString(1, name.value());
            try (ResultSet rows = one.executeQuery()) {
                return rows.next() ? entry(rows) : null;
            }
        }
    }

    private static Entry entry(ResultSet rows) throws SQLException {
        long blocks = rows.getLong(7);
        if (rows.wasNull()) {
            blocks = -1;
        }
        int pid = rows.getInt(8);
        Holder holder = rows.wasNull() ? null
                : new Holder(pid, rows.getString(9), rows.getString(10), rows.getObject(11, OffsetDateTime.class));
        return new Entry(rows.getString(1), rows.getObject(2, UUID.class), rows.getInt(3), rows.getInt(4),
                rows.getLong(5), rows.getObject(6, OffsetDateTime.class), blocks, holder, rows.getBoolean(12),
                rows.getInt(13));
    }

    /** True for a namespace, false when nothing has the name; a schema of that name that is not one is refused. */
    private boolean requireKind(NamespaceName name) throws SQLException {
        int kind = schemaKind(connection, name.value());
        if (kind == 1) {
            throw new StoreException.NotANamespace("schema " + name + " exists but is not a sqlitesuperfs namespace");
        }
        return kind == 2;
    }

    private static int schemaKind(Connection connection, String schema) throws SQLException {
        return oneValue(connection, CatalogSql.SCHEMA_KIND, schema, rows -> rows.getInt(1));
    }

    private long diskBytes(NamespaceName name) throws SQLException {
        return oneValue(connection, CatalogSql.DISK_BYTES, name.value(), rows -> rows.getLong(1));
    }

    @FunctionalInterface
    private interface Column<T> {
        T read(ResultSet rows) throws SQLException;
    }

    /** What {@code column} reads from the one row {@code query} returns for its one text parameter. */
    private static <T> T oneValue(Connection connection, String query, String parameter, Column<T> column)
            throws SQLException {
        try (PreparedStatement statement = connection.prepareStatement(query)) {
            statement.setString(1, parameter);
            try (ResultSet rows = statement.executeQuery()) {
                rows.next();
                return column.read(rows);
            }
        }
    }

    private long singleLong(String query) throws SQLException {
        try (PreparedStatement read = connection.prepareStatement(query); ResultSet rows = read.executeQuery()) {
            if (!rows.next()) {
                throw new StoreException("no row from " + query);
            }
            return rows.getLong(1);
        }
    }

    private Void unregister(NamespaceName name) throws SQLException {
        unregisterIn(connection, name);
        return null;
    }

    /** Removes {@code name}'s row, inside the caller's transaction on {@code connection}; nothing if there is no catalog. */
    static void unregisterIn(Connection connection, NamespaceName name) throws SQLException {
        if (catalogExists(connection)) {
            try (PreparedStatement delete = connection.prepareStatement(CatalogSql.UNREGISTER)) {
                delete.setString(1, name.value());
                delete.executeUpdate();
            }
        }
    }

    private static StoreException.NoSuchNamespace noSuch(NamespaceName name) {
        return new StoreException.NoSuchNamespace("namespace " + name + " does not exist");
    }

    /** Work on the database that may fail with an {@link SQLException}. */
    @FunctionalInterface
    interface Work<T> {
        T run() throws SQLException;
    }

    /** Runs {@code work}, turning a database failure into a {@link StoreException} that says what failed. */
    private <T> T work(String action, Work<T> work) {
        try {
            return work.run();
        } catch (SQLException e) {
            if (SqlFailures.isTransient(e)) {
                throw new StoreException.Unavailable(action + " failed: lost PostgreSQL", e);
            }
            throw SqlFailures.describeServerWork(action, e);
        }
    }

    /** Runs {@code work} in one transaction, rolled back on any failure. */
    private <T> T inTransaction(Work<T> work) throws SQLException {
        return inTransaction(connection, work);
    }

    /**
     * Runs {@code work} in one transaction on {@code connection} (in auto-commit mode, and left so),
     * rolled back on any failure. Also {@link NamespaceMove}'s, on its two connections.
     */
    static <T> T inTransaction(Connection connection, Work<T> work) throws SQLException {
        connection.setAutoCommit(false);
        try {
            T result = work.run();
            connection.commit();
            return result;
        } catch (Throwable e) {
            // Every failure, errors too: the finally's return to auto-commit would commit the rest.
            try {
                connection.rollback();
            } catch (SQLException rollback) {
                e.addSuppressed(rollback);
            }
            throw e;
        } finally {
            connection.setAutoCommit(true);
        }
    }

    /** Runs reads in one read-only snapshot, so that counts and rows agree with each other. */
    private <T> T inSnapshot(Work<T> work) throws SQLException {
        connection.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
        try {
            connection.setReadOnly(true);
            return inTransaction(work);
        } finally {
            connection.setReadOnly(false);
            connection.setTransactionIsolation(Connection.TRANSACTION_READ_COMMITTED);
        }
    }

    private static void closeQuietly(Connection connection) {
        if (connection == null) {
            return;
        }
        try {
            connection.close();
        } catch (SQLException e) {
            log.debug("closing the catalog's connection: {}", e.getMessage());
        }
    }
}
