package dev.sqlitesuperfs.store;

import dev.sqlitesuperfs.testing.TestPostgres;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/** Records and namespaces for store tests. */
final class StoreFixtures {

    static final int BLOCK_SIZE = 4096;
    static final int DIR = 0040755;
    static final int FILE = 0100644;
    static final int SYMLINK = 0120777;

    private StoreFixtures() {}

    static NamespaceMeta meta() {
        return new NamespaceMeta(PgNamespaceStore.FORMAT_VERSION, UUID.randomUUID(), BLOCK_SIZE, "argon2id13", 3,
                64L << 20, new byte[] {1, 2, 3, 4}, new byte[] {9, 8, 7}, 0);
    }

    static InodeRecord dir(long ino, int nlink) {
        return new InodeRecord(ino, DIR, 1000, 1000, nlink, 4096, 0, 0, 1L, 2L, 3L);
    }

    static InodeRecord file(long ino, int nlink, long size) {
        return new InodeRecord(ino, FILE, 1000, 1000, nlink, size, 0, 0, 10L, 20L, 30L);
    }

    static InodeRecord symlink(long ino) {
        return new InodeRecord(ino, SYMLINK, 1000, 1000, 1, 7, 0, 0, 10L, 20L, 30L);
    }

    static byte[] name(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** A block whose bytes say which inode, index and version they are. */
    static SealedBlock block(long ino, long idx, int version) {
        return new SealedBlock(idx, ("block " + ino + "/" + idx + " v" + version).getBytes(StandardCharsets.UTF_8));
    }

    static List<SealedBlock> blocks(long ino, long from, long to, int version) {
        List<SealedBlock> list = new ArrayList<>();
        for (long idx = from; idx < to; idx++) {
            list.add(block(ino, idx, version));
        }
        return list;
    }

    /** A created namespace with a writing store open on it. */
    static PgNamespaceStore createdStore(DatabaseConfig config) {
        return createdStore(config, CommitSeals.NONE);
    }

    /** {@link #createdStore(DatabaseConfig)} whose commits {@code seals} seals and hears of. */
    static PgNamespaceStore createdStore(DatabaseConfig config, CommitSeals seals) {
        PgNamespaceStore store = PgNamespaceStore.open(config, NamespaceName.parse(TestPostgres.freshNamespace()), false);
        try {
            store.create(meta(), dir(1, 2));
            store.sealCommits(seals);
            store.startWriting();
            return store;
        } catch (RuntimeException e) {
            store.close();
            throw e;
        }
    }

    static PgNamespaceStore createdStore() {
        return createdStore(TestPostgres.config());
    }

    static long rowCount(NamespaceName namespace, String table, long ino) {
        Long count = TestPostgres.query("SELECT count(*) FROM " + namespace.quoted() + "." + table + " WHERE ino = ?", ino);
        return count;
    }
}
