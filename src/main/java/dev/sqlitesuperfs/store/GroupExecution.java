package dev.sqlitesuperfs.store;

import dev.sqlitesuperfs.store.ChangeSet.Change;
import dev.sqlitesuperfs.store.ChangeSet.DeleteEntry;
import dev.sqlitesuperfs.store.ChangeSet.DeleteInode;
import dev.sqlitesuperfs.store.ChangeSet.DeleteXattr;
import dev.sqlitesuperfs.store.ChangeSet.PutBlocks;
import dev.sqlitesuperfs.store.ChangeSet.PutEntry;
import dev.sqlitesuperfs.store.ChangeSet.PutInode;
import dev.sqlitesuperfs.store.ChangeSet.PutSymlink;
import dev.sqlitesuperfs.store.ChangeSet.PutXattr;
import dev.sqlitesuperfs.store.ChangeSet.TruncateBlocks;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Applies the changes of one or more change sets inside the caller's transaction, in order, with
 * as few round trips as order allows: consecutive changes that use the same statement go out as one
 * JDBC batch (which pgjdbc pipelines), and the nblocks of every touched inode is adjusted by one
 * batch at the end.
 */
final class GroupExecution {

    private enum Kind { PUT_INODE, DELETE_INODE, PUT_ENTRY, DELETE_ENTRY, BLOCKS, TRUNCATE, PUT_XATTR, DELETE_XATTR, PUT_SYMLINK }

    /** One block write waiting in the current batch run; {@code set} is the change set's position in the group. */
    private record BlockWrite(int set, long ino, long idx, byte[] data, boolean knownNew) {}

    private record Truncation(int set, long ino) {}

    private record BlockKey(long ino, long idx) {}

    private final WriterStatements statements;
    /** Per change set of the group, per inode: rows added minus rows removed. */
    private final List<Map<Long, Long>> deltas = new ArrayList<>();

    private Kind pendingKind;
    private PreparedStatement pendingStatement;
    private final List<BlockWrite> pendingBlocks = new ArrayList<>();
    private final Set<BlockKey> pendingBlockKeys = new HashSet<>();
    private final List<Truncation> pendingTruncations = new ArrayList<>();

    private GroupExecution(WriterStatements statements) {
        this.statements = statements;
    }

    /** Runs every change of {@code sets} and returns, per set, what it did to nblocks. */
    static List<CommitResult> run(WriterStatements statements, List<ChangeSet> sets) throws SQLException {
        GroupExecution execution = new GroupExecution(statements);
        for (int set = 0; set < sets.size(); set++) {
            execution.deltas.add(new LinkedHashMap<>());
            for (Change change : sets.get(set).changes()) {
                execution.add(set, change);
            }
        }
        execution.flush();
        execution.applyNblocks();
        List<CommitResult> results = new ArrayList<>(sets.size());
        for (Map<Long, Long> delta : execution.deltas) {
            results.add(delta.isEmpty() ? CommitResult.EMPTY : new CommitResult(delta));
        }
        return results;
    }

    private void add(int set, Change change) throws SQLException {
        switch (change) {
            case PutInode(InodeRecord inode) -> {
                PreparedStatement s = batchOf(Kind.PUT_INODE, statements.putInode);
                s.setLong(1, inode.ino());
                s.setInt(2, inode.mode());
                s.setLong(3, Integer.toUnsignedLong(inode.uid()));
                s.setLong(4, Integer.toUnsignedLong(inode.gid()));
                s.setInt(5, inode.nlink());
                s.setLong(6, inode.size());
                s.setLong(7, Integer.toUnsignedLong(inode.rdev()));
                s.setLong(8, inode.atimeNs());
                s.setLong(9, inode.mtimeNs());
                s.setLong(10, inode.ctimeNs());
                s.addBatch();
            }
            case DeleteInode(long ino) -> {
                PreparedStatement s = batchOf(Kind.DELETE_INODE, statements.deleteInode);
                s.setLong(1, ino);
                s.setLong(2, ino);
                s.addBatch();
            }
            case PutEntry(long parent, byte[] name, long ino) -> {
                PreparedStatement s = batchOf(Kind.PUT_ENTRY, statements.putEntry);
                s.setLong(1, parent);
                s.setBytes(2, name);
                s.setLong(3, ino);
                s.addBatch();
            }
            case DeleteEntry(long parent, byte[] name) -> {
                PreparedStatement s = batchOf(Kind.DELETE_ENTRY, statements.deleteEntry);
                s.setLong(1, parent);
                s.setBytes(2, name);
                s.addBatch();
            }
            case PutBlocks(long ino, long firstNewIdx, List<SealedBlock> blocks) -> {
                batchOf(Kind.BLOCKS, null);
                for (SealedBlock block : blocks) {
                    if (!pendingBlockKeys.add(new BlockKey(ino, block.idx()))) {
                        // The same block twice in one run: the update-then-insert below assumes
                        // distinct rows, so send what came before first.
                        flush();
                        pendingKind = Kind.BLOCKS;
                        pendingBlockKeys.add(new BlockKey(ino, block.idx()));
                    }
                    pendingBlocks.add(new BlockWrite(set, ino, block.idx(), block.data(), block.idx() >= firstNewIdx));
                }
            }
            case TruncateBlocks(long ino, long fromIdx) -> {
                PreparedStatement s = batchOf(Kind.TRUNCATE, statements.truncateBlocks);
                s.setLong(1, ino);
                s.setLong(2, fromIdx);
                s.addBatch();
                pendingTruncations.add(new Truncation(set, ino));
            }
            case PutXattr(long ino, byte[] name, byte[] sealedValue) -> {
                PreparedStatement s = batchOf(Kind.PUT_XATTR, statements.putXattr);
                s.setLong(1, ino);
                s.setBytes(2, name);
                s.setBytes(3, sealedValue);
                s.addBatch();
            }
            case DeleteXattr(long ino, byte[] name) -> {
                PreparedStatement s = batchOf(Kind.DELETE_XATTR, statements.deleteXattr);
                s.setLong(1, ino);
                s.setBytes(2, name);
                s.addBatch();
            }
            case PutSymlink(long ino, byte[] sealedTarget) -> {
                PreparedStatement s = batchOf(Kind.PUT_SYMLINK, statements.putSymlink);
                s.setLong(1, ino);
                s.setBytes(2, sealedTarget);
                s.addBatch();
            }
        }
    }

    /** Makes {@code kind} the current batch run, sending the previous run if it was another kind. */
    private PreparedStatement batchOf(Kind kind, PreparedStatement statement) throws SQLException {
        if (pendingKind != kind) {
            flush();
            pendingKind = kind;
            pendingStatement = statement;
        }
        return statement;
    }

    private void flush() throws SQLException {
        if (pendingKind == null) {
            return;
        }
        switch (pendingKind) {
            case BLOCKS -> flushBlocks();
            case TRUNCATE -> {
                int[] deleted = pendingStatement.executeBatch();
                for (int i = 0; i < deleted.length; i++) {
                    Truncation t = pendingTruncations.get(i);
                    addDelta(t.set(), t.ino(), -rowCount(deleted[i]));
                }
                pendingTruncations.clear();
            }
            default -> pendingStatement.executeBatch();
        }
        pendingKind = null;
        pendingStatement = null;
    }

    private void flushBlocks() throws SQLException {
        List<BlockWrite> inserts = new ArrayList<>();
        List<BlockWrite> updates = new ArrayList<>();
        for (BlockWrite write : pendingBlocks) {
            (write.knownNew() ? inserts : updates).add(write);
        }
        if (!updates.isEmpty()) {
            PreparedStatement update = statements.updateBlock;
            for (BlockWrite write : updates) {
                update.setBytes(1, write.data());
                update.setLong(2, write.ino());
                update.setLong(3, write.idx());
                update.addBatch();
            }
            int[] updated = update.executeBatch();
            for (int i = 0; i < updated.length; i++) {
                if (rowCount(updated[i]) == 0) {
                    // A hole below the stored size: the block did not exist yet.
                    inserts.add(updates.get(i));
                }
            }
        }
        if (!inserts.isEmpty()) {
            PreparedStatement insert = statements.insertBlock;
            for (BlockWrite write : inserts) {
                insert.setLong(1, write.ino());
                insert.setLong(2, write.idx());
                insert.setBytes(3, write.data());
                insert.addBatch();
            }
            insert.executeBatch();
            for (BlockWrite write : inserts) {
                addDelta(write.set(), write.ino(), 1);
            }
        }
        pendingBlocks.clear();
        pendingBlockKeys.clear();
    }

    private void applyNblocks() throws SQLException {
        Map<Long, Long> total = new HashMap<>();
        for (Map<Long, Long> delta : deltas) {
            delta.forEach((ino, d) -> total.merge(ino, d, Long::sum));
        }
        PreparedStatement add = statements.addNblocks;
        boolean any = false;
        for (Map.Entry<Long, Long> entry : total.entrySet()) {
            if (entry.getValue() != 0) {
                // An inode deleted later in the group simply matches no row.
                add.setLong(1, entry.getValue());
                add.setLong(2, entry.getKey());
                add.addBatch();
                any = true;
            }
        }
        if (any) {
            add.executeBatch();
        }
    }

    private void addDelta(int set, long ino, long delta) {
        deltas.get(set).merge(ino, delta, Long::sum);
    }

    private static long rowCount(int batchResult) throws SQLException {
        if (batchResult < 0) {
            throw new SQLException("the driver did not report a row count for a batched statement");
        }
        return batchResult;
    }
}
