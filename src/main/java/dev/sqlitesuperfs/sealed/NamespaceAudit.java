package dev.sqlitesuperfs.sealed;

import dev.sqlitesuperfs.store.InodeRecord;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;

/**
 * The whole namespace checked against its authenticators, as reads through a mount would check
 * it: every inode row, every directory's entries, every attribute set, every symlink target, and
 * every block of every file (the file's tags against its digest, each block's seal). Goes through
 * the same reads as a mount ({@link SealedStore}), so it refuses exactly what a mount would refuse.
 * For {@code fsck --verify}, on a namespace nothing has mounted.
 */
final class NamespaceAudit {
    /** Blocks read per query: a file's blocks are read in slices, not all at once. */
    private static final int BLOCKS_PER_READ = 256;

    private final SealedStore sealed;
    private final String namespace;
    private final int blockSize;
    private final List<String> problems = new ArrayList<>();

    NamespaceAudit(SealedStore sealed, String namespace, int blockSize) {
        this.sealed = sealed;
        this.namespace = namespace;
        this.blockSize = blockSize;
    }

    /**
     * One line per inode that fails (each also logged); reads everything, so it takes as long as
     * reading every file once. What it learns of each inode is forgotten once the inode is checked.
     */
    List<String> problems() {
        for (long ino : sealed.store.inodeNumbers()) {
            try {
                InodeRecord r = sealed.inode(ino).orElse(null);
                if (r == null) {
                    continue;
                }
                if (r.isDirectory()) {
                    for (byte[] name : sealed.entries(ino).refused()) {
                        problems.add("namespace " + namespace + ": directory " + ino + ": the entry '"
                                + SealedStore.printable(name) + "' is damaged (see the log)");
                    }
                } else if (r.isSymlink()) {
                    sealed.symlinkTarget(ino);
                } else if (r.isRegular()) {
                    checkBlocks(r);
                }
                sealed.xattrs(ino);
            } catch (TamperedException e) {
                problems.add(e.getMessage());
            } finally {
                sealed.forget(ino);
            }
        }
        return problems;
    }

    /**
     * Reads every block of file {@code r}, and checks that its blocks are what stores of the whole
     * file leave: none at or past the end, and none holding bytes past the end. A block shorter than
     * the file allows is fine (the last block of a file that grew since without it being written
     * again: the bytes past it read as zeros), and so are holes.
     */
    private void checkBlocks(InodeRecord r) {
        long ino = r.ino();
        long end = Math.ceilDiv(r.size(), blockSize);
        OptionalLong past = sealed.nextStoredBlock(ino, end);
        if (past.isPresent()) {
            problems.add("namespace " + namespace + ": inode " + ino + " has block " + past.getAsLong()
                    + " stored past its size of " + r.size() + " bytes");
        }
        long[] wrongLength = {-1, 0};
        SealedStore.BlockSink check = (idx, data) -> {
            long allowed = Math.min(blockSize, r.size() - idx * blockSize);
            if (data.length > allowed && wrongLength[0] < 0) {
                wrongLength[0] = idx;
                wrongLength[1] = data.length;
            }
        };
        for (long from = 0; from < end; from += BLOCKS_PER_READ) {
            sealed.readBlocks(ino, from, Math.min(end, from + BLOCKS_PER_READ), check);
        }
        if (wrongLength[0] >= 0) {
            problems.add("namespace " + namespace + ": inode " + ino + " block " + wrongLength[0] + " holds "
                    + wrongLength[1] + " bytes, which no store of a file of " + r.size() + " bytes leaves");
        }
    }
}
