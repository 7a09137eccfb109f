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
 * For a mount that follows its namespace's writer: the SQLite WAL files of the state served, and
 * whether one is half rewritten. A WAL reader on a follower keeps the WAL index it built in its own
 * memory from one transaction to the next and checks it only against the WAL header's salt and for
 * new commit frames past its end. Within one generation of a WAL (one salt) committed frames never
 * change; the writer starts a new generation by writing a new header and then frames from the
 * start. The writer's kernel may write back later pages of the file before the first (which holds
 * the header), and a background store of the writer can then leave a state with the old header
 * over overwritten frames, which that check lets through; worse, the database may already hold
 * what the overwritten frames said (a restart follows a complete checkpoint), beyond the frames a
 * reader indexed. So each changed WAL is read whole and its frames checked as SQLite's recovery
 * does (salts, running checksums); a state is "in flux", and no read transaction may start in it
 * ({@link PosixLocks}), while frames of the next generation are in the file under the current
 * header, or while the committed frames of the generation seen before are no longer all there
 * under an unchanged salt.
 */
final class WalFiles {
    /** The WAL magic numbers (SQLite's file format): little- and big-endian checksums. */
    private static final int MAGIC_LE = 0x377f0682;
    private static final int MAGIC_BE = 0x377f0683;
    private static final int HEADER = 32;
    private static final int FRAME_HEADER = 24;
    /** Larger WAL files are not checked (SQLite checkpoints at 4 MiB by default). */
    private static final long MAX_CHECKED = 256L << 20;

    /**
     * One generation of a WAL: its salt, the running checksum after each committed frame, and
     * whether frames of the next generation are already in the file (its salt-1 is this one's plus
     * one: SQLite's restart of a WAL increments it) under this generation's header.
     */
    record Generation(long salt, long[] checksums, boolean nextUnderway) {}

    private final int blockSize;
    private final Map<Long, Generation> seen = new HashMap<>();
    private final Set<Long> inFlux = new HashSet<>();

    WalFiles(int blockSize) {
        this.blockSize = blockSize;
    }

    /** Looks again at the inodes that changed; returns whether any WAL is left in flux. */
    boolean update(SealedStore store, Set<Long> changed) {
        for (Long ino : changed) {
            byte[] wal = read(store, ino);
            if (wal == null) {
                seen.remove(ino);
                inFlux.remove(ino);
                continue;
            }
            Generation now = parse(wal);
            Generation before = seen.get(ino);
            if (now.nextUnderway() || (before != null && now.salt() == before.salt() && !extends_(now, before))) {
                inFlux.add(ino);
            } else {
                seen.put(ino, now);
                inFlux.remove(ino);
            }
        }
        return !inFlux.isEmpty();
    }

    boolean anyInFlux() {
        return !inFlux.isEmpty();
    }

    /** Whether {@code now} holds every committed frame of {@code before}, unchanged. */
    private static boolean extends_(Generation now, Generation before) {
        long[] a = before.checksums();
        long[] b = now.checksums();
        return b.length >= a.length && (a.length == 0 || a[a.length - 1] == b[a.length - 1]);
    }

    /** The file's bytes if it is a WAL file that is checked, else null. */
    private byte[] read(SealedStore store, long ino) {
        Optional<InodeRecord> r = store.inode(ino);
        if (r.isEmpty() || (r.get().mode() & FileType.MASK) != FileType.REGULAR || r.get().size() < HEADER
                || r.get().size() > MAX_CHECKED) {
            return null;
        }
        int size = (int) r.get().size();
        byte[] first = new byte[4];
        store.readBlocks(ino, 0, 1, (idx, data) -> System.arraycopy(data, 0, first, 0, Math.min(4, data.length)));
        int magic = u32(first, 0);
        if (magic != MAGIC_LE && magic != MAGIC_BE) {
            return null;
        }
        byte[] wal = new byte[size];
        store.readBlocks(ino, 0, (size + blockSize - 1) / blockSize, (idx, data) -> {
            long at = idx * blockSize;
            if (at < size) {
                System.arraycopy(data, 0, wal, (int) at, (int) Math.min(data.length, size - at));
            }
        });
        return wal;
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
    private static long[] checksum(byte[] b, int from, int length, long s1, long s2, boolean bigEndian) {
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
