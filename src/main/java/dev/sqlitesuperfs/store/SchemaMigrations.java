package dev.sqlitesuperfs.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.function.Function;

/**
 * The on-disk formats, as an ordered list of steps: step N turns format N-1 into format N (step 1
 * creates everything). Creating a namespace runs every step; opening an older one runs the steps it
 * lacks, in one transaction together with the new version number, so an upgrade happens whole or
 * not at all.
 */
final class SchemaMigrations {

    /** One step: the version it produces and its statements for a given namespace. */
    record Step(int version, Function<NamespaceSql, List<String>> statements) {}

    static final SchemaMigrations CURRENT = new SchemaMigrations(List.of(
            new Step(1, NamespaceSql::createFormat1),
            new Step(2, NamespaceSql::createFormat2)));

    private final List<Step> steps;

    SchemaMigrations(List<Step> steps) {
        for (int i = 0; i < steps.size(); i++) {
            if (steps.get(i).version() != i + 1) {
                throw new IllegalArgumentException("migration steps must be numbered 1, 2, 3, ... in order");
            }
        }
        this.steps = List.copyOf(steps);
    }

    List<Step> steps() {
        return steps;
    }

    int latestVersion() {
        return steps.size();
    }

    /** Runs every step on {@code connection}, inside the caller's transaction. */
    void createAll(Connection connection, NamespaceSql sql) throws SQLException {
        runSteps(connection, sql, 0);
    }

    /**
     * Brings a namespace at {@code version} to {@link #latestVersion()} in one transaction, its
     * metadata checksum included.
     * The connection must be in auto-commit mode; it is left that way.
     */
    void upgrade(Connection connection, NamespaceName namespace, NamespaceSql sql, int version) throws SQLException {
        connection.setAutoCommit(false);
        try {
            runSteps(connection, sql, version);
            try (PreparedStatement update = connection.prepareStatement(sql.setFormatVersion)) {
                update.setInt(1, latestVersion());
                update.executeUpdate();
            }
            // The checksum covers the format version: it changes in the same transaction.
            MetaRow.refreshChecksum(connection, namespace, sql, latestVersion());
            connection.commit();
        } catch (SQLException | RuntimeException e) {
            rollbackQuietly(connection);
            throw e;
        } finally {
            connection.setAutoCommit(true);
        }
    }

    private void runSteps(Connection connection, NamespaceSql sql, int fromVersion) throws SQLException {
        try (Statement statement = connection.createStatement()) {
            for (Step step : steps.subList(fromVersion, steps.size())) {
                for (String ddl : step.statements().apply(sql)) {
                    statement.execute(ddl);
                }
            }
        }
    }

    private static void rollbackQuietly(Connection connection) {
        try {
            connection.rollback();
        } catch (SQLException ignored) {
            // The original failure is what the caller needs to see.
        }
    }
}
