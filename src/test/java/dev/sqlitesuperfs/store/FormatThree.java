package dev.sqlitesuperfs.store;

import dev.sqlitesuperfs.crypto.IntegrityException;
import dev.sqlitesuperfs.crypto.Sealer;
import dev.sqlitesuperfs.testing.TestPostgres;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns an unmounted namespace of the current format into one as format 3 wrote it: each entry's
 * MAC is its format 3 digest term, and each directory's authenticator carries the XOR of those
 * terms. What every namespace made before format 4 looks like, for testing the upgrade.
 */
public final class FormatThree {
    private FormatThree() {}

    /** The last step of a downgrade from format 7: no table of group digests, the format and checksum as given. */
    static void dropGroupsAndSetFormat(Connection c, String namespace, NamespaceSql sql, int format) throws SQLException {
        try (PreparedStatement drop = c.prepareStatement("DROP TABLE \"" + namespace + "\".block_groups")) {
            drop.executeUpdate();
        }
        try (PreparedStatement version = c.prepareStatement(sql.setFormatVersion)) {
            version.setInt(1, format);
            version.executeUpdate();
        }
        MetaRow.refreshChecksum(c, NamespaceName.parse(namespace), sql, format);
    }

    public static void downgrade(String namespace, Sealer sealer) {
        NamespaceSql sql = new NamespaceSql(NamespaceName.parse(namespace));
        String ns = "\"" + namespace + "\"";
        try (Connection c = TestPostgres.connect()) {
            c.setAutoCommit(false);
            record Entry(long parent, byte[] name, long ino) {}
            List<Entry> entries = new ArrayList<>();
            try (PreparedStatement s = c.prepareStatement("SELECT parent, name, ino FROM " + ns + ".dirents");
                 ResultSet r = s.executeQuery()) {
                while (r.next()) {
                    entries.add(new Entry(r.getLong(1), r.getBytes(2), r.getLong(3)));
                }
            }
            Map<Long, byte[]> digests = new HashMap<>();
            try (PreparedStatement update = c.prepareStatement("UPDATE " + ns + ".dirents SET mac = ? WHERE parent = ?"
                    + " AND name = ?")) {
                for (Entry e : entries) {
                    byte[] term = sealer.format3EntryTerm(e.parent(), e.name(), e.ino());
                    byte[] digest = digests.computeIfAbsent(e.parent(), k -> new byte[Sealer.DIGEST_BYTES]);
                    for (int i = 0; i < term.length; i++) {
                        digest[i] ^= term[i];
                    }
                    update.setBytes(1, term);
                    update.setLong(2, e.parent());
                    update.setBytes(3, e.name());
                    update.executeUpdate();
                }
            }
            int contentAt = Sealer.INODE_AUTH_BYTES - 2 * Sealer.DIGEST_BYTES;
            try (PreparedStatement dirs = c.prepareStatement("SELECT ino, auth FROM " + ns + ".inodes WHERE mode & 61440"
                    + " = 16384"); ResultSet r = dirs.executeQuery();
                 PreparedStatement update = c.prepareStatement("UPDATE " + ns + ".inodes SET auth = ? WHERE ino = ?")) {
                while (r.next()) {
                    long ino = r.getLong(1);
                    byte[] plain = sealer.openInode(ino, r.getBytes(2));
                    byte[] digest = digests.getOrDefault(ino, new byte[Sealer.DIGEST_BYTES]);
                    System.arraycopy(digest, 0, plain, contentAt, Sealer.DIGEST_BYTES);
                    update.setBytes(1, sealer.sealInode(ino, plain));
                    update.setLong(2, ino);
                    update.executeUpdate();
                }
            }
            try (PreparedStatement drop = c.prepareStatement("ALTER TABLE " + ns + ".meta DROP COLUMN commit_seal, DROP COLUMN seal_names")) {
                drop.executeUpdate(); // formats 5 and 6
            }
            // format 7 (this downgrade keeps every file's content digest: for files of one group of blocks only)
            dropGroupsAndSetFormat(c, namespace, sql, 3);
            c.commit();
        } catch (SQLException | IntegrityException e) {
            throw new IllegalStateException("downgrading " + namespace + " to format 3 failed", e);
        }
    }
}
