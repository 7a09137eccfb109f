package dev.sqlitesuperfs.testing;

import dev.sqlitesuperfs.crypto.Sealer;
import dev.sqlitesuperfs.crypto.SecretKey;
import dev.sqlitesuperfs.sealed.SealedStore;
import dev.sqlitesuperfs.store.InodeRecord;
import dev.sqlitesuperfs.store.MemoryNamespaceStore;
import dev.sqlitesuperfs.store.NamespaceMeta;
import java.util.UUID;

/**
 * A namespace in memory with a key: a {@link MemoryNamespaceStore} created with an authenticated
 * root (mode 0755, owned by root) and started for writing, and the {@link SealedStore} over it, as
 * a mount would have them. For unit tests of the sealed layer and the filesystem.
 */
public final class MemoryNamespace implements AutoCloseable {
    public static final String NAME = "memory";
    public static final int ROOT_MODE = 0040755;

    private final SecretKey key = SecretKey.random();
    private final UUID uuid;
    private final int blockSize;
    private final Sealer sealer;
    private final boolean sealNames;
    private MemoryNamespaceStore store;
    private SealedStore sealed;

    private MemoryNamespace(UUID uuid, int blockSize, boolean sealNames) {
        this.uuid = uuid;
        this.blockSize = blockSize;
        this.sealNames = sealNames;
        this.sealer = new Sealer(key, uuid, 1, blockSize);
        this.store = new MemoryNamespaceStore(NAME);
        long now = System.currentTimeMillis() * 1_000_000;
        InodeRecord root = new InodeRecord(1, ROOT_MODE, 0, 0, 2, 0, 0, 0, now, now, now);
        store.create(new NamespaceMeta(0, uuid, blockSize, "argon2id13", 2, 1 << 16, new byte[16], new byte[72], 0,
                null, sealNames),
                SealedStore.authenticatedRoot(sealer, root));
        store.startWriting();
        sealed = new SealedStore(store, sealer, NAME, sealNames);
    }

    public static MemoryNamespace create(int blockSize) {
        return new MemoryNamespace(UUID.randomUUID(), blockSize, false);
    }

    /** A namespace that stores its names and symlink targets sealed ({@code --seal-names}). */
    public static MemoryNamespace withSealedNames(int blockSize) {
        return new MemoryNamespace(UUID.randomUUID(), blockSize, true);
    }

    /** Another namespace with the same UUID but its own key (a payload copied over must still not open). */
    public static MemoryNamespace withUuid(UUID uuid, int blockSize) {
        return new MemoryNamespace(uuid, blockSize, false);
    }

    public MemoryNamespaceStore store() {
        return store;
    }

    public SealedStore sealed() {
        return sealed;
    }

    public Sealer sealer() {
        return sealer;
    }

    public UUID uuid() {
        return uuid;
    }

    public int blockSize() {
        return blockSize;
    }

    /**
     * Closes the store (storing what is queued) and opens the namespace again, as the next mount
     * would: a new store and a new sealed store, which know nothing but what is stored.
     */
    public void remount() {
        store.close();
        store = store.reopen();
        store.startWriting();
        sealed = new SealedStore(store, sealer, NAME, sealNames);
    }

    /** Like {@link #remount}, but the process died first: what was only queued is lost. */
    public void crashAndRemount() {
        store.crash();
        store = store.reopen();
        store.startWriting();
        sealed = new SealedStore(store, sealer, NAME, sealNames);
    }

    @Override
    public void close() {
        try {
            store.close();
        } finally {
            sealer.close();
            key.close();
        }
    }
}
