package dev.sqlitesuperfs.store;

import dev.sqlitesuperfs.sys.FileType;

import java.util.List;

/**
 * Every SQL statement the store sends for one namespace, built once when the store opens. The
 * namespace appears only as a quoted identifier; every value is a bound parameter.
 */
final class NamespaceSql {

    /** S_IFMT, S_IFDIR and S_IFLNK of {@code mode}, for queries by file type. */
    private static final String FILE_TYPE_MASK = String.valueOf(FileType.MASK);
    private static final String DIRECTORY_TYPE = String.valueOf(FileType.DIRECTORY);
    private static final String SYMLINK_TYPE = String.valueOf(FileType.SYMLINK);

    static final String SCHEMA_EXISTS = "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = ?)";
    static final String RELATION_EXISTS = "SELECT to_regclass(?) IS NOT NULL";

    /** The session-level advisory lock that makes a process the namespace's one owner. */
    static final String TRY_LOCK = "SELECT pg_try_advisory_lock(hashtextextended('sqlitesuperfs:' || ?, 0))";
    static final String UNLOCK = "SELECT pg_advisory_unlock(hashtextextended('sqlitesuperfs:' || ?, 0))";
    /** Who holds the namespace lock: a bigint advisory key is split into classid (high) and objid (low). */
    static final String LOCK_HOLDER = """
            WITH k AS (SELECT hashtextextended('sqlitesuperfs:' || ?, 0) AS key)
            SELECT l.pid, a.backend_start
              FROM pg_locks l CROSS JOIN k
              LEFT JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND l.classid::bigint = ((k.key >> 32) & 4294967295)
               AND l.objid::bigint = (k.key & 4294967295)""";
    static final String BACKEND_IDENTITY =
            "SELECT pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()";
    static final String TERMINATE_BACKEND = "SELECT pg_terminate_backend(?)";
    /** The server's version as one number, 150004 for 15.4. */
    static final String SERVER_VERSION = "SELECT current_setting('server_version_num')::integer";
    /** Whether a table (by qualified name) has a column: tells format 1's meta table from later ones. */
    static final String COLUMN_EXISTS =
            "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass(?) AND attname = ? AND NOT attisdropped)";

    private static final String INODE_COLUMNS =
            "ino, mode, uid, gid, nlink, size, nblocks, rdev, atime_ns, mtime_ns, ctime_ns";

    final String schema;

    final String readFormatVersion;
    final String readMeta;
    final String insertMeta;
    final String setFormatVersion;
    final String bumpMountEpoch;
    final String readWriterState;
    final String readCommitState;
    /** A follower's poll: the newest commit, and whether a move has left a placement table. */
    final String readNewestCommit;

    final String applyChanges;
    /**
     * {@link #applyChanges} without the parts for names, removed inodes, attributes and symlink
     * targets: what an fsync needs. Opening and closing the tables of the parts it has no use
     * for was most of the full statement's cost.
     */
    final String applyData;
    /**
     * {@link #applyData} for the commit of a file's writes alone (a SQLite WAL commit: its frame's
     * blocks and the file's row): no truncation, nothing copied, no inode whose count changes
     * without its row. Without those parts PostgreSQL sets up and runs about half the plan; see
     * {@link #applyWritesStatement}.
     */
    final String applyWrites;
    /** {@link #applyWrites} with the digests of the groups of blocks the writes change (files past one group). */
    final String applyGroupWrites;
    final String copyBlocks;
    final String insertRoot;
    final String nblocksOf;
    final String tagIndex;
    final String blockTagRange;
    final String allInodes;
    final String allBlockTags;
    final String allEntries;
    final String allXattrs;
    final String setAuth;
    final String setMac;
    final String insertGroup;
    final String setCommitSeal;

    final String inode;
    final String inodes;
    final String entries;
    final String parentEntries;
    final String symlinkTarget;
    final String xattrs;
    final String blocks;
    final String nextStoredBlock;
    final String nextMissingBlock;
    final String orphans;
    final String inodeNumbers;
    final String inodeAuthenticators;
    final String usage;
    final String allocateInodes;
    final String inodeSequence;

    final List<Check> checks;

    /** Since format 2: the key check and the metadata checksum (see {@link MetaChecksum}). */
    final String readKeyChecks;
    /** Replaces the key material if the wrapped key is still the one the caller read. */
    final String replaceKeyMaterial;
    final String setMetaChecksum;

    /** One consistency check: a query whose rows are problems, and how to describe one row. */
    record Check(String query, String format) {}

    NamespaceSql(NamespaceName namespace) {
        schema = namespace.quoted();
        String meta = table("meta");
        String inodesTable = table("inodes");
        String dirents = table("dirents");
        String blocksTable = table("blocks");
        String xattrsTable = table("xattrs");
        String symlinks = table("symlinks");
        inodeSequence = table("ino_seq");

        readFormatVersion = "SELECT format_version FROM " + meta;
        // seal_names through the row's JSON form: false before format 6, which added the column.
        readMeta = "SELECT format_version, namespace_uuid, block_size, kdf_algorithm, kdf_opslimit, kdf_memlimit,"
                + " kdf_salt, wrapped_key, quota_bytes, coalesce((to_jsonb(m) ->> 'seal_names')::boolean, false)"
                + " FROM " + meta + " m";
        insertMeta = "INSERT INTO " + meta + " (format_version, namespace_uuid, block_size, kdf_algorithm,"
                + " kdf_opslimit, kdf_memlimit, kdf_salt, wrapped_key, quota_bytes, seal_names)"
                + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
        setFormatVersion = "UPDATE " + meta + " SET format_version = ?";
        bumpMountEpoch = "UPDATE " + meta + " SET mount_epoch = mount_epoch + 1 RETURNING mount_epoch, coalesce(last_commit, 0)";
        readWriterState = "SELECT mount_epoch, last_commit FROM " + meta;
        readCommitState = "SELECT coalesce(last_commit, 0), commit_seal FROM " + meta;
        readNewestCommit = "SELECT coalesce(last_commit, 0), to_regclass(?) IS NOT NULL FROM " + meta;

        String groups = table("block_groups");
        applyChanges = applyChangesStatement(meta, inodesTable, dirents, blocksTable, xattrsTable, symlinks, groups, true);
        applyData = applyChangesStatement(meta, inodesTable, dirents, blocksTable, xattrsTable, symlinks, groups, false);
        applyWrites = applyWritesStatement(meta, inodesTable, blocksTable, null);
        applyGroupWrites = applyWritesStatement(meta, inodesTable, blocksTable, groups);
        copyBlocks = "COPY " + blocksTable + " (ino, idx, data) FROM STDIN (FORMAT binary)";
        insertRoot = "INSERT INTO " + inodesTable + " (" + INODE_COLUMNS + ", auth) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?)";
        nblocksOf = "SELECT ino, nblocks FROM " + inodesTable + " WHERE ino = ANY (?)";

        inode = "SELECT " + INODE_COLUMNS + ", auth FROM " + inodesTable + " WHERE ino = ?";
        inodes = "SELECT " + INODE_COLUMNS + ", auth FROM " + inodesTable + " WHERE ino = ANY (?)";
        // One round trip for what a file's first read needs: its first group's tags and every
        // later group's digest (kind 0 and 1).
        tagIndex = "SELECT 0, idx, tag FROM " + blocksTable + " WHERE ino = ? AND idx < ?"
                + " UNION ALL SELECT 1, grp, digest FROM " + groups + " WHERE ino = ?";
        blockTagRange = "SELECT idx, tag FROM " + blocksTable + " WHERE ino = ? AND idx >= ? AND idx < ? ORDER BY idx";
        allInodes = "SELECT " + INODE_COLUMNS + ", auth FROM " + inodesTable;
        allBlockTags = "SELECT ino, idx, tag FROM " + blocksTable;
        allEntries = "SELECT parent, name, ino, mac FROM " + dirents;
        allXattrs = "SELECT ino, name, value FROM " + xattrsTable;
        setAuth = "UPDATE " + inodesTable + " SET auth = ? WHERE ino = ?";
        insertGroup = "INSERT INTO " + groups + " (ino, grp, digest) VALUES (?, ?, ?)";
        setCommitSeal = "UPDATE " + meta + " SET commit_seal = ?";
        setMac = "UPDATE " + dirents + " SET mac = ? WHERE parent = ? AND name = ?";
        entries = "SELECT d.name, d.ino, i.mode, d.mac FROM " + dirents + " d JOIN " + inodesTable + " i ON i.ino = d.ino"
                + " WHERE d.parent = ? ORDER BY d.name";
        // Two rows at most: a directory has one entry, so a second one is damage, not a choice.
        parentEntries = "SELECT parent, name, mac FROM " + dirents + " WHERE ino = ? LIMIT 2";
        symlinkTarget = "SELECT target FROM " + symlinks + " WHERE ino = ?";
        xattrs = "SELECT name, value FROM " + xattrsTable + " WHERE ino = ? ORDER BY name";
        blocks = "SELECT idx, data FROM " + blocksTable + " WHERE ino = ? AND idx >= ? AND idx < ? ORDER BY idx";
        nextStoredBlock = "SELECT min(idx) FROM " + blocksTable + " WHERE ino = ? AND idx >= ?";
        // If fromIdx is stored, the answer follows the last block of the run of consecutive indexes
        // starting there. Written as an anti-join under LIMIT so the planner walks the primary key in
        // order and stops at the first gap, instead of reading every later block.
        nextMissingBlock = "SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM " + blocksTable + " WHERE ino = ? AND idx = ?)"
                + " THEN ? ELSE (SELECT b.idx + 1 FROM " + blocksTable + " b WHERE b.ino = ? AND b.idx >= ?"
                + " AND NOT EXISTS (SELECT 1 FROM " + blocksTable + " c WHERE c.ino = ? AND c.idx = b.idx + 1)"
                + " ORDER BY b.idx LIMIT 1) END";
        orphans = "SELECT ino FROM " + inodesTable + " WHERE nlink = 0 ORDER BY ino";
        inodeNumbers = "SELECT ino FROM " + inodesTable + " ORDER BY ino";
        inodeAuthenticators = "SELECT ino, auth FROM " + inodesTable;
        usage = "SELECT count(*), coalesce(sum(nblocks), 0) FROM " + inodesTable;
        allocateInodes = "SELECT nextval(?::regclass)";

        String isDir = "(%s.mode & " + FILE_TYPE_MASK + ") = " + DIRECTORY_TYPE;
        checks = List.of(
                new Check("SELECT i.ino, i.nlink, count(d.ino) FROM " + inodesTable + " i LEFT JOIN " + dirents
                        + " d ON d.ino = i.ino WHERE NOT " + isDir.formatted("i") + " GROUP BY i.ino"
                        + " HAVING i.nlink <> count(d.ino) ORDER BY i.ino",
                        "inode %s has nlink %s but %s entries name it"),
                new Check("SELECT i.ino, i.nlink, 2 + count(c.ino) FROM " + inodesTable + " i LEFT JOIN (" + dirents
                        + " d JOIN " + inodesTable + " c ON c.ino = d.ino AND " + isDir.formatted("c") + ") ON d.parent = i.ino"
                        + " WHERE " + isDir.formatted("i") + " AND i.nlink > 0 GROUP BY i.ino"
                        + " HAVING i.nlink <> 2 + count(c.ino) ORDER BY i.ino",
                        "directory %s has nlink %s but should have %s (2 + its subdirectories)"),
                new Check("SELECT d.parent, encode(d.name, 'escape'), d.ino FROM " + dirents + " d LEFT JOIN "
                        + inodesTable + " i ON i.ino = d.ino WHERE i.ino IS NULL ORDER BY d.parent, d.name",
                        "entry in directory %s named '%s' points to inode %s, which does not exist"),
                new Check("SELECT d.parent, encode(d.name, 'escape') FROM " + dirents + " d LEFT JOIN " + inodesTable
                        + " p ON p.ino = d.parent WHERE p.ino IS NULL OR NOT " + isDir.formatted("p")
                        + " ORDER BY d.parent, d.name",
                        "entry '%2$s' is in %1$s, which is not an existing directory"),
                new Check("SELECT i.ino, count(d.ino) FROM " + inodesTable + " i LEFT JOIN " + dirents
                        + " d ON d.ino = i.ino WHERE " + isDir.formatted("i") + " GROUP BY i.ino"
                        + " HAVING count(d.ino) <> CASE WHEN i.ino = 1 OR i.nlink = 0 THEN 0 ELSE 1 END ORDER BY i.ino",
                        "directory %s is named by %s entries"),
                new Check("SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM " + inodesTable + " i WHERE i.ino = 1 AND "
                        + isDir.formatted("i") + ")",
                        "the root directory (inode 1) is missing or not a directory"),
                new Check("SELECT b.ino, count(*), min(b.idx) FROM " + blocksTable + " b CROSS JOIN " + meta + " m"
                        + " JOIN " + inodesTable + " i ON i.ino = b.ino"
                        + " WHERE b.idx >= (i.size + m.block_size - 1) / m.block_size GROUP BY b.ino ORDER BY b.ino",
                        "inode %s has %s blocks past its size, the first at index %s"),
                new Check("SELECT b.ino, count(*) FROM " + blocksTable + " b LEFT JOIN " + inodesTable
                        + " i ON i.ino = b.ino WHERE i.ino IS NULL GROUP BY b.ino ORDER BY b.ino",
                        "inode %s does not exist but has %s blocks"),
                new Check("SELECT g.ino, count(*) FROM " + groups + " g LEFT JOIN " + inodesTable
                        + " i ON i.ino = g.ino WHERE i.ino IS NULL GROUP BY g.ino ORDER BY g.ino",
                        "inode %s does not exist but has %s block group digests"),
                new Check("SELECT i.ino, i.nblocks, coalesce(c.n, 0) FROM " + inodesTable + " i LEFT JOIN"
                        + " (SELECT ino, count(*) AS n FROM " + blocksTable + " GROUP BY ino) c ON c.ino = i.ino"
                        + " WHERE i.nblocks <> coalesce(c.n, 0) ORDER BY i.ino",
                        "inode %s has nblocks %s but %s stored blocks"),
                new Check("WITH RECURSIVE reachable(ino) AS (SELECT 1::bigint UNION SELECT d.ino FROM " + dirents
                        + " d JOIN reachable r ON d.parent = r.ino) SELECT i.ino FROM " + inodesTable + " i"
                        + " WHERE i.nlink > 0 AND NOT EXISTS (SELECT 1 FROM reachable r WHERE r.ino = i.ino) ORDER BY i.ino",
                        "inode %s is linked but not reachable from the root"),
                new Check("SELECT i.ino FROM " + inodesTable + " i WHERE (i.mode & " + FILE_TYPE_MASK + ") = "
                        + SYMLINK_TYPE + " AND NOT EXISTS (SELECT 1 FROM " + symlinks + " s WHERE s.ino = i.ino)"
                        + " ORDER BY i.ino",
                        "symlink %s has no target"),
                new Check("SELECT s.ino FROM " + symlinks + " s JOIN " + inodesTable + " i ON i.ino = s.ino"
                        + " WHERE (i.mode & " + FILE_TYPE_MASK + ") <> " + SYMLINK_TYPE + " ORDER BY s.ino",
                        "inode %s has a symlink target but is not a symlink"));

        readKeyChecks = "SELECT key_check, meta_checksum FROM " + meta;
        replaceKeyMaterial = "UPDATE " + meta + " SET kdf_algorithm = ?, kdf_opslimit = ?, kdf_memlimit = ?,"
                + " kdf_salt = ?, wrapped_key = ?, key_check = ?, meta_checksum = ? WHERE wrapped_key = ?";
        setMetaChecksum = "UPDATE " + meta + " SET meta_checksum = ?";
    }

    /**
     * One statement that applies a group's net changes (see {@link NetChanges}) and, sent in
     * auto-commit mode, commits them: one round trip per transaction. Every part first needs the
     * claim of the metadata row for this mount's epoch; a fenced mount changes nothing and reads 0
     * in the first column. The parts run in no defined order, which is why no row may appear in
     * two of them, and why foreign keys (checked at the end of the statement) only need the final
     * state to be consistent.
     *
     * <p>Written to be planned once (the writer runs it with a generic plan, see
     * {@link WriterSession}) and never to scan a table: every parameter is an array bound once in
     * {@code args}; rows of the big tables are only ever found through their primary key, by
     * {@code = ANY} of an array or by a lookup per row, whatever the planner guesses of the
     * arrays' lengths (a join it may turn into a hash join over a whole table once cost about
     * 400 ms per removed inode on a namespace of a million blocks).
     *
     * <p>Block counts: {@code existed} reads, in the statement's snapshot, which written blocks
     * were already stored; each inode's count moves by the blocks written, minus those that
     * existed, minus those cut, plus those stored by COPY before the statement. The result rows
     * give the new count of every inode whose row or count changed.
     *
     * <p>Parameters, in order: commit number, epoch; deleted inodes*; block writes (ino, idx,
     * data); truncations (ino, from); blocks copied (ino, count); removed entries (parent, name)*;
     * put entries (parent, name, ino, mac)*; inode rows (ino, mode, uid, gid, nlink, size, rdev,
     * atime, mtime, ctime, auth); inodes whose count changes without their row; put xattrs (ino,
     * name, value)*; removed xattrs (ino, name)*; symlinks (ino, target)*; put group digests (ino,
     * group, digest); removed groups (ino, group). Those marked * only with {@code namespaceChanges}
     * ({@link #applyData} is the statement without them).
     */
    private static String applyChangesStatement(String meta, String inodes, String dirents, String blocks,
                                                String xattrs, String symlinks, String groups,
                                                boolean namespaceChanges) {
        String claimed = " EXISTS (SELECT FROM claim)";
        StringBuilder sql = new StringBuilder();
        sql.append("WITH args AS MATERIALIZED (SELECT ?::bigint AS seq, ?::bigint AS epoch, ?::bytea AS seal,")
                .append(namespaceChanges ? " ?::bigint[] AS dead," : "")
                .append("   ?::bigint[] AS p_ino, ?::bigint[] AS p_idx, ?::bytea[] AS p_data,")
                .append("   ?::bigint[] AS t_ino, ?::bigint[] AS t_from, ?::bigint[] AS c_ino, ?::bigint[] AS c_n,")
                .append(namespaceChanges ? "   ?::bigint[] AS ge_parent, ?::bytea[] AS ge_name, ?::bigint[] AS pe_parent,"
                        + " ?::bytea[] AS pe_name, ?::bigint[] AS pe_ino, ?::bytea[] AS pe_mac," : "")
                .append("   ?::bigint[] AS i_ino, ?::int[] AS i_mode, ?::bigint[] AS i_uid, ?::bigint[] AS i_gid,")
                .append("   ?::int[] AS i_nlink, ?::bigint[] AS i_size, ?::bigint[] AS i_rdev, ?::bigint[] AS i_atime,")
                .append("   ?::bigint[] AS i_mtime, ?::bigint[] AS i_ctime, ?::bytea[] AS i_auth, ?::bigint[] AS bump_ino")
                .append(namespaceChanges ? ", ?::bigint[] AS x_ino, ?::bytea[] AS x_name, ?::bytea[] AS x_value,"
                        + " ?::bigint[] AS gx_ino, ?::bytea[] AS gx_name, ?::bigint[] AS s_ino, ?::bytea[] AS s_target" : "")
                .append(", ?::bigint[] AS gp_ino, ?::bigint[] AS gp_grp, ?::bytea[] AS gp_digest,")
                .append("   ?::bigint[] AS gd_ino, ?::bigint[] AS gd_grp),");
        sql.append(" claim AS (UPDATE ").append(meta).append(" SET last_commit = (SELECT seq FROM args),")
                .append("   commit_seal = (SELECT seal FROM args)")
                .append("   WHERE mount_epoch = (SELECT epoch FROM args) RETURNING 1),")
                .append(" put AS MATERIALIZED (SELECT p.* FROM args, unnest(args.p_ino, args.p_idx, args.p_data)")
                .append("   AS p(ino, idx, data)),")
                // Each truncation is one range of the primary key (ino, idx >= from). The lateral
                // subquery (OFFSET 0 keeps it from being flattened into a join) can only run as one
                // index range scan per truncation, whatever the planner guesses of the arrays'
                // lengths; the rows found are then deleted by their tuple id. The written keys are
                // excluded by NOT IN, a hashed subplan. A join here was once planned as a hash join
                // over the whole primary key index (VACUUM of a WAL database: 1.5 s instead of
                // 0.1 s), and a NOT EXISTS as a scan of the written keys per row (21 s).
                .append(" cut AS (DELETE FROM ").append(blocks).append(" b WHERE b.ctid = ANY (ARRAY(SELECT x.ctid")
                .append("   FROM args, unnest(args.t_ino, args.t_from) AS t(ino, from_idx), LATERAL (SELECT c.ctid,")
                .append("     c.ino, c.idx FROM ").append(blocks).append(" c WHERE c.ino = t.ino AND c.idx >= t.from_idx OFFSET 0) x")
                .append("   WHERE (x.ino, x.idx) NOT IN (SELECT p.ino, p.idx FROM put p))) AND").append(claimed)
                .append("   RETURNING b.ino),")
                .append(" existed AS (SELECT p.ino FROM put p")
                .append("   WHERE (SELECT true FROM ").append(blocks).append(" b WHERE b.ino = p.ino AND b.idx = p.idx)),")
                .append(" written AS (INSERT INTO ").append(blocks).append(" (ino, idx, data) SELECT ino, idx, data FROM put")
                .append("   WHERE").append(claimed).append(" ON CONFLICT (ino, idx) DO UPDATE SET data = EXCLUDED.data RETURNING ino),")
                .append(" delta AS (SELECT ino, sum(n)::bigint AS n FROM (SELECT ino, 1::bigint AS n FROM written")
                .append("   UNION ALL SELECT ino, -1 FROM existed UNION ALL SELECT ino, -1 FROM cut")
                .append("   UNION ALL SELECT c.ino, c.n FROM args, unnest(args.c_ino, args.c_n) AS c(ino, n)) c GROUP BY ino),");
        if (namespaceChanges) {
            sql.append(" gone_blocks AS (DELETE FROM ").append(blocks)
                    .append(" WHERE ino = ANY ((SELECT dead FROM args)::bigint[]) AND").append(claimed).append("),")
                    .append(" dead_groups AS (DELETE FROM ").append(groups)
                    .append(" WHERE ino = ANY ((SELECT dead FROM args)::bigint[]) AND").append(claimed).append("),")
                    .append(deletePairs("gone_entries", dirents, "parent", "ge_parent", "name", "ge_name", "bytea", claimed))
                    .append(" new_entries AS (INSERT INTO ").append(dirents).append(" (parent, name, ino, mac)")
                    .append("   SELECT e.* FROM args, unnest(args.pe_parent, args.pe_name, args.pe_ino, args.pe_mac) AS e")
                    .append("   WHERE").append(claimed)
                    .append("   ON CONFLICT (parent, name) DO UPDATE SET ino = EXCLUDED.ino, mac = EXCLUDED.mac),");
        }
        sql.append(putGroups(groups, claimed))
                .append(deletePairs("gone_groups", groups, "ino", "gd_ino", "grp", "gd_grp", "bigint", claimed));
        sql.append(" attrs AS MATERIALIZED (SELECT r.* FROM args, unnest(args.i_ino, args.i_mode, args.i_uid, args.i_gid,")
                .append("   args.i_nlink, args.i_size, args.i_rdev, args.i_atime, args.i_mtime, args.i_ctime, args.i_auth)")
                .append("   AS r(ino, mode, uid, gid, nlink, size, rdev, atime_ns, mtime_ns, ctime_ns, auth)),")
                .append(" put_inodes AS (INSERT INTO ").append(inodes).append(" (").append(INODE_COLUMNS).append(", auth)")
                .append("   SELECT r.ino, r.mode, r.uid, r.gid, r.nlink, r.size,")
                .append("   coalesce((SELECT d.n FROM delta d WHERE d.ino = r.ino), 0), r.rdev, r.atime_ns, r.mtime_ns,")
                .append("   r.ctime_ns, r.auth FROM attrs r WHERE").append(claimed)
                .append("   ON CONFLICT (ino) DO UPDATE SET mode = EXCLUDED.mode, uid = EXCLUDED.uid, gid = EXCLUDED.gid,")
                .append("   nlink = EXCLUDED.nlink, size = EXCLUDED.size, nblocks = ").append(inodes)
                .append(".nblocks + EXCLUDED.nblocks,")
                .append("   rdev = EXCLUDED.rdev, atime_ns = EXCLUDED.atime_ns, mtime_ns = EXCLUDED.mtime_ns,")
                .append("   ctime_ns = EXCLUDED.ctime_ns, auth = EXCLUDED.auth RETURNING ino, nblocks),")
                .append(" bumped AS (UPDATE ").append(inodes)
                .append(" i SET nblocks = i.nblocks + (SELECT d.n FROM delta d WHERE d.ino = i.ino)")
                .append("   WHERE i.ino = ANY ((SELECT bump_ino FROM args)::bigint[])")
                .append("   AND (SELECT d.n FROM delta d WHERE d.ino = i.ino) <> 0 AND").append(claimed)
                .append(" RETURNING i.ino, i.nblocks)");
        if (namespaceChanges) {
            sql.append(", gone_inodes AS (DELETE FROM ").append(inodes)
                    .append(" WHERE ino = ANY ((SELECT dead FROM args)::bigint[]) AND").append(claimed).append("),")
                    .append(" new_xattrs AS (INSERT INTO ").append(xattrs).append(" (ino, name, value)")
                    .append("   SELECT x.* FROM args, unnest(args.x_ino, args.x_name, args.x_value) AS x WHERE").append(claimed)
                    .append("   ON CONFLICT (ino, name) DO UPDATE SET value = EXCLUDED.value),")
                    .append(deletePairs("gone_xattrs", xattrs, "ino", "gx_ino", "name", "gx_name", "bytea", claimed))
                    .append(" new_symlinks AS (INSERT INTO ").append(symlinks).append(" (ino, target)")
                    .append("   SELECT y.* FROM args, unnest(args.s_ino, args.s_target) AS y WHERE").append(claimed)
                    .append("   ON CONFLICT (ino) DO UPDATE SET target = EXCLUDED.target)");
        }
        sql.append(" SELECT c.n, r.ino, r.nblocks FROM (SELECT count(*) AS n FROM claim) c LEFT JOIN")
                .append(" (SELECT ino, nblocks FROM put_inodes UNION ALL SELECT ino, nblocks FROM bumped) r ON true");
        return sql.toString();
    }

    /**
     * The writes-only form of {@link #applyChangesStatement}: the same claim, block upsert, count
     * and row upsert, and the same result rows, without the truncation, copy and count-only parts.
     * Parameters: commit number, epoch; block writes (ino, idx, data); inode rows (ino, mode, uid,
     * gid, nlink, size, rdev, atime, mtime, ctime, auth); with {@code groups}, put group digests
     * (ino, group, digest), none removed. Every inode written must have its row in the inode rows'
     * arrays (its count is moved there).
     */
    private static String applyWritesStatement(String meta, String inodes, String blocks, String groups) {
        String claimed = " EXISTS (SELECT FROM claim)";
        return "WITH args AS MATERIALIZED (SELECT ?::bigint AS seq, ?::bigint AS epoch, ?::bytea AS seal,"
                + "   ?::bigint[] AS p_ino, ?::bigint[] AS p_idx, ?::bytea[] AS p_data,"
                + "   ?::bigint[] AS i_ino, ?::int[] AS i_mode, ?::bigint[] AS i_uid, ?::bigint[] AS i_gid,"
                + "   ?::int[] AS i_nlink, ?::bigint[] AS i_size, ?::bigint[] AS i_rdev, ?::bigint[] AS i_atime,"
                + "   ?::bigint[] AS i_mtime, ?::bigint[] AS i_ctime, ?::bytea[] AS i_auth"
                + (groups == null ? "" : ", ?::bigint[] AS gp_ino, ?::bigint[] AS gp_grp, ?::bytea[] AS gp_digest") + "),"
                + " claim AS (UPDATE " + meta + " SET last_commit = (SELECT seq FROM args),"
                + "   commit_seal = (SELECT seal FROM args)"
                + "   WHERE mount_epoch = (SELECT epoch FROM args) RETURNING 1),"
                + " put AS MATERIALIZED (SELECT p.* FROM args, unnest(args.p_ino, args.p_idx, args.p_data)"
                + "   AS p(ino, idx, data)),"
                + " existed AS (SELECT p.ino FROM put p"
                + "   WHERE (SELECT true FROM " + blocks + " b WHERE b.ino = p.ino AND b.idx = p.idx)),"
                + " written AS (INSERT INTO " + blocks + " (ino, idx, data) SELECT ino, idx, data FROM put"
                + "   WHERE" + claimed + " ON CONFLICT (ino, idx) DO UPDATE SET data = EXCLUDED.data RETURNING ino),"
                + " delta AS (SELECT ino, sum(n)::bigint AS n FROM (SELECT ino, 1::bigint AS n FROM written"
                + "   UNION ALL SELECT ino, -1 FROM existed) c GROUP BY ino),"
                + (groups == null ? "" : putGroups(groups, claimed))
                + " attrs AS MATERIALIZED (SELECT r.* FROM args, unnest(args.i_ino, args.i_mode, args.i_uid, args.i_gid,"
                + "   args.i_nlink, args.i_size, args.i_rdev, args.i_atime, args.i_mtime, args.i_ctime, args.i_auth)"
                + "   AS r(ino, mode, uid, gid, nlink, size, rdev, atime_ns, mtime_ns, ctime_ns, auth)),"
                + " put_inodes AS (INSERT INTO " + inodes + " (" + INODE_COLUMNS + ", auth)"
                + "   SELECT r.ino, r.mode, r.uid, r.gid, r.nlink, r.size,"
                + "   coalesce((SELECT d.n FROM delta d WHERE d.ino = r.ino), 0), r.rdev, r.atime_ns, r.mtime_ns,"
                + "   r.ctime_ns, r.auth FROM attrs r WHERE" + claimed
                + "   ON CONFLICT (ino) DO UPDATE SET mode = EXCLUDED.mode, uid = EXCLUDED.uid, gid = EXCLUDED.gid,"
                + "   nlink = EXCLUDED.nlink, size = EXCLUDED.size, nblocks = " + inodes + ".nblocks + EXCLUDED.nblocks,"
                + "   rdev = EXCLUDED.rdev, atime_ns = EXCLUDED.atime_ns, mtime_ns = EXCLUDED.mtime_ns,"
                + "   ctime_ns = EXCLUDED.ctime_ns, auth = EXCLUDED.auth RETURNING ino, nblocks)"
                + " SELECT c.n, r.ino, r.nblocks FROM (SELECT count(*) AS n FROM claim) c LEFT JOIN put_inodes r ON true";
    }

    /** The part of a writer's statement that upserts the group digests of {@code args} (gp_*). */
    private static String putGroups(String groups, String claimed) {
        return " new_groups AS (INSERT INTO " + groups + " (ino, grp, digest) SELECT g.* FROM args,"
                + "   unnest(args.gp_ino, args.gp_grp, args.gp_digest) AS g WHERE" + claimed
                + "   ON CONFLICT (ino, grp) DO UPDATE SET digest = EXCLUDED.digest),";
    }

    /**
     * A part of the writer's statement that deletes the rows of {@code table} whose key
     * ({@code id} bigint, {@code name} of SQL type {@code nameType}) is one of the pairs in the
     * arrays {@code ids} and {@code names} of {@code args}: found by primary key through
     * {@code = ANY} of each array, then matched pair by pair.
     */
    private static String deletePairs(String cte, String table, String id, String ids, String name, String names,
                                      String nameType, String claimed) {
        return " " + cte + " AS (DELETE FROM " + table + " t WHERE t." + id + " = ANY ((SELECT " + ids
                + " FROM args)::bigint[]) AND t." + name + " = ANY ((SELECT " + names + " FROM args)::" + nameType + "[])"
                + " AND EXISTS (SELECT FROM args, unnest(args." + ids + ", args." + names + ") AS g(id, name)"
                + " WHERE g.id = t." + id + " AND g.name = t." + name + ") AND" + claimed + "),";
    }

    /** Format 1: the whole schema. */
    List<String> createFormat1() {
        return List.of(
                "CREATE SCHEMA " + schema,
                "CREATE TABLE " + table("meta") + " ("
                        + " singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),"
                        + " format_version integer NOT NULL,"
                        + " namespace_uuid uuid NOT NULL,"
                        + " block_size integer NOT NULL,"
                        + " kdf_algorithm text NOT NULL,"
                        + " kdf_opslimit bigint NOT NULL,"
                        + " kdf_memlimit bigint NOT NULL,"
                        + " kdf_salt bytea NOT NULL,"
                        + " wrapped_key bytea NOT NULL,"
                        + " quota_bytes bigint NOT NULL,"
                        + " mount_epoch bigint NOT NULL DEFAULT 0,"
                        + " last_commit bigint,"
                        + " created_at timestamptz NOT NULL DEFAULT now())",
                // Size and times change on every write: room on each page lets those updates stay HOT.
                "CREATE TABLE " + table("inodes") + " ("
                        + " ino bigint PRIMARY KEY,"
                        + " mode integer NOT NULL,"
                        + " uid bigint NOT NULL,"
                        + " gid bigint NOT NULL,"
                        + " nlink integer NOT NULL,"
                        + " size bigint NOT NULL,"
                        + " nblocks bigint NOT NULL DEFAULT 0,"
                        + " rdev bigint NOT NULL,"
                        + " atime_ns bigint NOT NULL,"
                        + " mtime_ns bigint NOT NULL,"
                        + " ctime_ns bigint NOT NULL"
                        + ") WITH (fillfactor = 80)",
                "CREATE INDEX inodes_orphans ON " + table("inodes") + " (ino) WHERE nlink = 0",
                "CREATE TABLE " + table("dirents") + " ("
                        + " parent bigint NOT NULL REFERENCES " + table("inodes") + " (ino),"
                        + " name bytea NOT NULL,"
                        + " ino bigint NOT NULL REFERENCES " + table("inodes") + " (ino),"
                        + " PRIMARY KEY (parent, name))",
                "CREATE INDEX dirents_ino ON " + table("dirents") + " (ino)",
                // No foreign key: block writes are the hot path and DeleteInode removes blocks itself.
                "CREATE TABLE " + table("blocks") + " ("
                        + " ino bigint NOT NULL,"
                        + " idx bigint NOT NULL,"
                        + " data bytea NOT NULL,"
                        + " PRIMARY KEY (ino, idx))",
                "CREATE TABLE " + table("xattrs") + " ("
                        + " ino bigint NOT NULL REFERENCES " + table("inodes") + " (ino) ON DELETE CASCADE,"
                        + " name bytea NOT NULL,"
                        + " value bytea NOT NULL,"
                        + " PRIMARY KEY (ino, name))",
                "CREATE TABLE " + table("symlinks") + " ("
                        + " ino bigint PRIMARY KEY REFERENCES " + table("inodes") + " (ino) ON DELETE CASCADE,"
                        + " target bytea NOT NULL)",
                // Ciphertext does not compress; trying would only cost CPU on every write.
                "ALTER TABLE " + table("blocks") + " ALTER COLUMN data SET STORAGE EXTERNAL",
                "ALTER TABLE " + table("xattrs") + " ALTER COLUMN value SET STORAGE EXTERNAL",
                "ALTER TABLE " + table("symlinks") + " ALTER COLUMN target SET STORAGE EXTERNAL",
                // Root is inode 1; ranges of 64 start at 2. Sequences never hand a value out twice.
                "CREATE SEQUENCE " + inodeSequence + " AS bigint START WITH 2 INCREMENT BY "
                        + PgNamespaceStore.INODE_RANGE_SIZE + " MINVALUE 2 NO CYCLE");
    }

    /**
     * Format 2: a key check, so a wrong passphrase and damaged key material are told apart, and a
     * checksum over the metadata. Both may be null until a writable mount has opened the key.
     */
    List<String> createFormat2() {
        return List.of("ALTER TABLE " + table("meta") + " ADD COLUMN key_check bytea, ADD COLUMN meta_checksum bytea");
    }

    /**
     * Format 3: authenticated metadata. Each inode row carries its sealed authenticator
     * ({@code auth}: its attributes and the digests of its contents), each entry its MAC, and each
     * block its Poly1305 tag in a column of its own (generated from the sealed bytes), so that the
     * tags of a whole file can be read without reading its blocks. Filling auth and mac needs the
     * namespace's key, which is why this step runs only through {@code upgradeSealing}.
     */
    List<String> createFormat3() {
        return List.of(
                "ALTER TABLE " + table("blocks") + " ADD COLUMN tag bytea GENERATED ALWAYS AS"
                        + " (substring(data FROM length(data) - 15 FOR 16)) STORED",
                "ALTER TABLE " + table("inodes") + " ADD COLUMN auth bytea",
                "ALTER TABLE " + table("dirents") + " ADD COLUMN mac bytea",
                // Blocks are rewritten in place by every SQLite commit: room on each page lets the
                // new version stay on it (a HOT update, no index entry), and vacuum keeps up.
                "ALTER TABLE " + table("blocks") + " SET (fillfactor = 80, autovacuum_vacuum_scale_factor = 0.05,"
                        + " toast.autovacuum_vacuum_scale_factor = 0.05)");
    }

    /**
     * Format 4: entry MACs and digest terms keyed apart (see {@code Sealer}), which changes every
     * entry's MAC and every directory's authenticator and nothing in the tables' shape. Keyed, like
     * format 3.
     */
    List<String> createFormat4() {
        return List.of();
    }

    /** Format 5: each commit's number sealed by the key holder (see {@link CommitSeals}). */
    List<String> createFormat5() {
        return List.of("ALTER TABLE " + table("meta") + " ADD COLUMN commit_seal bytea");
    }

    /** Format 6: whether names and symlink targets are stored sealed, chosen when the namespace is made. */
    List<String> createFormat6() {
        return List.of("ALTER TABLE " + table("meta") + " ADD COLUMN seal_names boolean NOT NULL DEFAULT false");
    }

    /**
     * Format 7: a hash tree of depth two over each file's blocks. A file's blocks fall in groups
     * of {@code GROUP_BLOCKS}; the first group's block terms are part of the file's content digest
     * as before, every later group is one term of it, over the group's digest stored here (the
     * sum of the group's block terms). A read needs the tags of its own group only. Keyed: the
     * digests of existing files larger than one group change.
     */
    List<String> createFormat7() {
        return List.of("CREATE TABLE " + table("block_groups") + " ("
                + " ino bigint NOT NULL,"
                + " grp bigint NOT NULL,"
                + " digest bytea NOT NULL,"
                + " PRIMARY KEY (ino, grp))");
    }

    String table(String name) {
        return schema + "." + quoteIdentifier(name);
    }

    /** Quotes an SQL identifier; the one place any name enters SQL text. */
    static String quoteIdentifier(String identifier) {
        if (identifier.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("an SQL identifier cannot contain NUL");
        }
        return '"' + identifier.replace("\"", "\"\"") + '"';
    }
}
