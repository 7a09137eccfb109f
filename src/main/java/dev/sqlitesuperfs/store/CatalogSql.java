package dev.sqlitesuperfs.store;

/**
 * The SQL of the server's catalog of namespaces ({@link Catalog}). Like {@link NamespaceSql}: names
 * only as quoted identifiers, values only as bound parameters. Each statement reads or writes one
 * schema (the catalog's, one namespace's, or PostgreSQL's own views), and no key refers across
 * schemas, so that a setup that places each schema on a node of its own (Citus schema-based
 * sharding) can run them.
 */
final class CatalogSql {

    private CatalogSql() {}

    static final String SCHEMA = NamespaceSql.quoteIdentifier(NamespaceName.CATALOG);
    static final String TABLE = SCHEMA + "." + NamespaceSql.quoteIdentifier("namespaces");

    /**
     * The namespace lock's key as {@link NamespaceSql#TRY_LOCK} computes it, for the name in
     * {@code column}: kept in one place here so that the list's join matches the lock a mount takes.
     */
    private static String lockKeyOf(String column) {
        return "hashtextextended('sqlitesuperfs:' || " + column + ", 0)";
    }

    /**
     * Serializes the creation of the catalog (two processes creating it at once would collide on
     * the schema's name). The key's text cannot be a namespace lock's: those are
     * "sqlitesuperfs:" and a name, and no name contains '/'.
     */
    static final String CREATION_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('sqlitesuperfs/catalog', 0))";
    /**
     * The fleet-wide lock of a namespace name, taken on a fleet's first server by whoever creates a
     * namespace in the fleet. Its key's text cannot be a namespace lock's ("sqlitesuperfs:" and a
     * name) nor the catalog's.
     */
    static final String FLEET_NAME_LOCK = "SELECT pg_advisory_lock(hashtextextended('sqlitesuperfs/fleet:' || ?, 0))";
    static final String FLEET_NAME_UNLOCK =
            "SELECT pg_advisory_unlock(hashtextextended('sqlitesuperfs/fleet:' || ?, 0))";
    static final String TABLE_EXISTS = "SELECT to_regclass(?) IS NOT NULL";
    static final String CREATE_SCHEMA = "CREATE SCHEMA IF NOT EXISTS " + SCHEMA;
    static final String COMMENT_SCHEMA = "COMMENT ON SCHEMA " + SCHEMA
            + " IS 'sqlitesuperfs: the catalog of this database''s namespaces (one schema each)'";
    /**
     * One row per namespace. Every column but {@code registered_at} is a copy of the namespace's
     * meta row, which stays authoritative: kept here so that listing thousands of namespaces is one
     * query, and written in the same transaction as the meta row (a namespace made before the
     * catalog existed gets its row when it is found, with its meta row's values).
     */
    static final String CREATE_TABLE = "CREATE TABLE IF NOT EXISTS " + TABLE + " ("
            + " name text PRIMARY KEY,"
            + " namespace_uuid uuid NOT NULL,"
            + " format_version integer NOT NULL,"
            + " block_size integer NOT NULL,"
            + " quota_bytes bigint NOT NULL DEFAULT 0,"
            + " created_at timestamptz NOT NULL,"
            + " registered_at timestamptz NOT NULL DEFAULT now())";

    /**
     * A new namespace, in the transaction that creates it (so now() is its meta row's created_at);
     * replaces a row left by one of the same name dropped behind the catalog's back.
     */
    static final String REGISTER_CREATED = "INSERT INTO " + TABLE
            + " (name, namespace_uuid, format_version, block_size, quota_bytes, created_at) VALUES (?, ?, ?, ?, ?, now())"
            + " ON CONFLICT (name) DO UPDATE SET namespace_uuid = EXCLUDED.namespace_uuid,"
            + " format_version = EXCLUDED.format_version, block_size = EXCLUDED.block_size,"
            + " quota_bytes = EXCLUDED.quota_bytes, created_at = EXCLUDED.created_at, registered_at = now()";
    /** A namespace found without a row; someone else may register it at the same moment. */
    static final String REGISTER_FOUND = "INSERT INTO " + TABLE
            + " (name, namespace_uuid, format_version, block_size, quota_bytes, created_at) VALUES (?, ?, ?, ?, ?, ?)"
            + " ON CONFLICT (name) DO NOTHING";
    /** A namespace copied from another server: its row from its meta row, replacing one left behind. */
    static String registerCopied(NamespaceSql sql) {
        return "INSERT INTO " + TABLE + " (name, namespace_uuid, format_version, block_size, quota_bytes, created_at)"
                + " SELECT ?, namespace_uuid, format_version, block_size, quota_bytes, created_at FROM "
                + sql.table("meta") + " ON CONFLICT (name) DO UPDATE SET namespace_uuid = EXCLUDED.namespace_uuid,"
                + " format_version = EXCLUDED.format_version, block_size = EXCLUDED.block_size,"
                + " quota_bytes = EXCLUDED.quota_bytes, created_at = EXCLUDED.created_at, registered_at = now()";
    }

    static final String SET_FORMAT = "UPDATE " + TABLE + " SET format_version = ? WHERE name = ?";
    static final String SET_QUOTA = "UPDATE " + TABLE + " SET quota_bytes = ? WHERE name = ?";
    static final String UNREGISTER = "DELETE FROM " + TABLE + " WHERE name = ?";
    /** Rows whose schema is gone (dropped by hand, or by a program that does not know the catalog). */
    static final String FORGET_VANISHED = "DELETE FROM " + TABLE + " r"
            + " WHERE NOT EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspname = r.name)";

    /**
     * Schemas that are namespaces (a meta table with a namespace_uuid column) and have no row. The
     * name pattern is {@link NamespaceName}'s rule, so that nothing else is taken for one.
     */
    static final String UNREGISTERED = """
            SELECT n.nspname FROM pg_namespace n
              JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = 'meta' AND c.relkind = 'r'
             WHERE n.nspname ~ '^[a-z][a-z0-9_]{0,62}$' AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> ?
               AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'namespace_uuid'
                           AND NOT a.attisdropped)
               AND NOT EXISTS (SELECT 1 FROM CATALOG_TABLE r WHERE r.name = n.nspname)
             ORDER BY 1""".replace("CATALOG_TABLE", TABLE);

    /** What a schema of a given name is: 0 none, 1 a schema that is not a namespace, 2 a namespace. */
    static final String SCHEMA_KIND = """
            SELECT CASE WHEN n.oid IS NULL THEN 0
                        WHEN EXISTS (SELECT 1 FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
                                      WHERE c.relnamespace = n.oid AND c.relname = 'meta' AND c.relkind = 'r'
                                        AND a.attname = 'namespace_uuid' AND NOT a.attisdropped) THEN 2
                        ELSE 1 END
              FROM (SELECT 1) one LEFT JOIN pg_namespace n ON n.nspname = ?""";

    /**
     * The catalog with, for each namespace, its approximate block count and who holds its lock. The
     * block count is PostgreSQL's count of live rows in the namespace's blocks table
     * ({@code pg_stat_get_live_tuples}), kept up to date by every commit (within about a second)
     * and reset with the statistics: cheap and approximate. The lock holder is found by splitting
     * the lock's bigint key into pg_locks' classid (high half) and objid (low half), as
     * {@link NamespaceSql#LOCK_HOLDER} does, for every namespace at once. Whether a move marked the
     * copy ({@link Placement}) is whether its schema has a placement table, also found for all at
     * once (a hash join, not a lookup per namespace).
     */
    private static final String LIST_BASE = """
            WITH holders AS (
                SELECT l.classid::bigint AS high, l.objid::bigint AS low, l.pid
                  FROM pg_locks l
                 WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
                   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
            ), keyed AS (
                SELECT r.*, LOCK_KEY AS lock_key FROM CATALOG_TABLE r
            ), live_blocks AS (
                SELECT n.nspname, pg_stat_get_live_tuples(c.oid) AS blocks
                  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE c.relname = 'blocks' AND c.relkind = 'r'
            ), followers AS (
                -- PREFIX:NAME:follow; a namespace's name has no colon
                SELECT substring(a.application_name FROM ':([^:]+):follow$') AS name, count(*) AS n
                  FROM pg_stat_activity a
                 WHERE a.application_name LIKE '%:follow'
                   AND a.datname = current_database()
                 GROUP BY 1
            ), placed AS (
                SELECT n.nspname
                  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE c.relname = 'placement' AND c.relkind = 'r'
            )
            SELECT k.name, k.namespace_uuid, k.format_version, k.block_size, k.quota_bytes, k.created_at,
                   b.blocks, h.pid, a.application_name, host(a.client_addr), a.backend_start,
                   p.nspname IS NOT NULL AS moving, coalesce(f.n, 0) AS followers
              FROM keyed k
              LEFT JOIN live_blocks b ON b.nspname = k.name
              LEFT JOIN placed p ON p.nspname = k.name
              LEFT JOIN followers f ON f.name = k.name
              LEFT JOIN holders h ON h.high = ((k.lock_key >> 32) & 4294967295) AND h.low = (k.lock_key & 4294967295)
              LEFT JOIN pg_stat_activity a ON a.pid = h.pid
            """.replace("LOCK_KEY", lockKeyOf("r.name")).replace("CATALOG_TABLE", TABLE);
    static final String LIST = LIST_BASE + " ORDER BY k.name";
    static final String LIST_ONE = LIST_BASE + " WHERE k.name = ?";

    /** The namespace's schema and every table in it, with their TOAST data and indexes, in bytes on disk. */
    static final String DISK_BYTES = "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
            + " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ? AND c.relkind IN ('r', 'S', 'm')";

    /** Exact counts of one namespace's rows (in one snapshot, see {@link Catalog#usage}). */
    static String countInodes(NamespaceSql sql) {
        return "SELECT count(*) FROM " + sql.table("inodes");
    }

    /** Block rows and the bytes they hold, sealed (octet_length reads a TOAST pointer's size, not the data). */
    static String countBlocks(NamespaceSql sql) {
        return "SELECT count(*), coalesce(sum(octet_length(data)), 0) FROM " + sql.table("blocks");
    }

    static String readMetaSummary(NamespaceSql sql) {
        return "SELECT format_version, namespace_uuid, block_size, quota_bytes, created_at FROM " + sql.table("meta");
    }

    static String setMetaQuota(NamespaceSql sql) {
        return "UPDATE " + sql.table("meta") + " SET quota_bytes = ?";
    }

    static String readMountEpoch(NamespaceSql sql) {
        return "SELECT mount_epoch FROM " + sql.table("meta");
    }

    static String readLastCommit(NamespaceSql sql) {
        return "SELECT coalesce(last_commit, 0) FROM " + sql.table("meta");
    }

    static String dropSchema(NamespaceSql sql) {
        return "DROP SCHEMA " + sql.schema + " CASCADE";
    }
}
