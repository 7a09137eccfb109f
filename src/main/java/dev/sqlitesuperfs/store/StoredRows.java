package dev.sqlitesuperfs.store;

import dev.sqlitesuperfs.store.NamespaceStore.ParentEntry;
import dev.sqlitesuperfs.store.NamespaceStore.StoredTag;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * The reads of a namespace, each one query on a connection of the read pool (committed state
 * only), retried while PostgreSQL is briefly away ({@link ReadPool}).
 */
final class StoredRows {
    private static final int MAX_PROBLEMS_PER_CHECK = 100;

    /** Binds a query's parameters. */
    @FunctionalInterface
    private interface Parameters {
        void bind(PreparedStatement statement) throws SQLException;
    }

    /** Turns the current row into a value. */
    @FunctionalInterface
    private interface Row<T> {
        T of(ResultSet rows) throws SQLException;
    }

    private static final Parameters NONE = statement -> {};

    private final ReadPool reads;
    private final NamespaceSql sql;

    StoredRows(ReadPool reads, NamespaceSql sql) {
        this.reads = reads;
        this.sql = sql;
    }

    /** Every row of {@code query}; {@code what} names the read in error messages. */
    private <T> List<T> list(String what, String query, Parameters parameters, Row<T> row) {
        return reads.read(what, connection -> {
            try (PreparedStatement statement = connection.prepareStatement(query)) {
                parameters.bind(statement);
                try (ResultSet rows = statement.executeQuery()) {
                    List<T> found = new ArrayList<>();
                    while (rows.next()) {
                        found.add(row.of(rows));
                    }
                    return found;
                }
            }
        });
    }

    /** The first row of {@code query}, if there is one. */
    private <T> Optional<T> first(String what, String query, Parameters parameters, Row<T> row) {
        List<T> found = list(what, query, statement -> {
            parameters.bind(statement);
            statement.setMaxRows(1);
        }, row);
        return found.isEmpty() ? Optional.empty() : Optional.of(found.getFirst());
    }

    Optional<InodeRecord> inode(long ino) {
        return first("reading an inode", sql.inode, s -> s.setLong(1, ino), StoredRows::inodeRow);
    }

    List<InodeRecord> inodes(long[] inos) {
        if (inos.length == 0) {
            return List.of();
        }
        return list("reading inodes", sql.inodes, s -> s.setObject(1, inos), StoredRows::inodeRow);
    }

    List<DirEntryRecord> entries(long dir) {
        return list("listing a directory", sql.entries, s -> s.setLong(1, dir),
                r -> new DirEntryRecord(r.getBytes(1), r.getLong(2), r.getInt(3), r.getBytes(4)));
    }

    List<StoredTag> blockTags(long ino, long fromIdx, long toIdx) {
        return list("reading block tags", sql.blockTagRange, s -> {
            s.setLong(1, ino);
            s.setLong(2, fromIdx);
            s.setLong(3, toIdx);
        }, r -> new StoredTag(r.getLong(1), r.getBytes(2)));
    }

    NamespaceStore.TagIndex tagIndex(long ino, long firstGroupEnd) {
        // Tags (kind 0) and group digests (kind 1) in one result; split once it has arrived whole.
        record Row(boolean group, long at, byte[] bytes) {}
        List<Row> found = list("reading block tags", sql.tagIndex, s -> {
            s.setLong(1, ino);
            s.setLong(2, firstGroupEnd);
            s.setLong(3, ino);
        }, r -> new Row(r.getInt(1) != 0, r.getLong(2), r.getBytes(3)));
        List<StoredTag> tags = new java.util.ArrayList<>();
        List<NamespaceStore.GroupDigest> groups = new java.util.ArrayList<>();
        for (Row r : found) {
            if (r.group()) {
                groups.add(new NamespaceStore.GroupDigest(r.at(), r.bytes()));
            } else {
                tags.add(new StoredTag(r.at(), r.bytes()));
            }
        }
        return new NamespaceStore.TagIndex(tags, groups);
    }

    List<ParentEntry> parentEntries(long dirIno) {
        return list("finding a parent directory", sql.parentEntries, s -> s.setLong(1, dirIno),
                r -> new ParentEntry(r.getLong(1), r.getBytes(2), r.getBytes(3)));
    }

    Optional<byte[]> symlinkTarget(long ino) {
        return first("reading a symlink", sql.symlinkTarget, s -> s.setLong(1, ino), r -> r.getBytes(1));
    }

    List<XattrRecord> xattrs(long ino) {
        return list("reading extended attributes", sql.xattrs, s -> s.setLong(1, ino),
                r -> new XattrRecord(r.getBytes(1), r.getBytes(2)));
    }

    List<SealedBlock> blocks(long ino, long fromIdx, long toIdx) {
        if (fromIdx >= toIdx) {
            return List.of();
        }
        return list("reading blocks", sql.blocks, s -> {
            s.setLong(1, ino);
            s.setLong(2, fromIdx);
            s.setLong(3, toIdx);
        }, r -> new SealedBlock(r.getLong(1), r.getBytes(2)));
    }

    OptionalLong nextStoredBlock(long ino, long fromIdx) {
        List<Long> next = list("finding the next stored block", sql.nextStoredBlock, s -> {
            s.setLong(1, ino);
            s.setLong(2, fromIdx);
        }, r -> {
            long idx = r.getLong(1);
            return r.wasNull() ? null : idx;
        });
        return next.isEmpty() || next.getFirst() == null ? OptionalLong.empty() : OptionalLong.of(next.getFirst());
    }

    long nextMissingBlock(long ino, long fromIdx) {
        return list("finding the next missing block", sql.nextMissingBlock, s -> {
            s.setLong(1, ino);
            s.setLong(2, fromIdx);
            s.setLong(3, fromIdx);
            s.setLong(4, ino);
            s.setLong(5, fromIdx);
            s.setLong(6, ino);
        }, r -> r.getLong(1)).getFirst();
    }

    long[] orphans() {
        return numbers("listing orphans", sql.orphans);
    }

    /** Every inode's number and stored authenticator (null where there is none). */
    java.util.Map<Long, byte[]> inodeAuthenticators() {
        record Row(long ino, byte[] auth) {}
        java.util.Map<Long, byte[]> auths = new java.util.HashMap<>();
        for (Row row : list("reading the inodes' authenticators", sql.inodeAuthenticators, NONE,
                r -> new Row(r.getLong(1), r.getBytes(2)))) {
            auths.put(row.ino(), row.auth());
        }
        return auths;
    }

    long[] inodeNumbers() {
        return numbers("listing inodes", sql.inodeNumbers);
    }

    private long[] numbers(String what, String query) {
        return list(what, query, NONE, r -> r.getLong(1)).stream().mapToLong(Long::longValue).toArray();
    }

    Usage usage() {
        return list("measuring usage", sql.usage, NONE, r -> new Usage(r.getLong(1), r.getLong(2))).getFirst();
    }

    /** A range of inode numbers from the namespace's sequence, which never repeats a number. */
    InodeRange allocateInodes(int count) {
        // A range lost to a failure after nextval is simply never used.
        return list("allocating inode numbers", sql.allocateInodes, s -> s.setString(1, sql.inodeSequence),
                r -> new InodeRange(r.getLong(1), count)).getFirst();
    }

    /** See {@link NamespaceStore#check()}: every check in one snapshot, at most 100 lines each. */
    List<String> check() {
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

    /** An inode row of {@link NamespaceSql#inode}'s columns (the last one the authenticator). */
    static InodeRecord inodeRow(ResultSet rows) throws SQLException {
        return new InodeRecord(rows.getLong(1), rows.getInt(2), (int) rows.getLong(3), (int) rows.getLong(4),
                rows.getInt(5), rows.getLong(6), rows.getLong(7), (int) rows.getLong(8), rows.getLong(9),
                rows.getLong(10), rows.getLong(11), rows.getBytes(12));
    }
}
