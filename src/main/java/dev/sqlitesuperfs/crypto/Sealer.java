package dev.sqlitesuperfs.crypto;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Seals and opens every payload of one namespace: XChaCha20-Poly1305-IETF, a fresh random 24-byte
 * nonce per seal, sealed form = {@code nonce (24) || ciphertext (n) || tag (16)}, so
 * {@value #OVERHEAD} bytes more than the plaintext.
 *
 * <h2>Associated data, format version 1</h2>
 * Never stored, rebuilt from where the payload is read. Integers are big-endian; lengths in bytes.
 * <pre>
 * offset size  field
 *  0      8    domain tag, ASCII: "ssfs/blk" block, "ssfs/sym" symlink target, "ssfs/xat" xattr value
 *  8     16    namespace UUID: its most significant 64 bits, then its least significant 64 bits
 * 24      4    sealing format version (int32): 1 for namespaces of schema formats 1 and 2; the
 *              schema version can change without changing how payloads are sealed
 * 28      8    inode number (int64)
 * then, by kind:
 *   block    36  8  block index (int64)                                       total 44
 *   symlink  -                                                                total 36
 *   xattr    36  4  name length n (uint32), 40 n name bytes (as stored)       total 40 + n
 * </pre>
 * (The sealed names below use the tag "ssfs/nam" and the directory's inode number as position,
 * total 36.)
 * The tag fixes which fields follow, and the only variable-length field is length-prefixed, so no
 * two (kind, namespace, version, inode, index or name) tuples encode to the same bytes. A payload
 * copied to another block, inode, attribute name, namespace or kind therefore fails to open, as
 * does one sealed under another key. What this does not catch is replay of an older payload at its
 * own place (rolling a block back); that needs state outside the payload, which is what digests
 * are for.
 *
 * <h2>Inode authenticators and digests (schema formats 3 and 4)</h2>
 * An inode's authenticator is sealed like the payloads above with the domain tag "ssfs/ino" and
 * the inode number as position (36 bytes of associated data). Its plaintext, 116 bytes:
 * {@code mode, uid, gid, nlink (int32 each), size (int64), rdev (int32), atime, mtime, ctime
 * (int64 ns each), content digest (32), xattr digest (32)}.
 *
 * <p>A digest is the XOR of one 32-byte term per member: keyed BLAKE2b-256 under the digest key,
 * which is BLAKE2b-256 of {@code "ssfs/dky" || namespace UUID} keyed with the data key. Terms:
 * <pre>
 * block of a file      "ssfs/tb1" || ino (int64) || index (int64) || Poly1305 tag of the sealed block (16)
 * entry of a directory "ssfs/te2" || directory (int64) || inode (int64) || name bytes
 * extended attribute   "ssfs/tx1" || ino (int64) || name length (int32) || name || value
 * </pre>
 * and each entry stores a MAC of its own, the same function with the label "ssfs/me2".
 * A file's content digest covers its stored blocks, a directory's its entries; every inode's xattr
 * digest covers its attributes. Since the authenticator cannot be forged, a block replaced by an
 * older version of itself (another tag), a block deleted or added, an entry pointed elsewhere,
 * removed or added, or an attribute rolled back all stop adding up. The entry MAC lets a single
 * entry be checked without its directory. XOR lets a change update a digest from the terms it
 * removes and adds, without reading the rest.
 *
 * <p>No term is ever stored. An XOR of values the attacker knows can be matched: given a few
 * hundred terms of entries a directory once had (as anyone who keeps old rows has), linear algebra
 * over GF(2) finds a subset whose XOR is any 256-bit value, so a forged set of entries could be
 * made to add up to the directory's digest. Format 3 stored each entry's term as its MAC and was
 * open to exactly that; format 4 keys terms and MACs apart, and a block's term, the only other
 * term computed from something stored (the tag), is likewise never stored.
 *
 * <h2>Sealed names (namespaces created with sealed names)</h2>
 * A name in directory {@code dir} is stored as {@code nonce (24) || ciphertext || tag (16)}, the
 * name padded with zero bytes to a multiple of {@value #NAME_BUCKET} (at least one bucket; a name
 * never holds a zero byte), sealed like a payload with associated data "ssfs/nam" and {@code dir}.
 * The nonce is not random: it is the first 24 bytes of the keyed BLAKE2b-256 (digest key) of
 * {@code "ssfs/nn1" || dir (int64) || name}, a synthetic IV, so one name in one directory always
 * seals to the same bytes and the store can index, find and replace it without the key, while two
 * different names or directories never share a nonce. Opening checks the tag, then that the nonce
 * is the one the name and directory give, so each name has exactly one stored form. Extended
 * attribute names are sealed the same way with the inode as position, the domain tag "ssfs/xnm"
 * and the nonce label "ssfs/nx1".
 *
 * <p>Thread-safe. Each thread has native scratch buffers, allocated once and reused by every sealer
 * it uses ({@link SealerScratch}), so a seal or open costs two copies and the libsodium call, with
 * no arena or native allocation per call, and a host's request threads need one scratch each
 * however many namespaces they serve.
 */
public final class Sealer implements AutoCloseable {

    public static final int OVERHEAD = Sodium.NONCE_BYTES + Sodium.TAG_BYTES;
    /** Bytes of a digest, of each term XORed into one, and of an entry MAC. */
    public static final int DIGEST_BYTES = 32;
    /** Bytes of the tag that ends every sealed payload. */
    public static final int TAG_BYTES = Sodium.TAG_BYTES;
    /** Bytes of an inode authenticator's plaintext. */
    public static final int INODE_AUTH_BYTES = 5 * 4 + 4 * 8 + 2 * DIGEST_BYTES;

    private static final byte[] DIGEST_KEY_LABEL = "ssfs/dky".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    private static final long BLOCK_TERM_LABEL = label("ssfs/tb1");
    private static final long GROUP_TERM_LABEL = label("ssfs/tg1");
    private static final long FORMAT3_ENTRY_TERM_LABEL = label("ssfs/te1");
    private static final long ENTRY_TERM_LABEL = label("ssfs/te2");
    private static final long ENTRY_MAC_LABEL = label("ssfs/me2");
    private static final long XATTR_TERM_LABEL = label("ssfs/tx1");
    private static final long COMMIT_SEAL_LABEL = label("ssfs/cs1");
    private static final long ANCHOR_ID_LABEL = label("ssfs/ai1");
    private static final long ROOT_TERM_LABEL = label("ssfs/ri1");
    private static final long NAME_NONCE_LABEL = label("ssfs/nn1");
    private static final long XATTR_NAME_NONCE_LABEL = label("ssfs/nx1");
    /** Sealed names and symlink targets are padded to a multiple of this many bytes. */
    public static final int NAME_BUCKET = 32;
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(java.nio.ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.BIG_ENDIAN);

    private static final int MIN_BLOCK_SIZE = 4096;
    private static final int MAX_BLOCK_SIZE = 1 << 20;

    private final SecretKey key;
    /** Keys the digest terms; derived from the data key so that the data key keys one primitive only. */
    private final SecretKey digestKey;
    private final UUID namespace;
    private final int formatVersion;
    private final int blockSize;
    /** Each thread's working memory, shared by every sealer the thread uses (see {@link SealerScratch}). */
    private static final ThreadLocal<SealerScratch> SCRATCH = ThreadLocal.withInitial(() -> new SealerScratch(MIN_BLOCK_SIZE));
    private final AtomicBoolean closed = new AtomicBoolean();

    /**
     * @param dataKey       the namespace's data key; the caller keeps owning it and closes it after
     *                      this sealer
     * @param namespace     the namespace's UUID
     * @param formatVersion the namespace's format version, at least 1
     * @param blockSize     a power of two from 4 KiB to 1 MiB
     */
    public Sealer(SecretKey dataKey, UUID namespace, int formatVersion, int blockSize) {
        this.key = Objects.requireNonNull(dataKey, "dataKey");
        this.namespace = Objects.requireNonNull(namespace, "namespace");
        dataKey.segment(); // a closed key fails here rather than at the first seal
        if (formatVersion < 1) {
            throw new IllegalArgumentException("format version must be at least 1, not " + formatVersion);
        }
        if (blockSize < MIN_BLOCK_SIZE || blockSize > MAX_BLOCK_SIZE || Integer.bitCount(blockSize) != 1) {
            throw new IllegalArgumentException(
                    "block size must be a power of two from 4096 to 1048576, not " + blockSize);
        }
        this.formatVersion = formatVersion;
        this.blockSize = blockSize;
        this.digestKey = SecretKey.allocate();
        try (Arena confined = Arena.ofConfined()) {
            MemorySegment input = confined.allocate(DIGEST_KEY_LABEL.length + 16);
            MemorySegment.copy(DIGEST_KEY_LABEL, 0, input, ValueLayout.JAVA_BYTE, 0, DIGEST_KEY_LABEL.length);
            input.set(LONG, DIGEST_KEY_LABEL.length, namespace.getMostSignificantBits());
            input.set(LONG, DIGEST_KEY_LABEL.length + 8, namespace.getLeastSignificantBits());
            Sodium.genericHash(digestKey.segment(), input, input.byteSize(), dataKey.segment());
        } catch (RuntimeException e) {
            digestKey.close();
            throw e;
        }
    }

    private static long label(String eightAscii) {
        byte[] b = eightAscii.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        if (b.length != 8) {
            throw new IllegalArgumentException("a term label has 8 bytes");
        }
        return java.nio.ByteBuffer.wrap(b).getLong();
    }

    /**
     * XORs into {@code digest} the term of block {@code idx} of inode {@code ino} whose sealed bytes
     * carry the tag at {@code tag[tagOffset..tagOffset+16)}.
     */
    public void addBlockTerm(byte[] digest, long ino, long idx, byte[] tag, int tagOffset) {
        SealerScratch scratch = scratch();
        MemorySegment in = scratch.termInput(24 + TAG_BYTES);
        in.set(LONG, 0, BLOCK_TERM_LABEL);
        in.set(LONG, 8, ino);
        in.set(LONG, 16, idx);
        MemorySegment.copy(tag, tagOffset, in, ValueLayout.JAVA_BYTE, 24, TAG_BYTES);
        xorTerm(scratch, in, 24 + TAG_BYTES, digest);
    }

    /**
     * XORs into {@code digest} the term of group {@code group} of inode {@code ino} whose block
     * terms sum to {@code groupDigest}: what a large file's content digest holds for each of its
     * groups of blocks but the first (a hash tree of depth two).
     */
    public void addGroupTerm(byte[] digest, long ino, long group, byte[] groupDigest) {
        SealerScratch scratch = scratch();
        MemorySegment in = scratch.termInput(24 + DIGEST_BYTES);
        in.set(LONG, 0, GROUP_TERM_LABEL);
        in.set(LONG, 8, ino);
        in.set(LONG, 16, group);
        MemorySegment.copy(groupDigest, 0, in, ValueLayout.JAVA_BYTE, 24, DIGEST_BYTES);
        xorTerm(scratch, in, 24 + DIGEST_BYTES, digest);
    }

    /**
     * The term of the entry {@code name} in directory {@code parent} naming {@code ino}, XORed into
     * the directory's digest. Never stored: that the database sees no term is what keeps anyone
     * from composing another set of entries with the same digest (see the class documentation).
     */
    public byte[] entryTerm(long parent, byte[] name, long ino) {
        return entryFunction(ENTRY_TERM_LABEL, parent, name, ino);
    }

    /** The MAC stored with the entry {@code name} in directory {@code parent} naming {@code ino}. */
    public byte[] entryMac(long parent, byte[] name, long ino) {
        return entryFunction(ENTRY_MAC_LABEL, parent, name, ino);
    }

    /**
     * The entry term of format 3, which was also stored as the entry's MAC. Only for checking a
     * namespace of format 3 before it is upgraded.
     */
    public byte[] format3EntryTerm(long parent, byte[] name, long ino) {
        return entryFunction(FORMAT3_ENTRY_TERM_LABEL, parent, name, ino);
    }

    private byte[] entryFunction(long label, long parent, byte[] name, long ino) {
        SealerScratch scratch = scratch();
        MemorySegment in = scratch.termInput(24L + name.length);
        in.set(LONG, 0, label);
        in.set(LONG, 8, parent);
        in.set(LONG, 16, ino);
        MemorySegment.copy(name, 0, in, ValueLayout.JAVA_BYTE, 24, name.length);
        byte[] term = new byte[DIGEST_BYTES];
        xorTerm(scratch, in, 24L + name.length, term);
        return term;
    }

    /** XORs into {@code digest} the term of extended attribute {@code name} = {@code value} of {@code ino}. */
    public void addXattrTerm(byte[] digest, long ino, byte[] name, byte[] value) {
        SealerScratch scratch = scratch();
        long length = 20L + name.length + value.length;
        MemorySegment in = scratch.termInput(length);
        in.set(LONG, 0, XATTR_TERM_LABEL);
        in.set(LONG, 8, ino);
        in.set(INT, 16, name.length);
        MemorySegment.copy(name, 0, in, ValueLayout.JAVA_BYTE, 20, name.length);
        MemorySegment.copy(value, 0, in, ValueLayout.JAVA_BYTE, 20L + name.length, value.length);
        xorTerm(scratch, in, length, digest);
    }

    private void xorTerm(SealerScratch scratch, MemorySegment input, long length, byte[] digest) {
        Sodium.genericHash(scratch.term, input, length, digestKey.segment());
        for (int i = 0; i < DIGEST_BYTES; i++) {
            digest[i] ^= scratch.term.get(ValueLayout.JAVA_BYTE, i);
        }
    }

    /**
     * The seal stored with commit number {@code number} of this namespace, whose inodes then add
     * up to {@code root} (see {@link #addRootTerm}): a keyed hash that only the key holder can
     * make, so that nobody can pair a commit number with a set of inodes it never had.
     */
    public byte[] commitSeal(long number, byte[] root) {
        SealerScratch scratch = scratch();
        MemorySegment in = scratch.termInput(16 + DIGEST_BYTES);
        in.set(LONG, 0, COMMIT_SEAL_LABEL);
        in.set(LONG, 8, number);
        MemorySegment.copy(root, 0, in, ValueLayout.JAVA_BYTE, 16, DIGEST_BYTES);
        byte[] seal = new byte[DIGEST_BYTES];
        xorTerm(scratch, in, 16 + DIGEST_BYTES, seal);
        return seal;
    }

    /** Whether {@code seal} is the seal of commit {@code number} over {@code root}, compared in constant time. */
    public boolean commitSealMatches(long number, byte[] root, byte[] seal) {
        return seal != null && java.security.MessageDigest.isEqual(commitSeal(number, root), seal);
    }

    /**
     * XORs into {@code digest} the term of inode {@code ino} stored with authenticator {@code auth}:
     * the namespace's root digest is the XOR of every inode's term. Terms are keyed and never
     * stored (as entry terms), so nobody outside the mount can make a set of inodes add up.
     */
    public void addRootTerm(byte[] digest, long ino, byte[] auth) {
        SealerScratch scratch = scratch();
        long length = 16L + auth.length;
        MemorySegment in = scratch.termInput(length);
        in.set(LONG, 0, ROOT_TERM_LABEL);
        in.set(LONG, 8, ino);
        MemorySegment.copy(auth, 0, in, ValueLayout.JAVA_BYTE, 16, auth.length);
        xorTerm(scratch, in, length, digest);
    }

    /**
     * This namespace's name for its freshness anchor (32 hex digits): derived from the key, so
     * that it stays with the namespace wherever its rows are copied and reveals nothing of it.
     */
    public String anchorId() {
        SealerScratch scratch = scratch();
        MemorySegment in = scratch.termInput(8);
        in.set(LONG, 0, ANCHOR_ID_LABEL);
        byte[] id = new byte[DIGEST_BYTES];
        xorTerm(scratch, in, 8, id);
        return java.util.HexFormat.of().formatHex(id, 0, 16);
    }

    /** Seals the authenticator plaintext ({@value #INODE_AUTH_BYTES} bytes) of inode {@code ino}. */
    public byte[] sealInode(long ino, byte[] plain) {
        SealerScratch scratch = scratch();
        int adLength = AssociatedData.writeInodePosition(scratch.inodeAd, ino);
        return seal(scratch, plain, 0, plain.length, scratch.inodeAd, adLength);
    }

    /** @throws IntegrityException if the authenticator fails authentication or is malformed */
    public byte[] openInode(long ino, byte[] sealed) throws IntegrityException {
        if (sealed == null || sealed.length != INODE_AUTH_BYTES + OVERHEAD) {
            throw new IntegrityException("the authenticator of inode " + ino + " is "
                    + (sealed == null ? "missing" : "malformed (" + sealed.length + " bytes)"));
        }
        SealerScratch scratch = scratch();
        int adLength = AssociatedData.writeInodePosition(scratch.inodeAd, ino);
        if (!open(scratch, sealed, scratch.inodeAd, adLength)) {
            throw new IntegrityException("the authenticator of inode " + ino + " failed authentication");
        }
        return scratch.plain().asSlice(0, INODE_AUTH_BYTES).toArray(ValueLayout.JAVA_BYTE);
    }

    public int blockSize() {
        return blockSize;
    }

    /** Seals {@code len <= blockSize} bytes of {@code plain} as block {@code idx} of inode {@code ino}. */
    public byte[] sealBlock(long ino, long idx, byte[] plain, int off, int len) {
        Objects.checkFromIndexSize(off, len, plain.length);
        if (len > blockSize) {
            throw new IllegalArgumentException("a block holds at most " + blockSize + " bytes, not " + len);
        }
        SealerScratch scratch = scratch();
        int adLength = AssociatedData.writeBlockPosition(scratch.blockAd, ino, idx);
        return seal(scratch, plain, off, len, scratch.blockAd, adLength);
    }

    /**
     * Opens block {@code idx} of inode {@code ino} into {@code dest} at {@code destOff}.
     *
     * @return plaintext length; dest must have room for sealed.length - OVERHEAD bytes
     * @throws IntegrityException if the block fails authentication or is malformed
     */
    public int openBlock(long ino, long idx, byte[] sealed, byte[] dest, int destOff) throws IntegrityException {
        if (sealed.length < OVERHEAD || sealed.length - OVERHEAD > blockSize) {
            throw new IntegrityException("block " + idx + " of inode " + ino + " is malformed: "
                    + sealed.length + " sealed bytes, expected " + OVERHEAD + " to " + (blockSize + OVERHEAD));
        }
        int plainLength = sealed.length - OVERHEAD;
        Objects.checkFromIndexSize(destOff, plainLength, dest.length);
        SealerScratch scratch = scratch();
        int adLength = AssociatedData.writeBlockPosition(scratch.blockAd, ino, idx);
        if (!open(scratch, sealed, scratch.blockAd, adLength)) {
            throw new IntegrityException("block " + idx + " of inode " + ino + " failed authentication");
        }
        MemorySegment.copy(scratch.plain(), ValueLayout.JAVA_BYTE, 0, dest, destOff, plainLength);
        return plainLength;
    }

    public byte[] sealSymlink(long ino, byte[] target) {
        SealerScratch scratch = scratch();
        int adLength = AssociatedData.writeSymlinkPosition(scratch.symlinkAd, ino);
        return seal(scratch, target, 0, target.length, scratch.symlinkAd, adLength);
    }

    /** @throws IntegrityException if the target fails authentication or is malformed */
    public byte[] openSymlink(long ino, byte[] sealed) throws IntegrityException {
        if (sealed.length < OVERHEAD) {
            throw new IntegrityException("symlink target of inode " + ino + " is malformed: "
                    + sealed.length + " sealed bytes, at least " + OVERHEAD + " expected");
        }
        SealerScratch scratch = scratch();
        int adLength = AssociatedData.writeSymlinkPosition(scratch.symlinkAd, ino);
        if (!open(scratch, sealed, scratch.symlinkAd, adLength)) {
            throw new IntegrityException("symlink target of inode " + ino + " failed authentication");
        }
        return scratch.plain().asSlice(0, sealed.length - OVERHEAD).toArray(ValueLayout.JAVA_BYTE);
    }

    /** Seals the value of extended attribute {@code name} (its raw bytes) of inode {@code ino}. */
    public byte[] sealXattr(long ino, byte[] name, byte[] value) {
        SealerScratch scratch = scratch();
        MemorySegment ad = scratch.xattrAd(name.length);
        long adLength = AssociatedData.writeXattrPosition(ad, ino, name);
        return seal(scratch, value, 0, value.length, ad, adLength);
    }

    /** @throws IntegrityException if the value fails authentication or is malformed */
    public byte[] openXattr(long ino, byte[] name, byte[] sealed) throws IntegrityException {
        if (sealed.length < OVERHEAD) {
            throw new IntegrityException("an extended attribute value of inode " + ino + " is malformed: "
                    + sealed.length + " sealed bytes, at least " + OVERHEAD + " expected");
        }
        SealerScratch scratch = scratch();
        MemorySegment ad = scratch.xattrAd(name.length);
        long adLength = AssociatedData.writeXattrPosition(ad, ino, name);
        if (!open(scratch, sealed, ad, adLength)) {
            throw new IntegrityException("an extended attribute value of inode " + ino + " failed authentication");
        }
        return scratch.plain().asSlice(0, sealed.length - OVERHEAD).toArray(ValueLayout.JAVA_BYTE);
    }

    /**
     * The stored form of {@code name} (no zero byte in it, as in any file name) in directory
     * {@code dir}: the same bytes every time (see the class documentation), its length telling only
     * in which bucket of {@value #NAME_BUCKET} bytes the name's length lies.
     */
    public byte[] sealName(long dir, byte[] name) {
        SealerScratch scratch = scratch();
        return sealName(scratch, scratch.nameAd, NAME_NONCE_LABEL, dir, name);
    }

    /**
     * The name whose stored form in directory {@code dir} is {@code sealed}.
     *
     * @throws IntegrityException if it was not sealed by this namespace for this directory, or is
     *                            not the one form {@link #sealName} gives
     */
    public byte[] openName(long dir, byte[] sealed) throws IntegrityException {
        SealerScratch scratch = scratch();
        return openName(scratch, scratch.nameAd, NAME_NONCE_LABEL, dir, sealed, "a sealed name in directory " + dir);
    }

    /**
     * The stored form of extended attribute name {@code name} of inode {@code ino}: sealed as an
     * entry name is, with a domain of its own ("ssfs/xnm", nonce label "ssfs/nx1"), so that an
     * attribute name of inode N and an entry name in directory N never share a stored form.
     */
    public byte[] sealXattrName(long ino, byte[] name) {
        SealerScratch scratch = scratch();
        return sealName(scratch, scratch.xattrNameAd, XATTR_NAME_NONCE_LABEL, ino, name);
    }

    /** @throws IntegrityException as {@link #openName} does */
    public byte[] openXattrName(long ino, byte[] sealed) throws IntegrityException {
        SealerScratch scratch = scratch();
        return openName(scratch, scratch.xattrNameAd, XATTR_NAME_NONCE_LABEL, ino, sealed,
                "a sealed attribute name of inode " + ino);
    }

    private byte[] sealName(SealerScratch scratch, MemorySegment ad, long nonceLabel, long position, byte[] name) {
        int padded = paddedLength(name.length);
        scratch.ensurePayloadCapacity(padded);
        syntheticNonce(scratch, nonceLabel, position, name, name.length, scratch.nonce());
        MemorySegment plain = scratch.plain();
        MemorySegment.copy(name, 0, plain, ValueLayout.JAVA_BYTE, 0, name.length);
        plain.asSlice(name.length, padded - name.length).fill((byte) 0);
        int adLength = AssociatedData.writeNamePosition(ad, position);
        Sodium.aeadEncrypt(scratch.cipherAndTag(), plain, padded, ad, adLength, scratch.nonce(), key.segment());
        byte[] sealed = new byte[padded + OVERHEAD];
        MemorySegment.copy(scratch.sealed(), ValueLayout.JAVA_BYTE, 0, sealed, 0, sealed.length);
        return sealed;
    }

    private byte[] openName(SealerScratch scratch, MemorySegment ad, long nonceLabel, long position, byte[] sealed,
            String what) throws IntegrityException {
        int padded = sealed.length - OVERHEAD;
        if (padded < NAME_BUCKET || padded % NAME_BUCKET != 0) {
            throw new IntegrityException(what + " is malformed (" + sealed.length + " bytes)");
        }
        int adLength = AssociatedData.writeNamePosition(ad, position);
        if (!open(scratch, sealed, ad, adLength)) {
            throw new IntegrityException(what + " failed authentication");
        }
        int length = padded;
        while (length > 0 && scratch.plain().get(ValueLayout.JAVA_BYTE, length - 1) == 0) {
            length--;
        }
        byte[] name = scratch.plain().asSlice(0, length).toArray(ValueLayout.JAVA_BYTE);
        byte[] nonce = new byte[Sodium.NONCE_BYTES];
        syntheticNonce(scratch, nonceLabel, position, name, length, MemorySegment.ofArray(nonce));
        if (length == 0 || !java.security.MessageDigest.isEqual(nonce,
                java.util.Arrays.copyOf(sealed, Sodium.NONCE_BYTES))) {
            throw new IntegrityException(what + " is not in its one sealed form");
        }
        return name;
    }

    /** Bytes a name (or symlink target) of {@code length} bytes takes once padded to its bucket. */
    public static int paddedLength(int length) {
        return Math.max(NAME_BUCKET, (length + NAME_BUCKET - 1) / NAME_BUCKET * NAME_BUCKET);
    }

    private void syntheticNonce(SealerScratch scratch, long label, long position, byte[] name, int length,
            MemorySegment into) {
        MemorySegment in = scratch.termInput(16L + length);
        in.set(LONG, 0, label);
        in.set(LONG, 8, position);
        MemorySegment.copy(name, 0, in, ValueLayout.JAVA_BYTE, 16, length);
        Sodium.genericHash(scratch.term, in, 16L + length, digestKey.segment());
        MemorySegment.copy(scratch.term, 0, into, 0, Sodium.NONCE_BYTES);
    }

    /**
     * Zeroes the digest key; does not close the data key (the owner does, after this). Any later use
     * throws {@link IllegalStateException}. Idempotent.
     */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            digestKey.close();
        }
    }

    @Override
    public String toString() {
        return "Sealer[namespace=" + namespace + ", formatVersion=" + formatVersion + ", blockSize=" + blockSize
                + (closed.get() ? ", closed]" : "]");
    }

    private byte[] seal(SealerScratch scratch, byte[] plain, int off, int len, MemorySegment ad, long adLength) {
        if (len > Integer.MAX_VALUE - OVERHEAD) {
            throw new IllegalArgumentException("payload of " + len + " bytes is too large to seal");
        }
        scratch.ensurePayloadCapacity(len);
        MemorySegment.copy(plain, off, scratch.plain(), ValueLayout.JAVA_BYTE, 0, len);
        Sodium.randomBytes(scratch.nonce());
        Sodium.aeadEncrypt(scratch.cipherAndTag(), scratch.plain(), len, ad, adLength, scratch.nonce(), key.segment());
        byte[] sealed = new byte[len + OVERHEAD];
        MemorySegment.copy(scratch.sealed(), ValueLayout.JAVA_BYTE, 0, sealed, 0, sealed.length);
        return sealed;
    }

    /** Authenticates and decrypts {@code sealed} (at least OVERHEAD bytes) into the scratch plaintext. */
    private boolean open(SealerScratch scratch, byte[] sealed, MemorySegment ad, long adLength) {
        scratch.ensurePayloadCapacity(sealed.length - OVERHEAD);
        MemorySegment.copy(sealed, 0, scratch.sealed(), ValueLayout.JAVA_BYTE, 0, sealed.length);
        return Sodium.aeadDecrypt(scratch.plain(), scratch.cipherAndTag(), sealed.length - Sodium.NONCE_BYTES,
                ad, adLength, scratch.nonce(), key.segment());
    }

    private SealerScratch scratch() {
        if (closed.get()) {
            throw new IllegalStateException("Sealer is closed");
        }
        return SCRATCH.get().useFor(namespace, formatVersion, blockSize);
    }
}
