package dev.sqlitesuperfs.store;

import dev.sqlitesuperfs.store.NetChanges.BlockWrite;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyIn;

/**
 * Streams new block rows into the blocks table with COPY in PostgreSQL's binary format: for a
 * large write this spares the server a bind and execute per row and the client an array of every
 * block. Only for rows known not to exist (see {@link NetChanges#takeKnownNewBlocks()}).
 */
final class BlockCopy {
    private static final byte[] HEADER = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', (byte) 0xff, '\r', '\n', 0,
            0, 0, 0, 0, 0, 0, 0, 0};
    private static final byte[] TRAILER = {(byte) 0xff, (byte) 0xff};
    /** Field count (2 bytes), then length and value of ino and idx, then the length of data. */
    private static final int ROW_PREFIX = 2 + (4 + 8) * 2 + 4;
    private static final int BUFFER_BYTES = 256 * 1024;

    private BlockCopy() {}

    /**
     * Copies {@code blocks} inside the connection's open transaction, telling {@code pacer} of each
     * piece sent; returns the rows per inode.
     */
    static Map<Long, Long> copy(Connection connection, String copySql, Map<Long, TreeMap<Long, BlockWrite>> blocks,
                                BulkPacer pacer) throws SQLException {
        Map<Long, Long> counts = new LinkedHashMap<>();
        CopyIn copy = connection.unwrap(PGConnection.class).getCopyAPI().copyIn(copySql);
        try {
            byte[] buffer = new byte[BUFFER_BYTES];
            System.arraycopy(HEADER, 0, buffer, 0, HEADER.length);
            int used = HEADER.length;
            for (Map.Entry<Long, TreeMap<Long, BlockWrite>> perInode : blocks.entrySet()) {
                long ino = perInode.getKey();
                for (Map.Entry<Long, BlockWrite> b : perInode.getValue().entrySet()) {
                    byte[] data = b.getValue().data();
                    if (used + ROW_PREFIX > buffer.length) {
                        copy.writeToCopy(buffer, 0, used);
                        pacer.sent(used);
                        used = 0;
                    }
                    used = putShort(buffer, used, 3);
                    used = putInt(buffer, used, 8);
                    used = putLong(buffer, used, ino);
                    used = putInt(buffer, used, 8);
                    used = putLong(buffer, used, b.getKey());
                    used = putInt(buffer, used, data.length);
                    if (used + data.length > buffer.length) {
                        copy.writeToCopy(buffer, 0, used);
                        copy.writeToCopy(data, 0, data.length);
                        pacer.sent(used + data.length);
                        used = 0;
                    } else {
                        System.arraycopy(data, 0, buffer, used, data.length);
                        used += data.length;
                    }
                }
                counts.put(ino, (long) perInode.getValue().size());
            }
            if (used + TRAILER.length > buffer.length) {
                copy.writeToCopy(buffer, 0, used);
                pacer.sent(used);
                used = 0;
            }
            System.arraycopy(TRAILER, 0, buffer, used, TRAILER.length);
            used += TRAILER.length;
            copy.writeToCopy(buffer, 0, used);
            copy.endCopy();
        } finally {
            if (copy.isActive()) {
                copy.cancelCopy();
            }
        }
        return counts;
    }

    private static int putShort(byte[] b, int at, int v) {
        b[at] = (byte) (v >>> 8);
        b[at + 1] = (byte) v;
        return at + 2;
    }

    private static int putInt(byte[] b, int at, int v) {
        for (int i = 3; i >= 0; i--) {
            b[at + 3 - i] = (byte) (v >>> (i * 8));
        }
        return at + 4;
    }

    private static int putLong(byte[] b, int at, long v) {
        for (int i = 7; i >= 0; i--) {
            b[at + 7 - i] = (byte) (v >>> (i * 8));
        }
        return at + 8;
    }
}
