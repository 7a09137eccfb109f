package dev.sqlitesuperfs.sealed;

import dev.sqlitesuperfs.crypto.Sealer;
import dev.sqlitesuperfs.store.InodeRecord;
import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.Map;

/**
 * What this mount knows to be authentic about one inode: the digests its authenticator carries
 * (of its contents, blocks or entries, and of its extended attributes), and, once loaded, the tag
 * of each stored block and the term of each attribute, from which reads are checked and changes
 * update the digests without reading the rest. Changed only by a committed (or deferred)
 * transaction, under the filesystem's lock of the inode; loading is guarded by this object.
 */
final class InodeAuth {
    final long ino;
    final byte[] content;
    final byte[] xattrs;
    /** Tags of the stored blocks, or null until first needed. */
    BlockTags tags;
    /** Attribute name to its term, or null until the attributes are read. */
    Map<ByteBuffer, byte[]> xattrTerms;

    InodeAuth(long ino, byte[] content, byte[] xattrs) {
        this.ino = ino;
        this.content = content;
        this.xattrs = xattrs;
    }

    /** A new inode: nothing stored yet, so nothing to load. */
    static InodeAuth fresh(long ino) {
        InodeAuth a = new InodeAuth(ino, new byte[Sealer.DIGEST_BYTES], new byte[Sealer.DIGEST_BYTES]);
        a.tags = new BlockTags();
        a.xattrTerms = new HashMap<>();
        return a;
    }

    /** Where the digests sit in an authenticator's plaintext (see {@link #plaintext}). */
    static final int CONTENT_OFFSET = Sealer.INODE_AUTH_BYTES - 2 * Sealer.DIGEST_BYTES;
    static final int XATTRS_OFFSET = Sealer.INODE_AUTH_BYTES - Sealer.DIGEST_BYTES;

    /**
     * What an inode's authenticator seals: the row's attributes, then the digest of its contents
     * (blocks or entries) and the digest of its extended attributes.
     */
    static byte[] plaintext(InodeRecord r, byte[] content, byte[] xattrs) {
        return ByteBuffer.allocate(Sealer.INODE_AUTH_BYTES)
                .putInt(r.mode()).putInt(r.uid()).putInt(r.gid()).putInt(r.nlink()).putLong(r.size())
                .putInt(r.rdev()).putLong(r.atimeNs()).putLong(r.mtimeNs()).putLong(r.ctimeNs())
                .put(content).put(xattrs).array();
    }

    static boolean isZero(byte[] digest) {
        int any = 0;
        for (byte b : digest) {
            any |= b;
        }
        return any == 0;
    }

    static void xor(byte[] into, byte[] term) {
        for (int i = 0; i < into.length; i++) {
            into[i] ^= term[i];
        }
    }
}
