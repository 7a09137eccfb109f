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
 * {@code fsck --verify} knows what a store of a whole file leaves: no block at or past the end,
 * every block but the last one whole, the last as long as the size says (holes are fine). A file
 * that authenticates but breaks that could only come from a store that kept part of a file: the
 * mount never commits one (QuotaTest, PostgresOutageTest), and fsck would find one if it did.
 * Such files are made here by sealing them with the key, as a buggy mount would.
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
                // two blocks of an 8 KiB file, the first cut short: the shape a partial store leaves
                tx.putInode(new InodeRecord(torn, 0100644, 0, 0, 1, 2 * BLOCK, 0, 0, now, now, now));
                tx.putBlocks(torn, 0, List.of(new PlainBlock(0, data, 100), new PlainBlock(1, data, BLOCK)));
                tx.putEntry(1, "torn".getBytes(StandardCharsets.UTF_8), torn, 0);
                // a 100-byte file with a second block
                tx.putInode(new InodeRecord(past, 0100644, 0, 0, 1, 100, 0, 0, now, now, now));
                tx.putBlocks(past, 0, List.of(new PlainBlock(0, data, 100), new PlainBlock(1, data, BLOCK)));
                tx.putEntry(1, "past".getBytes(StandardCharsets.UTF_8), past, 0);
                tx.putInode(root);
                tx.commit();
            }
            List<String> problems = mount.verify();
            assertThat(problems).anySatisfy(p -> assertThat(p).contains("inode " + torn + " block 0 holds 100 bytes"));
            assertThat(problems).anySatisfy(p -> assertThat(p).contains("inode " + past + " has block 1 stored past"));
        }
    }
}
