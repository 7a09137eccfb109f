package dev.sqlitesuperfs.crypto;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.UUID;

/**
 * One thread's native working memory for sealing and opening, shared by every {@link Sealer} the
 * thread uses: the associated data of each kind, a plaintext buffer and a sealed buffer laid out as
 * {@code nonce || ciphertext || tag}, so that a sealed payload is copied out in one piece. The
 * associated data's prefix names a namespace; it is rewritten when the thread turns to another
 * namespace's sealer ({@link #useFor}), which costs a few bytes, so that a host's request threads
 * need one scratch each however many namespaces they serve. Keys are never in it.
 *
 * <p>Used by its thread only. It grows (rarely: symlink targets and xattr values larger than a
 * block, very long xattr names) and is freed when its thread has gone.
 */
final class SealerScratch {

    /** Linux's XATTR_NAME_MAX; longer names still work, they just grow the buffer. */
    private static final int INITIAL_NAME_CAPACITY = 255;
    /** Room for any block or entry term (a name of up to 255 bytes); xattr values grow it. */
    private static final int INITIAL_TERM_CAPACITY = 512;

    private final Arena arena = Arena.ofAuto();
    /** The namespace and format the associated data's prefixes name now, or null before the first use. */
    private UUID namespace;
    private int formatVersion;

    final MemorySegment blockAd;
    final MemorySegment symlinkAd;
    final MemorySegment inodeAd;
    final MemorySegment nameAd;
    final MemorySegment xattrNameAd;
    /** Output of one digest term. */
    final MemorySegment term;
    private MemorySegment termInput;
    private MemorySegment xattrAd;
    private int nameCapacity;

    private MemorySegment plain;
    private MemorySegment sealed;
    private MemorySegment nonce;
    private MemorySegment cipherAndTag;
    private int payloadCapacity;

    SealerScratch(int payloadCapacity) {
        this.blockAd = arena.allocate(AssociatedData.BLOCK_BYTES);
        this.symlinkAd = arena.allocate(AssociatedData.SYMLINK_BYTES);
        this.inodeAd = arena.allocate(AssociatedData.SYMLINK_BYTES);
        this.nameAd = arena.allocate(AssociatedData.SYMLINK_BYTES);
        this.xattrNameAd = arena.allocate(AssociatedData.SYMLINK_BYTES);
        this.term = arena.allocate(Sealer.DIGEST_BYTES);
        this.termInput = arena.allocate(INITIAL_TERM_CAPACITY);
        allocateXattrAd(INITIAL_NAME_CAPACITY);
        allocatePayload(payloadCapacity);
    }

    /**
     * Readies the scratch for a sealer of {@code namespace} and {@code formatVersion} with blocks of
     * up to {@code blockSize} bytes: the prefixes of the associated data are rewritten if they name
     * another namespace.
     */
    SealerScratch useFor(UUID namespace, int formatVersion, int blockSize) {
        if (!namespace.equals(this.namespace) || formatVersion != this.formatVersion) {
            this.namespace = namespace;
            this.formatVersion = formatVersion;
            AssociatedData.writePrefix(blockAd, AssociatedData.Kind.BLOCK, namespace, formatVersion);
            AssociatedData.writePrefix(symlinkAd, AssociatedData.Kind.SYMLINK, namespace, formatVersion);
            AssociatedData.writePrefix(inodeAd, AssociatedData.Kind.INODE, namespace, formatVersion);
            AssociatedData.writePrefix(nameAd, AssociatedData.Kind.NAME, namespace, formatVersion);
            AssociatedData.writePrefix(xattrNameAd, AssociatedData.Kind.XATTR_NAME, namespace, formatVersion);
            AssociatedData.writePrefix(xattrAd, AssociatedData.Kind.XATTR, namespace, formatVersion);
        }
        ensurePayloadCapacity(blockSize);
        return this;
    }

    /** Makes room for a plaintext of {@code length} bytes. */
    void ensurePayloadCapacity(int length) {
        if (length > payloadCapacity) {
            allocatePayload(grownCapacity(length));
        }
    }

    /** The xattr associated data with room for a name of {@code nameLength} bytes. */
    MemorySegment xattrAd(int nameLength) {
        if (nameLength > nameCapacity) {
            allocateXattrAd(grownCapacity(nameLength));
        }
        return xattrAd;
    }

    /** Input buffer for a digest term of {@code length} bytes. */
    MemorySegment termInput(long length) {
        if (length > termInput.byteSize()) {
            termInput = arena.allocate(grownCapacity((int) length));
        }
        return termInput;
    }

    MemorySegment plain() {
        return plain;
    }

    /** {@code nonce || ciphertext || tag}: the sealed form, as it is stored. */
    MemorySegment sealed() {
        return sealed;
    }

    MemorySegment nonce() {
        return nonce;
    }

    MemorySegment cipherAndTag() {
        return cipherAndTag;
    }

    private void allocatePayload(int capacity) {
        payloadCapacity = capacity;
        plain = arena.allocate(Math.max(capacity, 1));
        sealed = arena.allocate((long) capacity + Sealer.OVERHEAD);
        nonce = sealed.asSlice(0, Sodium.NONCE_BYTES);
        cipherAndTag = sealed.asSlice(Sodium.NONCE_BYTES);
    }

    private void allocateXattrAd(int capacity) {
        nameCapacity = capacity;
        xattrAd = arena.allocate(AssociatedData.xattrBytes(capacity));
        if (namespace != null) {
            AssociatedData.writePrefix(xattrAd, AssociatedData.Kind.XATTR, namespace, formatVersion);
        }
    }

    /**
     * The next power of two, so that a thread that keeps meeting larger payloads reallocates only a
     * few times.
     */
    private static int grownCapacity(int needed) {
        int powerOfTwo = Integer.highestOneBit(needed - 1) << 1;
        return powerOfTwo >= needed ? powerOfTwo : needed;
    }
}
