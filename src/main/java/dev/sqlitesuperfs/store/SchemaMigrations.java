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
 *
 * <p>A step marked keyed also needs values only the key holder can compute (authenticators of
 * existing rows). Opening a namespace runs the steps before it and stops there; the keyed step runs
 * when asked to with those values ({@link #upgradeKeyed}), never on its own: a namespace that looks
 * older than it should is sealed only when someone with the key decides to trust it.
 */
final class SchemaMigrations {

    /** One step: the version it produces, its statements for a given namespace, and whether it is keyed. */
    record Step(int version, Function<NamespaceSql, List<String>> statements, boolean keyed) {
        Step(int version, Function<NamespaceSql, List<String>> statements) {
            this(version, statements, false);
        }
    }

    /** Fills what a keyed step needs, inside its transaction, after its statements ran. */
    @FunctionalInterface
    interface KeyedFill {
        void fill(Connection connection) throws SQLException;
    }

    static final SchemaMigrations CURRENT = new SchemaMigrations(List.of(
            new Step(1, NamespaceSql::createFormat1),
            new Step(2, NamespaceSql::createFormat2),
            new Step(3, NamespaceSql::createFormat3, true),
            new Step(4, NamespaceSql::createFormat4, true),
            new Step(5, NamespaceSql::createFormat5),
            new Step(6, NamespaceSql::createFormat6),
            new Step(7, NamespaceSql::createFormat7, true)));

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

    /** The newest version a namespace at {@code version} reaches without a keyed step. */
    int reachableWithoutKey(int version) {
        int reachable = version;
        while (reachable < steps.size() && !steps.get(reachable).keyed()) {
            reachable++;
        }
        return reachable;
    }

    /** Runs every step on {@code connection}, inside the caller's transaction (a new namespace has no rows to fill). */
    void createAll(Connection connection, NamespaceSql sql) throws SQLException {
        runSteps(connection, sql, 0, latestVersion());
    }

    /**
     * Brings a namespace at {@code version} to {@link #latestVersion()} in one transaction, its
     * metadata checksum included.
     * The connection must be in auto-commit mode; it is left that way.
     */
    void upgrade(Connection connection, NamespaceName namespace, NamespaceSql sql, int version) throws SQLException {
        upgrade(connection, namespace, sql, version, reachableWithoutKey(version), null);
    }

    /** Brings a namespace at {@code version} to the latest format, keyed steps filled by {@code fill}. */
    void upgradeKeyed(Connection connection, NamespaceName namespace, NamespaceSql sql, int version, KeyedFill fill)
            throws SQLException {
        upgrade(connection, namespace, sql, version, latestVersion(), fill);
    }

    private void upgrade(Connection connection, NamespaceName namespace, NamespaceSql sql, int version, int target,
                         KeyedFill fill) throws SQLException {
        if (target <= version) {
            return;
        }
        connection.setAutoCommit(false);
        try {
            // The steps alter tables: behind a follower's snapshot (one of an older program, mounted
            // during a rolling upgrade) they would wait for as long as it stays mounted.
            SchemaReaders.exclusively(connection, namespace, "then try again",
                    c -> runSteps(c, sql, version, target));
            if (fill != null) {
                fill.fill(connection);
            }
            try (PreparedStatement update = connection.prepareStatement(sql.setFormatVersion)) {
                update.setInt(1, target);
                update.executeUpdate();
            }
            // The checksum covers the format version: it changes in the same transaction.
            MetaRow.refreshChecksum(connection, namespace, sql, target);
            Catalog.recordFormat(connection, namespace, target);
            connection.commit();
        } catch (SQLException | RuntimeException e) {
            rollbackQuietly(connection);
            throw e;
        } finally {
            connection.setAutoCommit(true);
        }
    }

    private void runSteps(Connection connection, NamespaceSql sql, int fromVersion, int toVersion) throws SQLException {
        try (Statement statement = connection.createStatement()) {
            for (Step step : steps.subList(fromVersion, toVersion)) {
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
