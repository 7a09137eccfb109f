package dev.sqlitesuperfs.crypto;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.ref.WeakReference;
import java.util.UUID;

/**
 * One thread's native working memory for a {@link Sealer}: the associated data of each kind (its
 * constant prefix written once), a plaintext buffer and a sealed buffer laid out as
 * {@code nonce || ciphertext || tag}, so that a sealed payload is copied out in one piece.
 *
 * <p>Used by one thread at a time. Memory comes from the sealer's shared arena; it grows (rarely:
 * symlink targets and xattr values larger than a block, very long xattr names) and is freed when the
 * sealer closes.
 */
final class SealerScratch {

    /** Linux's XATTR_NAME_MAX; longer names still work, they just grow the buffer. */
    private static final int INITIAL_NAME_CAPACITY = 255;
    /** Room for any block or entry term (a name of up to 255 bytes); xattr values grow it. */
    private static final int INITIAL_TERM_CAPACITY = 512;

    private final Arena arena;
    private final UUID namespace;
    private final int formatVersion;
    private WeakReference<Thread> owner;

    final MemorySegment blockAd;
    final MemorySegment symlinkAd;
    final MemorySegment inodeAd;
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

    SealerScratch(Arena arena, UUID namespace, int formatVersion, int payloadCapacity) {
        this.arena = arena;
        this.namespace = namespace;
        this.formatVersion = formatVersion;
        this.owner = new WeakReference<>(Thread.currentThread());
        this.blockAd = arena.allocate(AssociatedData.BLOCK_BYTES);
        AssociatedData.writePrefix(blockAd, AssociatedData.Kind.BLOCK, namespace, formatVersion);
        this.symlinkAd = arena.allocate(AssociatedData.SYMLINK_BYTES);
        AssociatedData.writePrefix(symlinkAd, AssociatedData.Kind.SYMLINK, namespace, formatVersion);
        this.inodeAd = arena.allocate(AssociatedData.SYMLINK_BYTES);
        AssociatedData.writePrefix(inodeAd, AssociatedData.Kind.INODE, namespace, formatVersion);
        this.term = arena.allocate(Sealer.DIGEST_BYTES);
        this.termInput = arena.allocate(INITIAL_TERM_CAPACITY);
        allocateXattrAd(INITIAL_NAME_CAPACITY);
        allocatePayload(payloadCapacity);
    }

    /** True once the thread that used this scratch has ended, so another thread may take it over. */
    boolean isAbandoned() {
        Thread thread = owner.get();
        return thread == null || !thread.isAlive();
    }

    void adoptBy(Thread thread) {
        owner = new WeakReference<>(thread);
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
        AssociatedData.writePrefix(xattrAd, AssociatedData.Kind.XATTR, namespace, formatVersion);
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
