package dev.sqlitesuperfs.fs;

import dev.sqlitesuperfs.sealed.SealedStore;
import dev.sqlitesuperfs.store.InodeRecord;
import dev.sqlitesuperfs.sys.FileType;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;

/**
 * What a mount that follows its namespace's writer knows of SQLite's files: which database files
 * are in WAL mode (see {@link PosixLocks}), and which files of the state served are hot rollback
 * journals, which means a transaction of the writer is stored only in part. A SQLite reader that finds one must roll it back, which a read-only mount cannot, so no read
 * transaction may start in such a state ({@link PosixLocks}). A file is taken for a hot journal by
 * its content, whatever its name: the journal header's magic number at its start (a committed
 * journal is deleted, truncated to nothing, or has its header zeroed, by journal_mode DELETE,
 * TRUNCATE and PERSIST).
 */
final class SqliteFiles {
    /** The first 8 bytes of a rollback journal's header (SQLite's file format). */
    private static final byte[] MAGIC = {
        (byte) 0xd9, (byte) 0xd5, 0x05, (byte) 0xf9, 0x20, (byte) 0xa1, 0x63, (byte) 0xd7,
    };

    /** The bytes of a database's header that say whether it is in WAL mode. */
    static final int HEADER_BYTES = 20;

    private final Set<Long> hot = new HashSet<>();

    /** Looks again at the inodes that changed; returns whether any hot journal is left. */
    boolean updateHotJournals(SealedStore store, Set<Long> changed) {
        for (Long ino : changed) {
            if (isHot(store, ino)) {
                hot.add(ino);
            } else {
                hot.remove(ino);
            }
        }
        return !hot.isEmpty();
    }

    boolean anyHotJournal() {
        return !hot.isEmpty();
    }

    private static boolean isHot(SealedStore store, long ino) {
        Optional<InodeRecord> r = store.inode(ino);
        if (r.isEmpty() || (r.get().mode() & FileType.MASK) != FileType.REGULAR || r.get().size() < MAGIC.length) {
            return false;
        }
        byte[][] first = new byte[1][];
        store.readBlocks(ino, 0, 1, (idx, data) -> first[0] = data);
        return first[0] != null && first[0].length >= MAGIC.length
                && Arrays.equals(first[0], 0, MAGIC.length, MAGIC, 0, MAGIC.length);
    }

    /** Whether {@code header} (a file's first bytes) is a SQLite database's in WAL mode. */
    static boolean isWalDatabase(byte[] header, int length) {
        byte[] signature = "SQLite format 3\0".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        return length >= HEADER_BYTES && Arrays.equals(header, 0, signature.length, signature, 0, signature.length)
                && header[18] == 2 && header[19] == 2;
    }
}
