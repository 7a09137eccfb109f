package dev.sqlitesuperfs.crypto;

import dev.sqlitesuperfs.store.ChangeSet;
import dev.sqlitesuperfs.store.CommitResult;
import dev.sqlitesuperfs.store.DirEntryRecord;
import dev.sqlitesuperfs.store.InodeRange;
import dev.sqlitesuperfs.store.InodeRecord;
import dev.sqlitesuperfs.store.NamespaceStore;
import dev.sqlitesuperfs.store.SealedBlock;
import dev.sqlitesuperfs.store.Usage;
import dev.sqlitesuperfs.store.XattrRecord;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The namespace's storage as the filesystem sees it: plaintext in and out. Payloads (blocks,
 * symlink targets, xattr values) are sealed here on the way down, in the calling thread, and
 * opened on the way up; a payload that does not open is logged once and surfaces as
 * {@link TamperedException}, never as bytes. Metadata rows pass through unchanged.
 */
public final class SealedStore {
    private static final Logger log = LoggerFactory.getLogger(SealedStore.class);

    private final NamespaceStore store;
    private final Sealer sealer;
    private final String namespace;

    public SealedStore(NamespaceStore store, Sealer sealer, String namespace) {
        this.store = store;
        this.sealer = sealer;
        this.namespace = namespace;
    }

    /** Receives opened blocks from {@link #readBlocks}. */
    @FunctionalInterface
    public interface BlockSink {
        /** {@code data} holds exactly the block's stored bytes and belongs to the receiver. */
        void accept(long idx, byte[] data);
    }

    public Optional<InodeRecord> inode(long ino) {
        return store.inode(ino);
    }

    public List<InodeRecord> inodes(long[] inos) {
        return store.inodes(inos);
    }

    public List<DirEntryRecord> entries(long dir) {
        return store.entries(dir);
    }

    public OptionalLong parentOf(long dir) {
        return store.parentOf(dir);
    }

    public byte[] symlinkTarget(long ino) {
        byte[] sealed = store.symlinkTarget(ino)
                .orElseThrow(() -> tampered("inode " + ino + ": symlink target missing"));
        try {
            return sealer.openSymlink(ino, sealed);
        } catch (IntegrityException e) {
            throw tampered("inode " + ino + ": symlink target failed authentication");
        }
    }

    /** Every extended attribute of {@code ino}, name to opened value, in storage order. */
    public Map<byte[], byte[]> xattrs(long ino) {
        Map<byte[], byte[]> result = new LinkedHashMap<>();
        for (XattrRecord x : store.xattrs(ino)) {
            try {
                result.put(x.name(), sealer.openXattr(ino, x.name(), x.sealedValue()));
            } catch (IntegrityException e) {
                throw tampered("inode " + ino + ": xattr " + printable(x.name()) + " failed authentication");
            }
        }
        return result;
    }

    /**
     * Opens the stored blocks of {@code ino} with {@code fromIdx <= idx < toIdx} and hands each to
     * {@code sink}, in index order; absent blocks (holes) are skipped. Fetched in one query.
     */
    public void readBlocks(long ino, long fromIdx, long toIdx, BlockSink sink) {
        for (SealedBlock b : store.blocks(ino, fromIdx, toIdx)) {
            int length = b.data().length - Sealer.OVERHEAD;
            if (length < 0) {
                throw tampered("inode " + ino + " block " + b.idx() + ": stored block too short");
            }
            byte[] plain = new byte[length];
            try {
                sealer.openBlock(ino, b.idx(), b.data(), plain, 0);
            } catch (IntegrityException e) {
                throw tampered("inode " + ino + " block " + b.idx() + " failed authentication");
            }
            sink.accept(b.idx(), plain);
        }
    }

    public OptionalLong nextStoredBlock(long ino, long fromIdx) {
        return store.nextStoredBlock(ino, fromIdx);
    }

    public long nextMissingBlock(long ino, long fromIdx) {
        return store.nextMissingBlock(ino, fromIdx);
    }

    public long[] orphans() {
        return store.orphans();
    }

    public Usage usage() {
        return store.usage();
    }

    public InodeRange allocateInodes() {
        return store.allocateInodes();
    }

    public Transaction transaction() {
        return new Transaction();
    }

    /** Commits every deferred transaction; see {@link NamespaceStore#flushDeferred()}. */
    public void flushDeferred() {
        store.flushDeferred();
    }

    /** See {@link NamespaceStore#oldestDeferred()}. */
    public long oldestDeferred() {
        return store.oldestDeferred();
    }

    private TamperedException tampered(String what) {
        String message = "namespace " + namespace + ": " + what + "; refusing to serve it";
        log.error(message);
        return new TamperedException(message);
    }

    private static String printable(byte[] name) {
        StringBuilder sb = new StringBuilder();
        for (byte b : name) {
            sb.append(b >= 0x20 && b < 0x7f ? String.valueOf((char) b) : String.format("\\x%02x", b & 0xff));
        }
        return sb.toString();
    }

    /**
     * Changes that reach PostgreSQL in one transaction, in the order added. Payloads are sealed
     * as they are added.
     */
    public final class Transaction {
        private final ChangeSet changes = new ChangeSet();

        private Transaction() {}

        public Transaction putInode(InodeRecord inode) {
            changes.putInode(inode);
            return this;
        }

        public Transaction deleteInode(long ino) {
            changes.deleteInode(ino);
            return this;
        }

        public Transaction putEntry(long parent, byte[] name, long ino) {
            changes.putEntry(parent, name, ino);
            return this;
        }

        public Transaction deleteEntry(long parent, byte[] name) {
            changes.deleteEntry(parent, name);
            return this;
        }

        /** @see ChangeSet#putBlocks for the meaning of {@code firstNewIdx} */
        public Transaction putBlocks(long ino, long firstNewIdx, List<PlainBlock> blocks) {
            List<SealedBlock> sealed = new ArrayList<>(blocks.size());
            for (PlainBlock b : blocks) {
                sealed.add(new SealedBlock(b.idx(), sealer.sealBlock(ino, b.idx(), b.data(), 0, b.length())));
            }
            changes.putBlocks(ino, firstNewIdx, sealed);
            return this;
        }

        public Transaction truncateBlocks(long ino, long fromIdx) {
            changes.truncateBlocks(ino, fromIdx);
            return this;
        }

        public Transaction putXattr(long ino, byte[] name, byte[] value) {
            changes.putXattr(ino, name, sealer.sealXattr(ino, name, value));
            return this;
        }

        public Transaction deleteXattr(long ino, byte[] name) {
            changes.deleteXattr(ino, name);
            return this;
        }

        public Transaction putSymlink(long ino, byte[] target) {
            changes.putSymlink(ino, sealer.sealSymlink(ino, target));
            return this;
        }

        public boolean isEmpty() {
            return changes.isEmpty();
        }

        /** Commits durably; see {@link NamespaceStore#commit}. */
        public CommitResult commit() {
            return changes.isEmpty() ? CommitResult.EMPTY : store.commit(changes);
        }

        /** Queues the changes for the next commit, in order; see {@link NamespaceStore#defer}. */
        public NamespaceStore.Deferred defer() {
            return store.defer(changes);
        }

        /** Defers only while {@code earlier} is still queued (else null); see {@link NamespaceStore#deferAfter}. */
        public NamespaceStore.Deferred deferAfter(NamespaceStore.Deferred earlier) {
            return store.deferAfter(earlier, changes);
        }
    }
}
