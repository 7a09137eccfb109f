package dev.sqlitesuperfs.crypto;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicBoolean;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Native memory for a secret: whole pages of its own, locked against swapping while open, zeroed and
 * unlocked on close.
 *
 * <p>Users get a view of the memory whose lifetime is a shared arena of its own. Closing goes through
 * that arena: it waits until no downcall holds the view, then the arena's cleanup zeroes and unlocks
 * the pages, and every later use of the view fails. So a secret is never wiped while a native call
 * is still reading it (which would make that call seal under an all-zero key).
 *
 * <p>The pages themselves belong to an automatic arena and are given back once unreachable, already
 * zeroed. The view's cleanup action holds them, so they cannot be freed while the view is open.
 */
final class LockedMemory {

    private static final Logger log = LoggerFactory.getLogger(LockedMemory.class);
    private static final AtomicBoolean warnedAboutLocking = new AtomicBoolean();

    private final String owner;
    private final MemorySegment pages;
    private final Arena viewArena;
    private final MemorySegment view;
    private final boolean locked;
    private final AtomicBoolean closed = new AtomicBoolean();

    /** @param owner names the holder in error messages, for example {@code SecretKey} */
    @SuppressWarnings("restricted") // the view has the same address and size as memory this class owns
    LockedMemory(String owner, long size) {
        this.owner = owner;
        long pageSize = Sodium.pageSize();
        long pagesSize = Math.max(pageSize, (size + pageSize - 1) / pageSize * pageSize);
        this.pages = Arena.ofAuto().allocate(pagesSize, pageSize);
        this.locked = Sodium.mlock(pages);
        if (!locked && warnedAboutLocking.compareAndSet(false, true)) {
            log.warn("Could not lock memory holding secrets (RLIMIT_MEMLOCK too low?); "
                    + "keys may be written to swap");
        }
        this.viewArena = Arena.ofShared();
        MemorySegment wipeTarget = pages;
        this.view = pages.asSlice(0, size).reinterpret(viewArena, unused -> wipe(wipeTarget));
    }

    /** The secret's bytes, for passing to native calls. */
    MemorySegment segment() {
        if (closed.get()) {
            throw new IllegalStateException(owner + " is closed");
        }
        return view;
    }

    long size() {
        return view.byteSize();
    }

    /** The underlying pages, still readable after close; only for checking that close wiped them. */
    MemorySegment pagesForInspection() {
        return pages;
    }

    boolean isClosed() {
        return closed.get();
    }

    void close() {
        if (closed.compareAndSet(false, true)) {
            SharedArenas.closeWhenIdle(viewArena);
        }
    }

    private void wipe(MemorySegment memory) {
        if (locked) {
            if (!Sodium.munlock(memory)) {
                // sodium_munlock zeroes before unlocking, so only the unlock itself failed.
                log.debug("munlock of {} memory failed; it was zeroed", owner);
            }
        } else {
            Sodium.memzero(memory);
        }
    }
}
