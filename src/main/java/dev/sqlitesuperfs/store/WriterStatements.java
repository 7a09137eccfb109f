package dev.sqlitesuperfs.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;

/**
 * The writer connection's prepared statements, created once per connection so that pgjdbc can
 * turn them into server-side prepared statements and skip parsing on the hot path.
 */
final class WriterStatements {

    final PreparedStatement claimCommit;
    final PreparedStatement putInode;
    final PreparedStatement deleteInode;
    final PreparedStatement putEntry;
    final PreparedStatement deleteEntry;
    final PreparedStatement insertBlock;
    final PreparedStatement updateBlock;
    final PreparedStatement truncateBlocks;
    final PreparedStatement addNblocks;
    final PreparedStatement putXattr;
    final PreparedStatement deleteXattr;
    final PreparedStatement putSymlink;

    WriterStatements(Connection connection, NamespaceSql sql) throws SQLException {
        claimCommit = connection.prepareStatement(sql.claimCommit);
        putInode = connection.prepareStatement(sql.putInode);
        deleteInode = connection.prepareStatement(sql.deleteInode);
        putEntry = connection.prepareStatement(sql.putEntry);
        deleteEntry = connection.prepareStatement(sql.deleteEntry);
        insertBlock = connection.prepareStatement(sql.insertBlock);
        updateBlock = connection.prepareStatement(sql.updateBlock);
        truncateBlocks = connection.prepareStatement(sql.truncateBlocks);
        addNblocks = connection.prepareStatement(sql.addNblocks);
        putXattr = connection.prepareStatement(sql.putXattr);
        deleteXattr = connection.prepareStatement(sql.deleteXattr);
        putSymlink = connection.prepareStatement(sql.putSymlink);
    }

    /** Drops batches a failed transaction may have left half-built. */
    void clearBatches() throws SQLException {
        for (PreparedStatement statement : new PreparedStatement[] {claimCommit, putInode, deleteInode, putEntry,
                deleteEntry, insertBlock, updateBlock, truncateBlocks, addNblocks, putXattr, deleteXattr, putSymlink}) {
            statement.clearBatch();
        }
    }
}
