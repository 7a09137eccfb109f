package dev.sqlitesuperfs.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;

/**
 * The writer connection's prepared statements, created once per connection so that pgjdbc can
 * turn them into server-side prepared statements and skip parsing on the hot path.
 */
final class WriterStatements {

    final PreparedStatement applyChanges;
    final PreparedStatement applyData;
    final PreparedStatement nblocksOf;

    WriterStatements(Connection connection, NamespaceSql sql) throws SQLException {
        applyChanges = connection.prepareStatement(sql.applyChanges);
        applyData = connection.prepareStatement(sql.applyData);
        nblocksOf = connection.prepareStatement(sql.nblocksOf);
    }
}
