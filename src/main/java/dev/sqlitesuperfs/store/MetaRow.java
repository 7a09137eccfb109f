package dev.sqlitesuperfs.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.UUID;

/**
 * Reads the meta row and checks it against its checksum, so that every caller gets either metadata
 * that is as it was written or {@link StoreException.DamagedMetadata}.
 *
 * <p>Rules (see {@link MetaChecksum}): format 2 added the columns {@code key_check} and
 * {@code meta_checksum}; every later format keeps them. So the columns exist exactly when the
 * format version is 2 or more, and a checksum that is present must match. Both columns are null
 * only in the short life of a namespace upgraded from format 1 whose key no writable mount has
 * opened yet.
 */
final class MetaRow {

    /** The first format with a key check and a metadata checksum. */
    static final int KEY_CHECKS_SINCE = 2;

    private MetaRow() {}

    /** The row as stored: metadata (with the key check if the column exists) and the checksum. */
    private record Stored(NamespaceMeta meta, boolean hasChecks, byte[] checksum) {}

    /** The meta row, checked. */
    static NamespaceMeta read(Connection connection, NamespaceName namespace, NamespaceSql sql) throws SQLException {
        Stored stored = readStored(connection, namespace, sql);
        NamespaceMeta meta = stored.meta();
        if (!stored.hasChecks()) {
            if (meta.formatVersion() != 1) {
                throw damaged(namespace, "its format version is " + meta.formatVersion()
                        + ", but its meta table has only format 1's columns");
            }
            return meta;
        }
        if (meta.formatVersion() < KEY_CHECKS_SINCE) {
            throw damaged(namespace, "its format version is " + meta.formatVersion()
                    + ", but its meta table has the columns of format " + KEY_CHECKS_SINCE + " and later");
        }
        if (stored.checksum() == null && meta.keyCheck() == null) {
            return meta;
        }
        if (!MetaChecksum.matches(meta, stored.checksum())) {
            throw damaged(namespace, "the metadata checksum does not match (its format version, block size, UUID,"
                    + " salt, key derivation cost, wrapped key or key check was changed)");
        }
        return meta;
    }

    /**
     * After an upgrade changed the format version to {@code newVersion}: a checksum that was set
     * is recomputed, in the upgrade's transaction, so that it keeps matching. The caller checked
     * the row before the upgrade.
     */
    static void refreshChecksum(Connection connection, NamespaceName namespace, NamespaceSql sql, int newVersion)
            throws SQLException {
        Stored stored = readStored(connection, namespace, sql);
        if (stored.checksum() == null) {
            return;
        }
        NamespaceMeta meta = stored.meta();
        NamespaceMeta upgraded = new NamespaceMeta(newVersion, meta.uuid(), meta.blockSize(), meta.kdfAlgorithm(),
                meta.kdfOpsLimit(), meta.kdfMemLimit(), meta.kdfSalt(), meta.wrappedKey(), meta.quotaBytes(),
                meta.keyCheck(), meta.sealNames());
        try (PreparedStatement update = connection.prepareStatement(sql.setMetaChecksum)) {
            update.setBytes(1, MetaChecksum.of(upgraded));
            update.executeUpdate();
        }
    }

    private static Stored readStored(Connection connection, NamespaceName namespace, NamespaceSql sql)
            throws SQLException {
        NamespaceMeta meta;
        try (PreparedStatement read = connection.prepareStatement(sql.readMeta); ResultSet rows = read.executeQuery()) {
            if (!rows.next()) {
                throw new StoreException("namespace " + namespace + " has no metadata row");
            }
            meta = new NamespaceMeta(rows.getInt(1), rows.getObject(2, UUID.class), rows.getInt(3),
                    rows.getString(4), rows.getLong(5), rows.getLong(6), rows.getBytes(7), rows.getBytes(8),
                    rows.getLong(9), null, rows.getBoolean(10));
        }
        if (!hasKeyCheckColumns(connection, sql)) {
            return new Stored(meta, false, null);
        }
        try (PreparedStatement read = connection.prepareStatement(sql.readKeyChecks);
             ResultSet rows = read.executeQuery()) {
            rows.next();
            byte[] keyCheck = rows.getBytes(1);
            return new Stored(meta.withKeyMaterial(meta.kdfAlgorithm(), meta.kdfOpsLimit(), meta.kdfMemLimit(),
                    meta.kdfSalt(), meta.wrappedKey(), keyCheck), true, rows.getBytes(2));
        }
    }

    static boolean hasKeyCheckColumns(Connection connection, NamespaceSql sql) throws SQLException {
        try (PreparedStatement column = connection.prepareStatement(NamespaceSql.COLUMN_EXISTS)) {
            column.setString(1, sql.table("meta"));
            column.setString(2, "meta_checksum");
            try (ResultSet rows = column.executeQuery()) {
                rows.next();
                return rows.getBoolean(1);
            }
        }
    }

    static StoreException.DamagedMetadata damaged(NamespaceName namespace, String detail) {
        return new StoreException.DamagedMetadata("the key material of namespace " + namespace + " is damaged: "
                + detail);
    }
}
