package dev.sqlitesuperfs.sealed;

import dev.sqlitesuperfs.crypto.Passphrase;
import dev.sqlitesuperfs.crypto.Sealer;
import dev.sqlitesuperfs.store.NamespaceStore;

/** A namespace's sealer for tests that write what only the key holder could (older formats). */
public final class TestKeys implements AutoCloseable {
    private final SealedNamespace opened;

    private TestKeys(SealedNamespace opened) {
        this.opened = opened;
    }

    /**
     * Opens the data key of the namespace {@code store} holds, with {@code passphrase}, writing
     * nothing: the namespace must be of the current format.
     */
    public static TestKeys open(NamespaceStore store, String passphrase, String namespace) {
        return new TestKeys(SealedNamespace.open(store, namespace, SealedNamespace.Access.READ_ONLY, 0,
                chosenNow -> Passphrase.fromChars(passphrase.toCharArray())));
    }

    public Sealer sealer() {
        return opened.sealer();
    }

    @Override
    public void close() {
        opened.close();
    }
}
