package dev.sqlitesuperfs.fs;

import dev.sqlitesuperfs.sealed.SealedStore;
import dev.sqlitesuperfs.store.InodeRecord;
import dev.sqlitesuperfs.sys.FileType;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * For a mount that follows its namespace's writer: the SQLite WAL files of the state served, what
 * a reader is shown of them, and whether one is half rewritten.
 *
 * <p>A WAL reader on a follower cannot write the {@code -shm} index, so SQLite (3.22 and later)
 * builds the index in its own memory by recovery, keeps it from one transaction to the next, and
 * at the start of each checks it only against the WAL header's salt and for a commit frame past
 * its end, decoding the frames that follow with the running checksum the index ends at. Recovery
 * of a WAL that holds no committed frame under its header ends at checksum zero instead of the
 * header's, so that later check decodes no frame of that generation: the reader never sees the
 * generation's commits and goes on reading the database file alone while the writer checkpoints
 * them into it (a torn read). Such a WAL is what the writer leaves between storing a new
 * generation's header (SQLite syncs it before any frame) and its first commit; it says nothing
 * SQLite would use, so a follower shows it as an empty file ({@link #presented}): a reader then
 * reads the database, which the writer checkpointed completely before it restarted the WAL, and
 * the next generation's salt makes it rebuild its index once a commit is stored.
 *
 * <p>Each WAL that changed is read again at a step, but only its blocks whose tags changed (a WAL
 * grows by appends); what a reader was shown of it is kept and compared page by page, so that the
 * kernel drops only the pages that changed ({@link #changedRanges}).
 *
 * <p>Also, as a guard against states the writer's order of stores should never produce (a writer
 * with {@code synchronous=OFF}, which a follower does not support, can), a state is "in flux", and no read transaction may start in it ({@link PosixLocks}), while frames of the
 * next generation are in the file under the current header, or while the committed frames of the
 * generation seen before are no longer all there under an unchanged salt.
 *
 * <p>Methods are synchronized: a step updates what is known while holding the view alone, and
 * requests ask for what to show while loading nodes, concurrently.
 */
final class WalFiles {
    /** The WAL magic numbers (SQLite's file format): little- and big-endian checksums. */
    private static final int MAGIC_LE = 0x377f0682;
    private static final int MAGIC_BE = 0x377f0683;
    private static final int HEADER = 32;
    private static final int FRAME_HEADER = 24;
    /** Larger WAL files are not checked (SQLite checkpoints at 4 MiB by default). */
    private static final long MAX_CHECKED = 256L << 20;
    /** Larger WAL files are not kept to compare: the kernel drops all its pages of them when they change. */
    private static final int KEPT_MAX = 16 << 20;
    /** The kernel's page size, the unit of its page cache. */
    private static final int PAGE = 4096;
    /** More ranges than this are dropped as the whole file. */
    private static final int MAX_RANGES = 64;

    /**
     * One generation of a WAL: its salt, the running checksum after each committed frame, and
     * whether frames of the next generation are already in the file (its salt-1 is this one's plus
     * one: SQLite's restart of a WAL increments it) under this generation's header.
     */
    record Generation(long salt, long[] checksums, boolean nextUnderway) {}

    private final int blockSize;
    private final Map<Long, Generation> seen = new HashMap<>();
    private final Set<Long> inFlux = new HashSet<>();
    /** WAL files with no committed frame under their header: shown empty. */
    private final Set<Long> uncommitted = new HashSet<>();
    /** Inodes looked at when first loaded (see {@link #presented}). */
    private final Set<Long> examined = new HashSet<>();
    /** What each WAL file was when last read, up to {@link #KEPT_MAX} bytes. */
    private final Map<Long, Read> lastRead = new HashMap<>();
    /** For the WAL files that changed at the last update: the byte ranges of pages that changed. */
    private final Map<Long, long[]> changedRanges = new HashMap<>();

    WalFiles(int blockSize) {
        this.blockSize = blockSize;
    }

    /** Looks again at the inodes that changed; returns whether any WAL is left in flux. */
    synchronized boolean update(SealedStore store, Set<Long> changed) {
        changedRanges.clear();
        for (Long ino : changed) {
            byte[] before = shown(ino);
            examine(store, ino);
            byte[] now = shown(ino);
            if (before != null && now != null) {
                long[] ranges = changedPages(before, now);
                if (ranges != null) {
                    changedRanges.put(ino, ranges);
                }
            }
        }
        return !inFlux.isEmpty();
    }

    /** What a reader is shown of a WAL file as last read (null if not kept): its bytes, or none. */
    private byte[] shown(long ino) {
        Read r = lastRead.get(ino);
        return r == null ? null : uncommitted.contains(ino) ? new byte[0] : r.bytes();
    }

    /**
     * For an inode of the last {@link #update}: the pages whose content a reader sees changed, as
     * offset and length pairs; null when not known (not a WAL file, or too large to keep): then
     * all of them. A WAL changes mostly by appends, so that a reader's next rebuild of its WAL
     * index finds the rest of the file in the kernel's cache.
     */
    synchronized long[] changedRanges(long ino) {
        return changedRanges.get(ino);
    }

    /** The pages in which {@code a} and {@code b} differ (a byte beyond one's end differs from any), or null if too many ranges. */
    static long[] changedPages(byte[] a, byte[] b) {
        long[] ranges = new long[2 * MAX_RANGES];
        int n = 0;
        int pages = (Math.max(a.length, b.length) + PAGE - 1) / PAGE;
        for (int page = 0; page < pages; page++) {
            int from = page * PAGE;
            if (Arrays.equals(a, Math.min(from, a.length), Math.min(from + PAGE, a.length), b,
                    Math.min(from, b.length), Math.min(from + PAGE, b.length))) {
                continue;
            }
            if (n > 0 && ranges[n - 2] + ranges[n - 1] == from) {
                ranges[n - 1] += PAGE;
            } else if (n == ranges.length) {
                return null;
            } else {
                ranges[n++] = from;
                ranges[n++] = PAGE;
            }
        }
        return Arrays.copyOf(ranges, n);
    }

    /**
     * What a reader is shown of an inode as stored: a WAL file without a committed frame has size
     * zero. Inodes that did not change since the follower started are looked at when first
     * loaded, if their size is one a WAL has (a header and whole frames of some page size).
     */
    synchronized InodeRecord presented(SealedStore store, InodeRecord r) {
        if (!examined.contains(r.ino()) && mayBeWal(r)) {
            examine(store, r.ino());
        }
        if (!uncommitted.contains(r.ino())) {
            return r;
        }
        return new InodeRecord(r.ino(), r.mode(), r.uid(), r.gid(), r.nlink(), 0, r.nblocks(), r.rdev(), r.atimeNs(),
                r.mtimeNs(), r.ctimeNs(), r.auth());
    }

    synchronized boolean anyInFlux() {
        return !inFlux.isEmpty();
    }

    private static boolean mayBeWal(InodeRecord r) {
        if ((r.mode() & FileType.MASK) != FileType.REGULAR || r.size() < HEADER || r.size() > MAX_CHECKED) {
            return false;
        }
        for (int pageSize = 512; pageSize <= 65536; pageSize <<= 1) {
            if ((r.size() - HEADER) % (FRAME_HEADER + pageSize) == 0) {
                return true;
            }
        }
        return false;
    }

    private void examine(SealedStore store, long ino) {
        examined.add(ino);
        byte[] wal = read(store, ino);
        if (wal == null) {
            seen.remove(ino);
            inFlux.remove(ino);
            uncommitted.remove(ino);
            return;
        }
        Generation now = parse(wal);
        if (now.checksums().length == 0) {
            uncommitted.add(ino);
        } else {
            uncommitted.remove(ino);
        }
        Generation before = seen.get(ino);
        if (now.nextUnderway() || (before != null && now.salt() == before.salt() && !extends_(now, before))) {
            inFlux.add(ino);
        } else {
            seen.put(ino, now);
            inFlux.remove(ino);
        }
    }

    /** Whether {@code now} holds every committed frame of {@code before}, unchanged. */
    private static boolean extends_(Generation now, Generation before) {
        long[] a = before.checksums();
        long[] b = now.checksums();
        return b.length >= a.length && (a.length == 0 || a[a.length - 1] == b[a.length - 1]);
    }

    /**
     * The file's bytes if it is a WAL file that is checked, else null. Of a WAL read before, only
     * the blocks whose tags changed are read again (a WAL grows by appends).
     */
    private byte[] read(SealedStore store, long ino) {
        Optional<InodeRecord> r = store.inode(ino);
        if (r.isEmpty() || (r.get().mode() & FileType.MASK) != FileType.REGULAR || r.get().size() < HEADER
                || r.get().size() > MAX_CHECKED) {
            lastRead.remove(ino);
            return null;
        }
        int size = (int) r.get().size();
        int blocks = (size + blockSize - 1) / blockSize;
        Read before = lastRead.remove(ino);
        byte[] wal = new byte[size];
        if (before == null) {
            // a first look: the first block alone, so that other files are not read whole
            readInto(store, ino, 0, 1, wal);
            if (!isWal(wal)) {
                return null;
            }
        }
        byte[][] tags = store.blockTags(ino, 0, blocks);
        int from = -1;
        for (int idx = 0; idx <= blocks; idx++) {
            boolean haveIt = idx == 0 && before == null;
            boolean same = !haveIt && idx < blocks && before != null && before.holds(idx, tags[idx], blockSize);
            if (idx < blocks && !haveIt && !same) {
                from = from < 0 ? idx : from;
                continue;
            }
            if (from >= 0) {
                readInto(store, ino, from, idx, wal);
                from = -1;
            }
            if (same) {
                System.arraycopy(before.bytes(), idx * blockSize, wal, idx * blockSize, Math.min(blockSize, size - idx * blockSize));
            }
        }
        if (!isWal(wal)) {
            return null;
        }
        if (size <= KEPT_MAX) {
            lastRead.put(ino, new Read(wal, tags));
        }
        return wal;
    }

    /** Reads blocks {@code from <= idx < to} of the file into {@code wal} (its bytes, as long as the file). */
    private void readInto(SealedStore store, long ino, int from, int to, byte[] wal) {
        store.readBlocks(ino, from, to, (i, data) -> {
            long at = i * blockSize;
            if (at < wal.length) {
                System.arraycopy(data, 0, wal, (int) at, (int) Math.min(data.length, wal.length - at));
            }
        });
    }

    private static boolean isWal(byte[] start) {
        int magic = u32(start, 0);
        return magic == MAGIC_LE || magic == MAGIC_BE;
    }

    /** A WAL as last read: its bytes and the tag of each of its blocks (null for a hole). */
    private record Read(byte[] bytes, byte[][] tags) {
        /** Whether block {@code idx}, now with {@code tag}, is the one read then, all of it. */
        boolean holds(int idx, byte[] tag, int blockSize) {
            return idx < tags.length && Arrays.equals(tags[idx], tag) && (long) (idx + 1) * blockSize <= bytes.length;
        }
    }

    /** The generation's salt and committed frames, as SQLite's recovery finds them. */
    static Generation parse(byte[] wal) {
        boolean bigEndian = u32(wal, 0) == MAGIC_BE;
        int pageSize = u32(wal, 8);
        long salt = ((long) u32(wal, 16) << 32) | (u32(wal, 20) & 0xffffffffL);
        long[] sum = checksum(wal, 0, 24, 0, 0, bigEndian);
        if (pageSize < 512 || pageSize > 65536 || Integer.bitCount(pageSize) != 1
                || sum[0] != (u32(wal, 24) & 0xffffffffL) || sum[1] != (u32(wal, 28) & 0xffffffffL)) {
            return new Generation(salt, new long[0], false);
        }
        // A restart writes the next generation's frames from the start while its header may not
        // be stored yet: then frames this header's readers indexed are gone, and the database may
        // hold what the overwritten frames said. Older generations' leftovers have smaller salts.
        boolean nextUnderway = false;
        int nextSalt1 = u32(wal, 16) + 1;
        for (int at = HEADER; at + FRAME_HEADER <= wal.length; at += FRAME_HEADER + pageSize) {
            if (u32(wal, at + 8) == nextSalt1) {
                nextUnderway = true;
                break;
            }
        }
        long s1 = sum[0];
        long s2 = sum[1];
        long[] running = new long[Math.max(0, (wal.length - HEADER) / (FRAME_HEADER + pageSize))];
        int frames = 0;
        int committed = 0;
        for (int at = HEADER; at + FRAME_HEADER + pageSize <= wal.length; at += FRAME_HEADER + pageSize) {
            if (!Arrays.equals(wal, at + 8, at + 16, wal, 16, 24)) {
                break;
            }
            long[] f = checksum(wal, at, 8, s1, s2, bigEndian);
            f = checksum(wal, at + FRAME_HEADER, pageSize, f[0], f[1], bigEndian);
            if (f[0] != (u32(wal, at + 16) & 0xffffffffL) || f[1] != (u32(wal, at + 20) & 0xffffffffL)) {
                break;
            }
            s1 = f[0];
            s2 = f[1];
            running[frames++] = (s1 << 32) | s2;
            if (u32(wal, at + 4) != 0) {
                committed = frames;
            }
        }
        return new Generation(salt, Arrays.copyOf(running, committed), nextUnderway);
    }

    /** SQLite's WAL checksum over {@code length} bytes (a multiple of 8) from {@code from}, continuing {@code s1, s2}. */
    static long[] checksum(byte[] b, int from, int length, long s1, long s2, boolean bigEndian) {
        for (int i = from; i < from + length; i += 8) {
            s1 = (s1 + word(b, i, bigEndian) + s2) & 0xffffffffL;
            s2 = (s2 + word(b, i + 4, bigEndian) + s1) & 0xffffffffL;
        }
        return new long[] {s1, s2};
    }

    private static long word(byte[] b, int at, boolean bigEndian) {
        int v = bigEndian ? u32(b, at)
                : (b[at] & 0xff) | (b[at + 1] & 0xff) << 8 | (b[at + 2] & 0xff) << 16 | (b[at + 3] & 0xff) << 24;
        return v & 0xffffffffL;
    }

    private static int u32(byte[] b, int at) {
        return (b[at] & 0xff) << 24 | (b[at + 1] & 0xff) << 16 | (b[at + 2] & 0xff) << 8 | (b[at + 3] & 0xff);
    }
}
