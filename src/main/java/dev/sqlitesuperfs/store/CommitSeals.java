package dev.sqlitesuperfs.store;

import java.util.Collection;

/**
 * The namespace's key holder's part in every commit: each transaction stores its number in the
 * meta row together with a seal ({@link #seal}) of that number and of the inodes as the
 * transaction leaves them, which only the key holder can make, so that a meta row put back from
 * an older copy still names an older number, and no inode can be put back alone; and once a
 * transaction is known to be committed, the key holder hears its number ({@link #committed})
 * before anyone waiting for it is answered (the freshness anchor records it there).
 *
 * <p>Both are called by the store's writer thread of the moment, never at once for one namespace.
 */
public interface CommitSeals {

    /** No seal (null) and nobody to tell: a store whose key holder does not take part. */
    CommitSeals NONE = new CommitSeals() {
        @Override
        public byte[] seal(long number, Collection<InodeRecord> put, Collection<Long> deleted) {
            return null;
        }

        @Override
        public void committed(long number) {}
    };

    /**
     * The seal stored with commit number {@code number}, whose transaction puts the inode rows
     * {@code put} (as they will be stored, authenticators included) and deletes the inodes
     * {@code deleted}.
     */
    byte[] seal(long number, Collection<InodeRecord> put, Collection<Long> deleted);

    /**
     * Commit number {@code number} is committed; called before its callers are answered. Must not
     * throw: the commit stands whatever happens here.
     */
    void committed(long number);
}
