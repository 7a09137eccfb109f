package dev.sqlitesuperfs.model;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.testing.Posix;
import dev.sqlitesuperfs.testing.Posix.ErrnoException;
import dev.sqlitesuperfs.testing.Posix.Stat;
import dev.sqlitesuperfs.testing.TestMount;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Several threads at once on a few shared files and directories. What they do races, so only what
 * must hold whatever the interleaving is checked, each time all threads have paused (a read racing
 * a write may see a half-copied page even on a local disk): every 4 KiB block is wholly one
 * writer's chunk or zeros, the bytes readable equal st_size, link counts equal the names found, a
 * directory's link count is 2 plus its subdirectories; and after a remount the same, with the
 * stored namespace's consistency check clean.
 *
 * <p>{@code -Dmodel.seed=N} fixes the seed of the threads' choices (the interleaving stays the
 * scheduler's), {@code -Dmodel.rounds=N} the number of rounds.
 */
class ConcurrentModelTest {
    private static final int BLOCK = 4096;
    private static final int THREADS = 4;
    private static final int OPS_PER_ROUND = 80;
    private static final List<String> FILES = List.of("f0", "f1", "f2", "d0/f0", "d0/f1", "d1/f0", "d1/f2", "d0/s/f1");
    private static final List<String> DIRS = List.of("d0", "d1", "d0/s", "d1/s", "s");

    /** The highest chunk sequence number each writer has written, so a block from the future is caught. */
    private final AtomicLongArray issued = new AtomicLongArray(THREADS);
    /** What the last check looked at, printed so that a run that checks nothing shows. */
    private int filesChecked;
    private int dataBlocksChecked;

    @Test
    @Timeout(value = 10, unit = TimeUnit.MINUTES)
    void concurrentOperationsKeepTheInvariants() throws Exception {
        long seed = Long.getLong("model.seed", ThreadLocalRandom.current().nextLong(1, Long.MAX_VALUE / 2));
        int rounds = Integer.getInteger("model.rounds", 6);
        System.out.println("concurrent model: seed " + seed + ", " + rounds + " rounds");
        try (TestMount mount = TestMount.fresh(); ExecutorService pool = Executors.newFixedThreadPool(THREADS)) {
            for (String dir : List.of("d0", "d1", "d0/s")) {
                Posix.mkdir(mount.path(dir), 0755);
            }
            List<Random> randoms = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                randoms.add(new Random(seed * 31 + t));
            }
            for (int round = 0; round < rounds; round++) {
                List<Future<?>> work = new ArrayList<>();
                for (int t = 0; t < THREADS; t++) {
                    int writer = t;
                    work.add(pool.submit(() -> {
                        runThread(mount.root(), writer, randoms.get(writer));
                        return null;
                    }));
                }
                for (Future<?> f : work) {
                    f.get();
                }
                assertThat(violations(mount.root())).as("seed %d, after round %d", seed, round + 1).isEmpty();
            }
            mount.remount();
            assertThat(violations(mount.root())).as("seed %d, after remount", seed).isEmpty();
            mount.unmount();
            assertThat(mount.check()).as("seed %d, consistency check", seed).isEmpty();
            mount.mountAgain();
        }
    }

    private void runThread(Path root, int writer, Random random) {
        int fd = -1;
        try {
            for (int i = 0; i < OPS_PER_ROUND; i++) {
                String file = FILES.get(random.nextInt(FILES.size()));
                String dir = DIRS.get(random.nextInt(DIRS.size()));
                try {
                    switch (random.nextInt(12)) {
                        case 0, 1 -> {
                            if (fd >= 0) {
                                int closing = fd;
                                fd = -1;
                                closeOrFail(closing);
                            }
                            fd = Posix.open(root.resolve(file), Posix.O_RDWR | Posix.O_CREAT, 0644);
                        }
                        case 2, 3, 4 -> {
                            if (fd >= 0) {
                                Posix.pwrite(fd, chunks(writer, 1 + random.nextInt(4)), (long) random.nextInt(16) * BLOCK);
                            }
                        }
                        case 5 -> Posix.truncate(root.resolve(file), (long) random.nextInt(12) * BLOCK);
                        case 6 -> Posix.rename(root.resolve(file), root.resolve(FILES.get(random.nextInt(FILES.size()))),
                                random.nextInt(3));
                        case 7 -> Posix.link(root.resolve(file), root.resolve(FILES.get(random.nextInt(FILES.size()))));
                        case 8 -> Posix.unlink(root.resolve(file));
                        case 9 -> {
                            if (random.nextBoolean()) {
                                Posix.mkdir(root.resolve(dir), 0755);
                            } else {
                                Posix.rmdir(root.resolve(dir));
                            }
                        }
                        case 10 -> Posix.rename(root.resolve(dir), root.resolve(DIRS.get(random.nextInt(DIRS.size()))),
                                random.nextInt(3));
                        default -> {
                            if (fd >= 0) {
                                if (random.nextBoolean()) {
                                    Posix.fsync(fd);
                                } else {
                                    Posix.ftruncate(fd, (long) random.nextInt(12) * BLOCK);
                                }
                            }
                        }
                    }
                } catch (ErrnoException expected) {
                    // Other threads move and remove names all the time; failing calls are part of the game.
                }
            }
        } finally {
            if (fd >= 0) {
                closeOrFail(fd);
            }
        }
    }

    /**
     * Closes {@code fd}; a close that fails is a finding, not part of the game: nothing here stores
     * past a quota or outlives PostgreSQL, so no written data can have been lost.
     */
    private static void closeOrFail(int fd) {
        try {
            Posix.close(fd);
        } catch (ErrnoException e) {
            throw new AssertionError("close(" + fd + ") failed: " + e.getMessage(), e);
        }
    }

    /** {@code count} 4 KiB chunks, each filled with one (writer, sequence) value. */
    private byte[] chunks(int writer, int count) {
        ByteBuffer b = ByteBuffer.allocate(count * BLOCK);
        for (int c = 0; c < count; c++) {
            long sequence = issued.incrementAndGet(writer);
            long value = ((long) (writer + 1) << 32) | sequence;
            for (int i = 0; i < BLOCK / 8; i++) {
                b.putLong(value);
            }
        }
        return b.array();
    }

    private List<String> violations(Path root) {
        filesChecked = 0;
        dataBlocksChecked = 0;
        List<String> found = new ArrayList<>();
        Map<Long, Integer> namesPerInode = new HashMap<>();
        Map<Long, Stat> statPerInode = new HashMap<>();
        Map<Long, String> aName = new HashMap<>();
        walk(root, "", found, namesPerInode, statPerInode, aName);
        System.out.println("concurrent model: checked " + filesChecked + " files with " + dataBlocksChecked
                + " written blocks, " + namesPerInode.size() + " inodes other than directories");
        for (Map.Entry<Long, Integer> e : namesPerInode.entrySet()) {
            Stat s = statPerInode.get(e.getKey());
            if (s.nlink() != e.getValue()) {
                found.add(aName.get(e.getKey()) + ": nlink " + s.nlink() + " but " + e.getValue() + " names");
            }
        }
        return found;
    }

    private void walk(Path root, String relative, List<String> found, Map<Long, Integer> namesPerInode,
            Map<Long, Stat> statPerInode, Map<Long, String> aName) {
        Path dir = relative.isEmpty() ? root : root.resolve(relative);
        int subdirectories = 0;
        for (String name : StateComparison.listing(dir)) {
            String child = relative.isEmpty() ? name : relative + "/" + name;
            Stat s = Posix.lstat(root.resolve(child));
            if ((s.mode() & 0170000) == 0040000) {
                subdirectories++;
                walk(root, child, found, namesPerInode, statPerInode, aName);
            } else {
                namesPerInode.merge(s.ino(), 1, Integer::sum);
                statPerInode.put(s.ino(), s);
                aName.putIfAbsent(s.ino(), child);
                if (FsSide.isRegular(s.mode())) {
                    checkContents(root.resolve(child), child, s, found);
                    filesChecked++;
                }
            }
        }
        long nlink = Posix.lstat(dir).nlink();
        if (nlink != 2 + subdirectories) {
            found.add((relative.isEmpty() ? "/" : relative) + ": nlink " + nlink + " but " + subdirectories
                    + " subdirectories");
        }
    }

    private void checkContents(Path file, String name, Stat stat, List<String> found) {
        int fd = Posix.open(file, Posix.O_RDONLY, 0);
        byte[] content;
        try {
            content = FsSide.readAll(fd);
        } finally {
            Posix.close(fd);
        }
        if (content.length != stat.size()) {
            found.add(name + ": st_size " + stat.size() + " but " + content.length + " bytes readable");
        }
        ByteBuffer b = ByteBuffer.wrap(content);
        for (int block = 0; block * BLOCK < content.length; block++) {
            int start = block * BLOCK;
            int end = Math.min(content.length, start + BLOCK);
            long first = b.getLong(start);
            boolean uniform = (end - start) % 8 == 0;
            for (int i = start; uniform && i < end; i += 8) {
                uniform = b.getLong(i) == first;
            }
            int writer = (int) (first >>> 32) - 1;
            long sequence = first & 0xffffffffL;
            boolean known = first == 0 || writer >= 0 && writer < THREADS && sequence >= 1 && sequence <= issued.get(writer);
            if (first != 0) {
                dataBlocksChecked++;
            }
            if (!uniform || !known) {
                found.add(name + ": block " + block + " is torn or unknown (starts with " + Long.toHexString(first) + ")");
                return;
            }
        }
    }
}
