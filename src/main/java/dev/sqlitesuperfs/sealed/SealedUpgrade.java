package dev.sqlitesuperfs.sealed;

import dev.sqlitesuperfs.crypto.IntegrityException;
import dev.sqlitesuperfs.crypto.Sealer;
import dev.sqlitesuperfs.store.CommitState;
import dev.sqlitesuperfs.store.InodeRecord;
import dev.sqlitesuperfs.store.NamespaceStore;
import dev.sqlitesuperfs.store.NamespaceStore.SealingUpgrade.BlockTag;
import dev.sqlitesuperfs.store.NamespaceStore.SealingUpgrade.EntryMac;
import dev.sqlitesuperfs.store.NamespaceStore.SealingUpgrade.EntryRow;
import dev.sqlitesuperfs.store.NamespaceStore.SealingUpgrade.GroupRow;
import dev.sqlitesuperfs.store.NamespaceStore.SealingUpgrade.Sealed;
import dev.sqlitesuperfs.store.NamespaceStore.SealingUpgrade.XattrRow;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
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
        int from = store.formatVersion();
        store.upgradeSealing(new NamespaceStore.SealingUpgrade() {
            @Override
            public Sealed seal(List<InodeRecord> inodes, List<BlockTag> tags, List<EntryRow> entries,
                               List<XattrRow> xattrs, CommitState commit) {
                Sealed sealed = from < 3 ? vouchForAll(sealer, inodes, tags, entries, xattrs)
                        : checkAndReseal(sealer, namespace, from, inodes, tags, entries, commit);
                progress.accept((from >= 3 ? "checked and sealed " : "sealed ") + sealed.auth().size()
                        + " inode authenticators, " + sealed.macs().size() + " entry MACs and "
                        + sealed.groups().size() + " block group digests");
                return sealed;
            }

            @Override
            public void progress(String step) {
                progress.accept(step);
            }
        });
    }

    /**
     * From an authenticated format (3 and later): the steps each format since {@code from} needs,
     * each vouching only for what it checked, and the last commit sealed again over the
     * authenticators that changed once the stored seal checked out.
     */
    private static Sealed checkAndReseal(Sealer sealer, String namespace, int from, List<InodeRecord> inodes,
            List<BlockTag> tags, List<EntryRow> entries, CommitState commit) {
        List<String> problems = new ArrayList<>();
        Map<Long, byte[]> auth = new HashMap<>();
        List<EntryMac> macs = List.of();
        if (from < 4) {
            Sealed directories = resealEntries(sealer, inodes, entries, problems);
            auth.putAll(directories.auth());
            macs = directories.macs();
        }
        List<GroupRow> groups = new ArrayList<>();
        if (from < 7) {
            groupLargeFiles(sealer, inodes, tags, auth, groups, problems);
        }
        byte[] commitSeal = null;
        if (commit.seal() != null && !auth.isEmpty()) {
            byte[] before = new byte[Sealer.DIGEST_BYTES];
            byte[] after = new byte[Sealer.DIGEST_BYTES];
            for (InodeRecord r : inodes) {
                byte[] stored = r.auth() == null ? new byte[0] : r.auth();
                sealer.addRootTerm(before, r.ino(), stored);
                sealer.addRootTerm(after, r.ino(), auth.getOrDefault(r.ino(), stored));
            }
            if (!sealer.commitSealMatches(commit.lastCommit(), before, commit.seal())) {
                problems.add("its inodes are not the ones its last commit (" + commit.lastCommit() + ") left");
            }
            commitSeal = sealer.commitSeal(commit.lastCommit(), after);
        }
        if (!problems.isEmpty()) {
            String message = "namespace " + namespace + " cannot be upgraded to the current format, it does not check out ("
                    + problems.size() + " problem(s); the first: " + problems.get(0) + "); nothing was changed";
            problems.forEach(p -> log.error("namespace {}: {}", namespace, p));
            throw new TamperedException(message);
        }
        return new Sealed(auth, macs, groups, commitSeal);
    }

    /**
     * Format 7: each file with blocks past its first group gets a digest per later group and a
     * content digest over those (see {@link BlockTags}), once its content digest as format 6
     * defined it (every block's term) checked out against its authenticator.
     */
    private static void groupLargeFiles(Sealer sealer, List<InodeRecord> inodes, List<BlockTag> tags,
            Map<Long, byte[]> auth, List<GroupRow> groups, List<String> problems) {
        Map<Long, byte[]> flat = new HashMap<>();
        Map<Long, byte[]> firstGroup = new HashMap<>();
        Map<Long, TreeMap<Long, byte[]>> later = new HashMap<>();
        for (BlockTag t : tags) {
            if (BlockTags.groupOf(t.idx()) > 0) {
                later.putIfAbsent(t.ino(), new TreeMap<>());
            }
        }
        if (later.isEmpty()) {
            return;
        }
        for (BlockTag t : tags) {
            if (!later.containsKey(t.ino())) {
                continue;
            }
            byte[] term = new byte[Sealer.DIGEST_BYTES];
            sealer.addBlockTerm(term, t.ino(), t.idx(), t.tag(), 0);
            InodeAuth.xor(digestOf(flat, t.ino()), term);
            long group = BlockTags.groupOf(t.idx());
            InodeAuth.xor(group == 0 ? digestOf(firstGroup, t.ino())
                    : digestOf(later.get(t.ino()), group), term);
        }
        for (InodeRecord r : inodes) {
            TreeMap<Long, byte[]> sums = later.get(r.ino());
            if (sums == null) {
                continue;
            }
            Digests sealed = digestsOf(sealer, r, "inode ", problems);
            if (sealed == null) {
                continue;
            }
            byte[] content = sealed.content();
            byte[] xattrs = sealed.xattrs();
            if (!Arrays.equals(content, flat.get(r.ino()))) {
                problems.add("inode " + r.ino() + ": its blocks are not the ones last stored");
                continue;
            }
            byte[] grouped = firstGroup.getOrDefault(r.ino(), new byte[Sealer.DIGEST_BYTES]).clone();
            for (Map.Entry<Long, byte[]> g : sums.entrySet()) {
                sealer.addGroupTerm(grouped, r.ino(), g.getKey(), g.getValue());
                groups.add(new GroupRow(r.ino(), g.getKey(), g.getValue()));
            }
            auth.put(r.ino(), sealer.sealInode(r.ino(), InodeAuth.plaintext(r, grouped, xattrs)));
        }
    }

    private static Sealed resealEntries(Sealer sealer, List<InodeRecord> inodes, List<EntryRow> entries,
            List<String> problems) {
        Map<Long, InodeRecord> directories = new HashMap<>();
        for (InodeRecord r : inodes) {
            if (r.isDirectory()) {
                directories.put(r.ino(), r);
            }
        }
        Map<Long, byte[]> oldSums = new HashMap<>();
        Map<Long, byte[]> newSums = new HashMap<>();
        List<EntryMac> macs = new ArrayList<>(entries.size());
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
            Digests sealed = digestsOf(sealer, r, "directory ", problems);
            if (sealed == null) {
                continue;
            }
            byte[] content = sealed.content();
            byte[] xattrs = sealed.xattrs();
            if (!Arrays.equals(content, oldSums.getOrDefault(r.ino(), new byte[Sealer.DIGEST_BYTES]))) {
                problems.add("directory " + r.ino() + ": its entries are not the ones last stored");
                continue;
            }
            byte[] fresh = newSums.getOrDefault(r.ino(), new byte[Sealer.DIGEST_BYTES]);
            auth.put(r.ino(), sealer.sealInode(r.ino(), InodeAuth.plaintext(r, fresh, xattrs)));
        }
        return new Sealed(auth, macs);
    }

    /** The two digests an inode's authenticator seals. */
    private record Digests(byte[] content, byte[] xattrs) {}

    /**
     * The digests {@code r}'s authenticator seals, once it opened and sealed the row as it is;
     * else null, with the problem added (named as {@code kind} and the inode number).
     */
    private static Digests digestsOf(Sealer sealer, InodeRecord r, String kind, List<String> problems) {
        byte[] plain;
        try {
            plain = sealer.openInode(r.ino(), r.auth());
        } catch (IntegrityException ex) {
            problems.add(kind + r.ino() + ": " + ex.getMessage());
            return null;
        }
        ByteBuffer b = ByteBuffer.wrap(plain);
        Digests d = new Digests(slice(b, InodeAuth.CONTENT_OFFSET), slice(b, InodeAuth.XATTRS_OFFSET));
        if (!Arrays.equals(plain, InodeAuth.plaintext(r, d.content(), d.xattrs()))) {
            problems.add(kind + r.ino() + ": its row does not match its authenticator");
            return null;
        }
        return d;
    }

    private static byte[] slice(ByteBuffer plain, int offset) {
        return Arrays.copyOfRange(plain.array(), offset, offset + Sealer.DIGEST_BYTES);
    }

    private static Sealed vouchForAll(Sealer sealer, List<InodeRecord> inodes, List<BlockTag> tags,
            List<EntryRow> entries, List<XattrRow> xattrs) {
        Map<Long, byte[]> content = new HashMap<>();
        Map<Long, byte[]> xattrDigest = new HashMap<>();
        Map<Long, TreeMap<Long, byte[]>> later = new HashMap<>();
        for (BlockTag t : tags) {
            long group = BlockTags.groupOf(t.idx());
            byte[] sum = group == 0 ? digestOf(content, t.ino())
                    : digestOf(later.computeIfAbsent(t.ino(), k -> new TreeMap<>()), group);
            sealer.addBlockTerm(sum, t.ino(), t.idx(), t.tag(), 0);
        }
        List<GroupRow> groups = new ArrayList<>();
        for (Map.Entry<Long, TreeMap<Long, byte[]>> file : later.entrySet()) {
            for (Map.Entry<Long, byte[]> g : file.getValue().entrySet()) {
                sealer.addGroupTerm(digestOf(content, file.getKey()), file.getKey(), g.getKey(), g.getValue());
                groups.add(new GroupRow(file.getKey(), g.getKey(), g.getValue()));
            }
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
        return new Sealed(auth, macs, groups, null);
    }

    private static byte[] digestOf(Map<Long, byte[]> digests, long key) {
        return digests.computeIfAbsent(key, k -> new byte[Sealer.DIGEST_BYTES]);
    }
}
