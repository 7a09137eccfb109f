package dev.sqlitesuperfs.cli;

import dev.sqlitesuperfs.crypto.Passphrase;
import dev.sqlitesuperfs.crypto.Sealer;
import dev.sqlitesuperfs.crypto.SecretKey;
import dev.sqlitesuperfs.store.NamespaceMeta;
import dev.sqlitesuperfs.store.NamespaceStore;

/** A namespace's sealer for tests that write what only the key holder could (older formats). */
public final class TestKeys implements AutoCloseable {
    private final SecretKey key;
    private final Sealer sealer;

    private TestKeys(SecretKey key, Sealer sealer) {
        this.key = key;
        this.sealer = sealer;
    }

    /** Opens the data key of the namespace {@code store} holds, with {@code passphrase}. */
    public static TestKeys open(NamespaceStore store, String passphrase, String namespace) {
        NamespaceMeta meta = store.meta().orElseThrow();
        try (Passphrase p = Passphrase.fromChars(passphrase.toCharArray())) {
            SecretKey key = NamespaceKey.open(store, meta, p, false, namespace);
            return new TestKeys(key, new Sealer(key, meta.uuid(), NamespaceKey.SEALING_FORMAT, meta.blockSize()));
        }
    }

    public Sealer sealer() {
        return sealer;
    }

    @Override
    public void close() {
        sealer.close();
        key.close();
    }
}
