package dev.sqlitesuperfs.sealed;

import dev.sqlitesuperfs.crypto.IntegrityException;
import dev.sqlitesuperfs.crypto.Sealer;
import dev.sqlitesuperfs.store.InodeRecord;
import dev.sqlitesuperfs.store.NamespaceStore;
import dev.sqlitesuperfs.store.NamespaceStore.SealingUpgrade.BlockTag;
import dev.sqlitesuperfs.store.NamespaceStore.SealingUpgrade.EntryMac;
import dev.sqlitesuperfs.store.NamespaceStore.SealingUpgrade.EntryRow;
import dev.sqlitesuperfs.store.NamespaceStore.SealingUpgrade.Sealed;
import dev.sqlitesuperfs.store.NamespaceStore.SealingUpgrade.XattrRow;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The keyed format upgrades: what only the key holder can compute when a namespace of an older
 * format is brought to the current one. The store reads every row and writes what this returns,
 * in one transaction with the format change ({@link NamespaceStore#upgradeSealing}).
 */
final class SealedUpgrade {
    private static final Logger log = LoggerFactory.getLogger(SealedUpgrade.class);

    private SealedUpgrade() {}

    /**
     * Brings a namespace of an older format to the current one, in one transaction with the format
     * change. From format 3 (authenticated, but with entry MACs that were also digest terms) it
     * vouches only for what it checked: every directory's authenticator, entries and MACs under
     * format 3's rules; anything that does not add up refuses the upgrade and changes nothing. It
     * then gives each entry its format 4 MAC and each directory an authenticator over format 4
     * terms. From formats 1 and 2 (nothing authenticated) it seals an authenticator for every inode
     * from its stored rows as they are now: whoever asks for that vouches for the database's current
     * contents, so it never happens on its own.
     *
     * @throws TamperedException if a format 3 namespace does not check out (nothing is changed)
     */
    static void run(NamespaceStore store, Sealer sealer, String namespace, Consumer<String> progress) {
        boolean checked = store.formatVersion() >= 3;
        store.upgradeSealing(new NamespaceStore.SealingUpgrade() {
            @Override
            public Sealed seal(List<InodeRecord> inodes, List<BlockTag> tags, List<EntryRow> entries,
                               List<XattrRow> xattrs) {
                Sealed sealed = checked ? resealEntries(sealer, namespace, inodes, entries)
                        : vouchForAll(sealer, inodes, tags, entries, xattrs);
                progress.accept((checked ? "checked and sealed " : "sealed ") + sealed.auth().size()
                        + " inode authenticators and " + sealed.macs().size() + " entry MACs");
                return sealed;
            }

            @Override
            public void progress(String step) {
                progress.accept(step);
            }
        });
    }

    private static Sealed resealEntries(Sealer sealer, String namespace, List<InodeRecord> inodes,
            List<EntryRow> entries) {
        Map<Long, InodeRecord> directories = new HashMap<>();
        for (InodeRecord r : inodes) {
            if (r.isDirectory()) {
                directories.put(r.ino(), r);
            }
        }
        Map<Long, byte[]> oldSums = new HashMap<>();
        Map<Long, byte[]> newSums = new HashMap<>();
        List<EntryMac> macs = new ArrayList<>(entries.size());
        List<String> problems = new ArrayList<>();
        for (EntryRow e : entries) {
            byte[] oldTerm = sealer.format3EntryTerm(e.parent(), e.name(), e.ino());
            if (!directories.containsKey(e.parent())) {
                problems.add("the entry '" + SealedStore.printable(e.name()) + "' is in " + e.parent()
                        + ", which is no directory");
            } else if (e.mac() == null || !Arrays.equals(oldTerm, e.mac())) {
                problems.add("directory " + e.parent() + ": the entry '" + SealedStore.printable(e.name())
                        + "' is not authentic");
            }
            InodeAuth.xor(digestOf(oldSums, e.parent()), oldTerm);
            InodeAuth.xor(digestOf(newSums, e.parent()), sealer.entryTerm(e.parent(), e.name(), e.ino()));
            macs.add(new EntryMac(e.parent(), e.name(), sealer.entryMac(e.parent(), e.name(), e.ino())));
        }
        Map<Long, byte[]> auth = new HashMap<>();
        for (InodeRecord r : directories.values()) {
            byte[] plain;
            try {
                plain = sealer.openInode(r.ino(), r.auth());
            } catch (IntegrityException ex) {
                problems.add("directory " + r.ino() + ": " + ex.getMessage());
                continue;
            }
            ByteBuffer b = ByteBuffer.wrap(plain);
            byte[] content = slice(b, InodeAuth.CONTENT_OFFSET);
            byte[] xattrs = slice(b, InodeAuth.XATTRS_OFFSET);
            if (!Arrays.equals(plain, InodeAuth.plaintext(r, content, xattrs))) {
                problems.add("directory " + r.ino() + ": its row does not match its authenticator");
                continue;
            }
            if (!Arrays.equals(content, oldSums.getOrDefault(r.ino(), new byte[Sealer.DIGEST_BYTES]))) {
                problems.add("directory " + r.ino() + ": its entries are not the ones last stored");
                continue;
            }
            byte[] fresh = newSums.getOrDefault(r.ino(), new byte[Sealer.DIGEST_BYTES]);
            auth.put(r.ino(), sealer.sealInode(r.ino(), InodeAuth.plaintext(r, fresh, xattrs)));
        }
        if (!problems.isEmpty()) {
            String message = "namespace " + namespace + " cannot be upgraded to the current format, it does not check out ("
                    + problems.size() + " problem(s); the first: " + problems.get(0) + "); nothing was changed";
            problems.forEach(p -> log.error("namespace {}: {}", namespace, p));
            throw new TamperedException(message);
        }
        return new Sealed(auth, macs);
    }

    private static byte[] slice(ByteBuffer plain, int offset) {
        return Arrays.copyOfRange(plain.array(), offset, offset + Sealer.DIGEST_BYTES);
    }

    private static Sealed vouchForAll(Sealer sealer, List<InodeRecord> inodes, List<BlockTag> tags,
            List<EntryRow> entries, List<XattrRow> xattrs) {
        Map<Long, byte[]> content = new HashMap<>();
        Map<Long, byte[]> xattrDigest = new HashMap<>();
        for (BlockTag t : tags) {
            sealer.addBlockTerm(digestOf(content, t.ino()), t.ino(), t.idx(), t.tag(), 0);
        }
        List<EntryMac> macs = new ArrayList<>(entries.size());
        for (EntryRow e : entries) {
            InodeAuth.xor(digestOf(content, e.parent()), sealer.entryTerm(e.parent(), e.name(), e.ino()));
            macs.add(new EntryMac(e.parent(), e.name(), sealer.entryMac(e.parent(), e.name(), e.ino())));
        }
        for (XattrRow x : xattrs) {
            byte[] value;
            try {
                value = sealer.openXattr(x.ino(), x.name(), x.sealedValue());
            } catch (IntegrityException ex) {
                throw new TamperedException("inode " + x.ino() + ": xattr " + SealedStore.printable(x.name())
                        + " failed authentication; the namespace cannot be vouched for as it is");
            }
            sealer.addXattrTerm(digestOf(xattrDigest, x.ino()), x.ino(), x.name(), value);
        }
        Map<Long, byte[]> auth = new HashMap<>();
        for (InodeRecord r : inodes) {
            byte[] c = content.getOrDefault(r.ino(), new byte[Sealer.DIGEST_BYTES]);
            byte[] x = xattrDigest.getOrDefault(r.ino(), new byte[Sealer.DIGEST_BYTES]);
            auth.put(r.ino(), sealer.sealInode(r.ino(), InodeAuth.plaintext(r, c, x)));
        }
        return new Sealed(auth, macs);
    }

    private static byte[] digestOf(Map<Long, byte[]> digests, long ino) {
        return digests.computeIfAbsent(ino, k -> new byte[Sealer.DIGEST_BYTES]);
    }
}
