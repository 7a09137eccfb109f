package dev.sqlitesuperfs.store;

import dev.sqlitesuperfs.store.NetChanges.BlockWrite;
import dev.sqlitesuperfs.store.NetChanges.EntryValue;
import dev.sqlitesuperfs.store.NetChanges.NameKey;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Binds a group's {@link NetChanges} to {@link NamespaceSql#applyChanges} (or, when it changes no
 * name, inode set, attribute or symlink, to the lighter {@link NamespaceSql#applyData}, or when it
 * only writes files' blocks with their rows, to {@link NamespaceSql#applyWrites}) and runs it. In
 * auto-commit mode that is the whole transaction in one round trip; inside an explicit
 * transaction it follows the COPY of a large write ({@link BlockCopy}).
 */
final class ApplyStatement {

    private ApplyStatement() {}

    /**
     * Runs the statement; returns the block count of every inode whose row or count it changed.
     *
     * @param copied blocks already stored by COPY in this transaction, per inode
     * @throws StoreException.Fenced (after nothing was changed) if the epoch is no longer this mount's
     */
    static Map<Long, Long> run(WriterStatements statements, long commitNumber, long epoch, byte[] seal,
                               NetChanges net, Map<Long, Long> copied) throws SQLException {
        boolean names = net.hasNamespaceChanges();
        if (!names && net.truncations.isEmpty() && copied.isEmpty() && !net.removesGroups()
                && net.inodes.keySet().containsAll(net.blocks.keySet())) {
            PreparedStatement writes = net.groups.isEmpty() ? statements.applyWrites : statements.applyGroupWrites;
            writes.setLong(1, commitNumber);
            writes.setLong(2, epoch);
            writes.setBytes(3, seal);
            int p = bindInodes(writes, bindBlocks(writes, 4, net.blocks), net.inodes);
            if (!net.groups.isEmpty()) {
                bindGroups(writes, p, net.groups, false);
            }
            return execute(writes);
        }
        PreparedStatement statement = names ? statements.applyChanges : statements.applyData;
        int p = 1;
        statement.setLong(p++, commitNumber);
        statement.setLong(p++, epoch);
        statement.setBytes(p++, seal);
        if (names) {
            statement.setObject(p++, longs(List.copyOf(net.deletedInodes)));
        }
        p = bindBlocks(statement, p, net.blocks);
        p = bindPairs(statement, p, net.truncations);
        p = bindPairs(statement, p, copied);
        if (names) {
            p = bindEntries(statement, p, net.entries);
        }
        p = bindInodes(statement, p, net.inodes);
        Set<Long> countOnly = new HashSet<>(net.blocks.keySet());
        countOnly.addAll(net.truncations.keySet());
        countOnly.addAll(copied.keySet());
        countOnly.removeAll(net.inodes.keySet());
        statement.setObject(p++, longs(List.copyOf(countOnly)));
        if (names) {
            p = bindXattrs(statement, p, net.xattrs);
            int n = net.symlinks.size();
            long[] inos = new long[n];
            byte[][] targets = new byte[n][];
            int i = 0;
            for (Map.Entry<Long, byte[]> e : net.symlinks.entrySet()) {
                inos[i] = e.getKey();
                targets[i++] = e.getValue();
            }
            statement.setObject(p++, inos);
            statement.setObject(p++, targets);
        }
        bindGroups(statement, p, net.groups, true);

        return execute(statement);
    }

    /** Runs a bound apply statement; its rows give the claim and the new block counts. */
    private static Map<Long, Long> execute(PreparedStatement statement) throws SQLException {
        Map<Long, Long> nblocks = new HashMap<>();
        try (ResultSet rows = statement.executeQuery()) {
            boolean claimed = false;
            while (rows.next()) {
                claimed = rows.getLong(1) > 0;
                long ino = rows.getLong(2);
                if (!rows.wasNull()) {
                    nblocks.put(ino, rows.getLong(3));
                }
            }
            if (!claimed) {
                throw new StoreException.Fenced("the namespace is now owned by another mount (its owner epoch changed)");
            }
        }
        return nblocks;
    }

    private static int bindBlocks(PreparedStatement s, int p, Map<Long, TreeMap<Long, BlockWrite>> blocks)
            throws SQLException {
        int n = 0;
        for (TreeMap<Long, BlockWrite> perInode : blocks.values()) {
            n += perInode.size();
        }
        long[] inos = new long[n];
        long[] idxs = new long[n];
        byte[][] data = new byte[n][];
        int i = 0;
        for (Map.Entry<Long, TreeMap<Long, BlockWrite>> e : blocks.entrySet()) {
            for (Map.Entry<Long, BlockWrite> b : e.getValue().entrySet()) {
                inos[i] = e.getKey();
                idxs[i] = b.getKey();
                data[i++] = b.getValue().data();
            }
        }
        s.setObject(p++, inos);
        s.setObject(p++, idxs);
        s.setObject(p++, data);
        return p;
    }

    /** Binds the put group digests (ino, group, digest), then, with {@code removals}, the removed groups (ino, group). */
    private static void bindGroups(PreparedStatement s, int p, Map<NetChanges.GroupKey, byte[]> groups, boolean removals)
            throws SQLException {
        int removed = 0;
        for (byte[] d : groups.values()) {
            if (d == null) {
                removed++;
            }
        }
        int put = groups.size() - removed;
        long[] putIno = new long[put];
        long[] putGroup = new long[put];
        byte[][] putDigest = new byte[put][];
        long[] goneIno = new long[removed];
        long[] goneGroup = new long[removed];
        int i = 0;
        int g = 0;
        for (Map.Entry<NetChanges.GroupKey, byte[]> e : groups.entrySet()) {
            if (e.getValue() == null) {
                goneIno[g] = e.getKey().ino();
                goneGroup[g++] = e.getKey().group();
            } else {
                putIno[i] = e.getKey().ino();
                putGroup[i] = e.getKey().group();
                putDigest[i++] = e.getValue();
            }
        }
        s.setObject(p++, putIno);
        s.setObject(p++, putGroup);
        s.setObject(p++, putDigest);
        if (removals) {
            s.setObject(p++, goneIno);
            s.setObject(p, goneGroup);
        }
    }

    private static int bindPairs(PreparedStatement s, int p, Map<Long, Long> pairs) throws SQLException {
        long[] keys = new long[pairs.size()];
        long[] values = new long[pairs.size()];
        int i = 0;
        for (Map.Entry<Long, Long> e : pairs.entrySet()) {
            keys[i] = e.getKey();
            values[i++] = e.getValue();
        }
        s.setObject(p++, keys);
        s.setObject(p++, values);
        return p;
    }

    private static int bindEntries(PreparedStatement s, int p, Map<NameKey, EntryValue> entries) throws SQLException {
        int removed = 0;
        for (EntryValue v : entries.values()) {
            if (v == null) {
                removed++;
            }
        }
        int put = entries.size() - removed;
        long[] gonePar = new long[removed];
        byte[][] goneName = new byte[removed][];
        long[] putPar = new long[put];
        byte[][] putName = new byte[put][];
        long[] putIno = new long[put];
        byte[][] putMac = new byte[put][];
        int g = 0;
        int i = 0;
        for (Map.Entry<NameKey, EntryValue> e : entries.entrySet()) {
            if (e.getValue() == null) {
                gonePar[g] = e.getKey().owner();
                goneName[g++] = e.getKey().nameBytes();
            } else {
                putPar[i] = e.getKey().owner();
                putName[i] = e.getKey().nameBytes();
                putMac[i] = e.getValue().mac();
                putIno[i++] = e.getValue().ino();
            }
        }
        s.setObject(p++, gonePar);
        s.setObject(p++, goneName);
        s.setObject(p++, putPar);
        s.setObject(p++, putName);
        s.setObject(p++, putIno);
        s.setObject(p++, putMac);
        return p;
    }

    private static int bindInodes(PreparedStatement s, int p, Map<Long, InodeRecord> inodes) throws SQLException {
        int n = inodes.size();
        long[] ino = new long[n];
        int[] mode = new int[n];
        long[] uid = new long[n];
        long[] gid = new long[n];
        int[] nlink = new int[n];
        long[] size = new long[n];
        long[] rdev = new long[n];
        long[] atime = new long[n];
        long[] mtime = new long[n];
        long[] ctime = new long[n];
        byte[][] auth = new byte[n][];
        int i = 0;
        for (InodeRecord r : inodes.values()) {
            ino[i] = r.ino();
            mode[i] = r.mode();
            uid[i] = Integer.toUnsignedLong(r.uid());
            gid[i] = Integer.toUnsignedLong(r.gid());
            nlink[i] = r.nlink();
            size[i] = r.size();
            rdev[i] = Integer.toUnsignedLong(r.rdev());
            atime[i] = r.atimeNs();
            mtime[i] = r.mtimeNs();
            auth[i] = r.auth();
            ctime[i++] = r.ctimeNs();
        }
        for (Object column : new Object[] {ino, mode, uid, gid, nlink, size, rdev, atime, mtime, ctime, auth}) {
            s.setObject(p++, column);
        }
        return p;
    }

    private static int bindXattrs(PreparedStatement s, int p, Map<NameKey, byte[]> xattrs) throws SQLException {
        int removed = 0;
        for (byte[] v : xattrs.values()) {
            if (v == null) {
                removed++;
            }
        }
        int put = xattrs.size() - removed;
        long[] putIno = new long[put];
        byte[][] putName = new byte[put][];
        byte[][] putValue = new byte[put][];
        long[] goneIno = new long[removed];
        byte[][] goneName = new byte[removed][];
        int i = 0;
        int g = 0;
        for (Map.Entry<NameKey, byte[]> e : xattrs.entrySet()) {
            if (e.getValue() == null) {
                goneIno[g] = e.getKey().owner();
                goneName[g++] = e.getKey().nameBytes();
            } else {
                putIno[i] = e.getKey().owner();
                putName[i] = e.getKey().nameBytes();
                putValue[i++] = e.getValue();
            }
        }
        s.setObject(p++, putIno);
        s.setObject(p++, putName);
        s.setObject(p++, putValue);
        s.setObject(p++, goneIno);
        s.setObject(p++, goneName);
        return p;
    }

    private static long[] longs(List<Long> values) {
        long[] result = new long[values.size()];
        for (int i = 0; i < result.length; i++) {
            result[i] = values.get(i);
        }
        return result;
    }
}
