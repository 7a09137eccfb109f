package dev.sqlitesuperfs.fs;

import dev.sqlitesuperfs.sealed.SealedStore;
import dev.sqlitesuperfs.store.InodeRange;

/**
 * Hands out inode numbers from ranges the store reserves, so that a create costs no extra round
 * trip. Numbers are never reused: an unused rest of a range is simply skipped after a restart.
 */
final class InodeNumbers {
    private final SealedStore store;
    private long next;
    private long end;

    InodeNumbers(SealedStore store) {
        this.store = store;
    }

    synchronized long next() {
        if (next >= end) {
            InodeRange range = store.allocateInodes();
            next = range.first();
            end = range.first() + range.count();
        }
        return next++;
    }
}
