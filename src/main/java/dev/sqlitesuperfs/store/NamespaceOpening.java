package dev.sqlitesuperfs.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What opening a namespace checks before anything else happens: a connection that holds the
 * namespace's lock (retried while PostgreSQL is briefly away), a server new enough, and a
 * namespace of a format this program knows, upgraded as far as it can be without the key.
 */
final class NamespaceOpening {
    private static final Logger log = LoggerFactory.getLogger(NamespaceOpening.class);

    private NamespaceOpening() {}

    static WriterSession connect(PgServer server, NamespaceName namespace, NamespaceSql sql) {
        DatabaseConfig config = server.config();
        long deadline = System.nanoTime() + config.retryTimeout().toNanos();
        Backoff backoff = new Backoff();
        while (true) {
            try {
                return WriterSession.open(server.locks(), server.laneFor(namespace), server.bulkLane(), namespace, sql);
            } catch (SQLException e) {
                if (!SqlFailures.isTransient(e)) {
                    throw SqlFailures.describeConnecting(namespace, e);
                }
                if (System.nanoTime() - deadline >= 0) {
                    // Thrown, not logged: whoever opens reports it (the command line as its one line).
                    throw SqlFailures.unavailable("opening namespace " + namespace, config.retryTimeout(), e);
                }
                backoff.pause(deadline);
            }
        }
    }

    /** Upgrades what can be upgraded without the key; returns the format version the namespace then has (0: none). */
    static int checkFormat(Connection connection, NamespaceName namespace, NamespaceSql sql,
                                   SchemaMigrations migrations, boolean readOnly) throws SQLException {
        if (!exists(connection, namespace, sql)) {
            return 0;
        }
        int version;
        try (PreparedStatement read = connection.prepareStatement(sql.readFormatVersion);
             ResultSet rows = read.executeQuery()) {
            if (!rows.next()) {
                throw new StoreException("namespace " + namespace + " has no metadata row");
            }
            version = rows.getInt(1);
        }
        int latest = migrations.latestVersion();
        if (version > latest) {
            // A newer program kept the checksum (MetaChecksum's rule); a version set by hand breaks it.
            try {
                MetaRow.read(connection, namespace, sql);
            } catch (SQLException e) {
                log.debug("the meta row of namespace {} (format {}) does not read as this format's: {}", namespace,
                        version, e.getMessage());
            }
            throw new StoreException.UnsupportedFormat("namespace " + namespace + " has format version " + version
                    + ", but this program only knows versions up to " + latest + "; use a newer sqlitesuperfs");
        }
        MetaRow.read(connection, namespace, sql);
        int reachable = migrations.reachableWithoutKey(version);
        if (version < reachable) {
            if (readOnly) {
                throw new StoreException.UnsupportedFormat("namespace " + namespace + " has format version " + version
                        + " and needs an upgrade to " + reachable + ": open it once without read-only");
            }
            migrations.upgrade(connection, namespace, sql, version);
            log.info("Upgraded namespace {} from format version {} to {}", namespace, version, reachable);
        }
        return reachable;
    }

    /** Whether the schema exists; a schema of that name that is not a namespace is an error. */
    static boolean exists(Connection connection, NamespaceName namespace, NamespaceSql sql) throws SQLException {
        try (PreparedStatement schema = connection.prepareStatement(NamespaceSql.SCHEMA_EXISTS)) {
            schema.setString(1, namespace.value());
            try (ResultSet rows = schema.executeQuery()) {
                rows.next();
                if (!rows.getBoolean(1)) {
                    return false;
                }
            }
        }
        try (PreparedStatement meta = connection.prepareStatement(NamespaceSql.RELATION_EXISTS)) {
            meta.setString(1, sql.table("meta"));
            try (ResultSet rows = meta.executeQuery()) {
                rows.next();
                if (!rows.getBoolean(1)) {
                    Placement.requireCurrent(connection, namespace, sql);
                    throw new StoreException.NotANamespace("schema " + namespace
                            + " exists but is not a sqlitesuperfs namespace; choose another name");
                }
            }
        }
        return true;
    }

    /**
     * The oldest PostgreSQL this works with: 12 brought stored generated columns (each block's
     * tag, format 3); 11 hashtextextended, which the namespace lock uses.
     */
    public static final int MIN_SERVER_VERSION = 120000;

    static void checkServerVersion(Connection connection, DatabaseConfig config) throws SQLException {
        try (PreparedStatement read = connection.prepareStatement(NamespaceSql.SERVER_VERSION);
             ResultSet rows = read.executeQuery()) {
            rows.next();
            int version = rows.getInt(1);
            if (version < MIN_SERVER_VERSION) {
                // Before 10 the number was major.minor.patch in two digits each, 90624 for 9.6.24.
                String readable = version >= 100000 ? version / 10000 + "." + version % 10000
                        : version / 10000 + "." + version / 100 % 100 + "." + version % 100;
                throw new StoreException.UnsupportedServer("the PostgreSQL server at " + config.endpoints().getFirst()
                        + " is version " + readable + "; sqlitesuperfs needs " + MIN_SERVER_VERSION / 10000
                        + " or newer");
            }
        }
    }
}
