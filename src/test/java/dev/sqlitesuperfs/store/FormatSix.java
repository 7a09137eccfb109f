package dev.sqlitesuperfs.store;

import dev.sqlitesuperfs.crypto.IntegrityException;
import dev.sqlitesuperfs.crypto.Sealer;
import dev.sqlitesuperfs.testing.TestPostgres;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.HashMap;
import java.util.Map;

/**
 * Turns an unmounted namespace of the current format into one as format 6 wrote it: no table of
 * block group digests, and the content digest of each file larger than one group of blocks the
 * XOR of every block's term (format 7 puts one term per later group there instead). The last
 * commit is sealed again over the changed authenticators, as format 6 would have sealed it.
 */
public final class FormatSix {
    private FormatSix() {}

    public static void downgrade(String namespace, Sealer sealer) {
        NamespaceSql sql = new NamespaceSql(NamespaceName.parse(namespace));
        String ns = "\"" + namespace + "\"";
        int contentAt = Sealer.INODE_AUTH_BYTES - 2 * Sealer.DIGEST_BYTES;
        try (Connection c = TestPostgres.connect()) {
            c.setAutoCommit(false);
            // content(7) = D_0 ^ sum of H(group, D_g); content(6) = D_0 ^ sum of D_g
            Map<Long, byte[]> change = new HashMap<>();
            try (PreparedStatement s = c.prepareStatement("SELECT ino, grp, digest FROM " + ns + ".block_groups");
                 ResultSet r = s.executeQuery()) {
                while (r.next()) {
                    byte[] d = change.computeIfAbsent(r.getLong(1), k -> new byte[Sealer.DIGEST_BYTES]);
                    sealer.addGroupTerm(d, r.getLong(1), r.getLong(2), r.getBytes(3));
                    byte[] digest = r.getBytes(3);
                    for (int i = 0; i < d.length; i++) {
                        d[i] ^= digest[i];
                    }
                }
            }
            byte[] root = new byte[Sealer.DIGEST_BYTES];
            try (PreparedStatement all = c.prepareStatement("SELECT ino, auth FROM " + ns + ".inodes");
                 ResultSet r = all.executeQuery();
                 PreparedStatement update = c.prepareStatement("UPDATE " + ns + ".inodes SET auth = ? WHERE ino = ?")) {
                while (r.next()) {
                    long ino = r.getLong(1);
                    byte[] auth = r.getBytes(2);
                    byte[] d = change.get(ino);
                    if (d != null) {
                        byte[] plain = sealer.openInode(ino, auth);
                        for (int i = 0; i < d.length; i++) {
                            plain[contentAt + i] ^= d[i];
                        }
                        auth = sealer.sealInode(ino, plain);
                        update.setBytes(1, auth);
                        update.setLong(2, ino);
                        update.executeUpdate();
                    }
                    sealer.addRootTerm(root, ino, auth);
                }
            }
            long lastCommit;
            try (PreparedStatement s = c.prepareStatement(sql.readCommitState); ResultSet r = s.executeQuery()) {
                r.next();
                lastCommit = r.getLong(1);
            }
            try (PreparedStatement seal = c.prepareStatement(sql.setCommitSeal)) {
                seal.setBytes(1, sealer.commitSeal(lastCommit, root));
                seal.executeUpdate();
            }
            FormatThree.dropGroupsAndSetFormat(c, namespace, sql, 6);
            c.commit();
        } catch (SQLException | IntegrityException e) {
            throw new IllegalStateException("downgrading " + namespace + " to format 6 failed", e);
        }
    }
}
