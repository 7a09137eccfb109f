package dev.sqlitesuperfs.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.crypto.Passphrase;
import dev.sqlitesuperfs.sealed.PlainBlock;
import dev.sqlitesuperfs.sealed.SealedNamespace;
import dev.sqlitesuperfs.sealed.SealedStore;
import dev.sqlitesuperfs.sealed.SealedTransaction;
import dev.sqlitesuperfs.store.InodeRecord;
import dev.sqlitesuperfs.store.NamespaceName;
import dev.sqlitesuperfs.store.NamespaceStore;
import dev.sqlitesuperfs.store.PgNamespaceStore;
import dev.sqlitesuperfs.testing.TestMount;
import dev.sqlitesuperfs.testing.TestPostgres;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@code fsck --verify} knows what stores of whole files leave: no block at or past the end, and
 * no block holding bytes past it (short blocks and holes are fine: they read as zeros). A file that
 * authenticates but breaks that could only come from a store that went wrong; such files are made
 * here by sealing them with the key, as a buggy mount would.
 */
class FsckLayoutTest {
    static final int BLOCK = 4096;

    @Test
    void filesNoWholeStoreCouldLeaveAreReported() throws IOException {
        try (TestMount mount = TestMount.fresh()) {
            Files.writeString(mount.path("fine"), "a file stored whole");
            mount.unmount();
            assertThat(mount.verify()).isEmpty();
            long torn;
            long past;
            try (NamespaceStore store = PgNamespaceStore.open(TestPostgres.config(),
                    NamespaceName.parse(mount.namespace()), false);
                 SealedNamespace opened = SealedNamespace.open(store, mount.namespace(),
                         SealedNamespace.Access.WRITABLE, 0,
                         chosenNow -> Passphrase.fromChars(TestMount.PASSPHRASE.toCharArray()))) {
                SealedStore sealed = opened.store();
                InodeRecord root = sealed.inode(1).orElseThrow();
                torn = store.allocateInodes().first();
                past = torn + 1;
                byte[] data = new byte[BLOCK];
                long now = root.mtimeNs();
                SealedTransaction tx = sealed.transaction();
                // a 100-byte file whose block holds a whole block: bytes past the end
                tx.putInode(new InodeRecord(torn, 0100644, 0, 0, 1, 100, 0, 0, now, now, now));
                tx.putBlocks(torn, 0, List.of(new PlainBlock(0, data, BLOCK)));
                tx.putEntry(1, "torn".getBytes(StandardCharsets.UTF_8), torn, 0);
                // a 100-byte file with a second block
                tx.putInode(new InodeRecord(past, 0100644, 0, 0, 1, 100, 0, 0, now, now, now));
                tx.putBlocks(past, 0, List.of(new PlainBlock(0, data, 100), new PlainBlock(1, data, BLOCK)));
                tx.putEntry(1, "past".getBytes(StandardCharsets.UTF_8), past, 0);
                tx.putInode(root);
                tx.commit();
            }
            List<String> problems = mount.verify();
            assertThat(problems).anySatisfy(p -> assertThat(p).contains("inode " + torn + " block 0 holds 4096 bytes"));
            assertThat(problems).anySatisfy(p -> assertThat(p).contains("inode " + past + " has block 1 stored past"));
        }
    }
}
