package dev.sqlitesuperfs.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;

/**
 * One namespace's prepared statements on a writer connection, created once per connection so
 * that pgjdbc can turn them into server-side prepared statements and skip parsing on the hot path.
 */
final class WriterStatements {

    final PreparedStatement applyChanges;
    final PreparedStatement applyData;
    final PreparedStatement applyWrites;
    final PreparedStatement applyGroupWrites;
    final PreparedStatement nblocksOf;

    WriterStatements(Connection connection, NamespaceSql sql) throws SQLException {
        applyChanges = connection.prepareStatement(sql.applyChanges);
        applyData = connection.prepareStatement(sql.applyData);
        applyWrites = connection.prepareStatement(sql.applyWrites);
        applyGroupWrites = connection.prepareStatement(sql.applyGroupWrites);
        nblocksOf = connection.prepareStatement(sql.nblocksOf);
    }

    /** Closes the statements (a namespace the lane no longer keeps); a failure is harmless. */
    void close() {
        for (PreparedStatement statement : new PreparedStatement[] {applyChanges, applyData, applyWrites, applyGroupWrites,
                nblocksOf}) {
            try {
                statement.close();
            } catch (SQLException ignored) {
                // The connection may be gone; its statements went with it.
            }
        }
    }
}
