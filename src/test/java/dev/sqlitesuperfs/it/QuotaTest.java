package dev.sqlitesuperfs.it;

import static dev.sqlitesuperfs.fuse.Errno.ENOSPC;
import static dev.sqlitesuperfs.testing.Posix.errnoOf;
import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.testing.CliMount;
import dev.sqlitesuperfs.testing.Posix;
import dev.sqlitesuperfs.testing.TestMount;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * A namespace's quota: a write that does not fit fails at once with ENOSPC, from the write(2)
 * itself, and changes nothing; what was accepted is stored whole. Nothing past the quota is ever
 * accepted, not even by writers racing each other.
 */
class QuotaTest {
    static final int BLOCK = 4096;
    static final int QUOTA_BLOCKS = 64;

    @Test
    void aWritePastTheQuotaFailsAtOnceAndWhatWasAcceptedIsStoredWhole() throws IOException {
        try (TestMount mount = TestMount.fresh("--quota", "1M")) {
            Path f = mount.path("filler");
            byte[] chunk = new byte[64 * 1024];
            new SplittableRandom(3).nextBytes(chunk);
            int fd = Posix.open(f, Posix.O_CREAT | Posix.O_WRONLY, 0644);
            long accepted = 0;
            int refusal;
            try {
                for (;;) {
                    long at = accepted;
                    refusal = errnoOf(() -> Posix.pwrite(fd, chunk, at));
                    if (refusal != 0) {
                        break;
                    }
                    accepted += chunk.length;
                    assertThat(accepted).as("accepted past the quota").isLessThanOrEqualTo(1 << 20);
                }
                assertThat(refusal).isEqualTo(ENOSPC);
                assertThat(accepted).as("the whole quota, no more").isEqualTo(1 << 20);
                // a refused write changes nothing: the file can still be synced and closed cleanly
                Posix.fsync(fd);
            } finally {
                Posix.close(fd);
            }
            assertThat(Posix.statfs(mount.root()).bavail()).isZero();
            // overwriting in place needs no space
            byte[] again = Arrays.copyOf(chunk, BLOCK);
            Arrays.fill(again, (byte) 7);
            int rw = Posix.open(f, Posix.O_WRONLY, 0);
            try {
                Posix.pwrite(rw, again, 0);
                Posix.fsync(rw);
            } finally {
                Posix.close(rw);
            }
            mount.remount();
            byte[] stored = Files.readAllBytes(f);
            assertThat(stored).hasSize(1 << 20);
            assertThat(Arrays.copyOf(stored, BLOCK)).isEqualTo(again);
            assertThat(Arrays.copyOfRange(stored, BLOCK, chunk.length)).isEqualTo(Arrays.copyOfRange(chunk, BLOCK,
                    chunk.length));
            // a truncation frees space once it is stored
            int cut = Posix.open(f, Posix.O_WRONLY, 0);
            try {
                Posix.ftruncate(cut, 512 * 1024);
                Posix.fsync(cut);
            } finally {
                Posix.close(cut);
            }
            int fd2 = Posix.open(mount.path("second"), Posix.O_CREAT | Posix.O_WRONLY, 0644);
            try {
                Posix.fsync(fd2);
                Posix.write(fd2, new byte[256 * 1024]);
                Posix.fsync(fd2);
            } finally {
                Posix.close(fd2);
            }
        }
    }

    /**
     * Pages of a shared mapping reach the mount only when the kernel writes them back, long after
     * the stores into them: past the quota, that writeback fails, msync and close report it, and
     * the file's unstored data is given up as a whole, never kept in part. Storage keeps the file
     * as it was before the mapping was written.
     */
    @Test
    void pagesOfAMappingWrittenBackPastTheQuotaAreLostWholeAndReported() throws IOException {
        // in a process of its own, since this test maps a file of the mount (see CliMount)
        try (CliMount mount = CliMount.fresh("--quota", "1M")) {
            Path f = mount.path("mapped");
            byte[] before = new byte[100_000];
            Arrays.fill(before, (byte) 'o');
            Files.write(f, before);
            int sync = Posix.open(f, Posix.O_RDWR, 0);
            Posix.fsync(sync);
            Posix.close(sync);

            int size = 2 << 20;
            int fd = Posix.open(f, Posix.O_RDWR, 0);
            int closing;
            try {
                Posix.ftruncate(fd, size);
                var map = Posix.mmap(fd, size, Posix.PROT_READ | Posix.PROT_WRITE, 0);
                try {
                    map.fill((byte) 'n');
                    assertThat(errnoOf(() -> Posix.msync(map, Posix.MS_SYNC))).as("msync").isNotZero();
                } finally {
                    Posix.munmap(map);
                }
                int again = errnoOf(() -> Posix.fsync(fd));
                assertThat(again).as("the loss is reported once per open file").isZero();
            } finally {
                closing = errnoOf(() -> Posix.close(fd));
            }
            assertThat(closing).isZero();
            assertThat(mount.output()).contains("written data not stored and lost", "quota of 1048576 bytes is full");
            mount.remount();
            byte[] stored = Files.readAllBytes(f);
            assertThat(stored.length).as("the size before the mapping was written").isEqualTo(before.length);
            assertThat(Arrays.equals(stored, before)).as("the bytes before the mapping was written").isTrue();
            assertThat(Posix.statfs(mount.root()).bfree()).isPositive();
            mount.unmount();
            assertThat(mount.check()).isEmpty();
        }
    }

    /** Writers racing for the last blocks: together they never get more than the quota. */
    @Test
    void racingWritersNeverGetPastTheQuota() throws Exception {
        try (TestMount mount = TestMount.fresh("--quota", "1M")) {
            int writers = 4;
            List<Thread> threads = new ArrayList<>();
            long[] accepted = new long[writers];
            for (int w = 0; w < writers; w++) {
                int me = w;
                threads.add(Thread.ofPlatform().start(() -> {
                    int fd = Posix.open(mount.path("w" + me), Posix.O_CREAT | Posix.O_WRONLY, 0644);
                    try {
                        byte[] data = new byte[3 * BLOCK];
                        // bounded, so that a quota that lets everything through fails the test
                        while (accepted[me] <= (1 << 20) && errnoOf(() -> Posix.write(fd, data)) == 0) {
                            accepted[me] += data.length;
                        }
                        Posix.fsync(fd);
                    } finally {
                        Posix.close(fd);
                    }
                }));
            }
            for (Thread t : threads) {
                t.join();
            }
            long total = Arrays.stream(accepted).sum();
            assertThat(total).isLessThanOrEqualTo(1 << 20).isGreaterThan((1 << 20) - writers * 3L * BLOCK);
            mount.remount();
            long stored = 0;
            for (int w = 0; w < writers; w++) {
                assertThat(Files.size(mount.path("w" + w))).isEqualTo(accepted[w]);
                stored += accepted[w];
            }
            assertThat(stored).isEqualTo(total);
        }
    }

    /**
     * Seeded random writes, truncations and fsyncs on a few files under a quota of 64 blocks,
     * against a model of which blocks each file has and which of them are stored: every write is
     * accepted exactly when the blocks it adds fit (a block rewritten in place adds nothing, a
     * truncation frees its blocks when it is stored), a refused write changes nothing, and after
     * every remount the files are what the model says.
     */
    @Test
    void randomWritesTruncationsAndSyncsAgreeWithTheQuotaModel() throws IOException {
        long seed = Long.getLong("quota.seed", new SplittableRandom().nextLong(1, 1L << 40));
        System.out.println("quota model: seed " + seed + " (-Dquota.seed=" + seed + " replays it)");
        SplittableRandom random = new SplittableRandom(seed);
        try (TestMount mount = TestMount.fresh("--quota", String.valueOf(QUOTA_BLOCKS * BLOCK),
                "--writeback-delay", "3600")) {
            ModelFile[] files = new ModelFile[3];
            for (int i = 0; i < files.length; i++) {
                files[i] = new ModelFile(mount.path("f" + i));
            }
            for (int step = 1; step <= 400; step++) {
                ModelFile f = files[random.nextInt(files.length)];
                int kind = random.nextInt(10);
                String what;
                if (kind < 6) {
                    long offset = random.nextLong(0, 40L * BLOCK);
                    byte[] data = new byte[random.nextInt(1, 6 * BLOCK)];
                    random.nextBytes(data);
                    what = "write " + data.length + " at " + offset + " to " + f.path.getFileName();
                    // as a program writes: a short write is followed by a write of the rest
                    int done = 0;
                    while (done < data.length) {
                        byte[] rest = Arrays.copyOfRange(data, done, data.length);
                        long adds = f.blocksAdded(offset + done, rest.length);
                        long free = QUOTA_BLOCKS - used(files);
                        long written = f.write(offset + done, rest);
                        String attempt = what + ": " + rest.length + " bytes at " + (offset + done) + " add " + adds
                                + " blocks of " + free + " free";
                        if (written < 0) {
                            assertThat(adds).as("step %d (seed %d): refused, %s", step, seed, attempt)
                                    .isGreaterThan(free);
                            break;
                        }
                        if (written == rest.length) {
                            assertThat(adds).as("step %d (seed %d): accepted, %s", step, seed, attempt)
                                    .isLessThanOrEqualTo(free);
                        }
                        done += (int) written;
                    }
                } else if (kind < 8) {
                    long size = random.nextLong(0, 30L * BLOCK);
                    what = "truncate " + f.path.getFileName() + " to " + size;
                    f.truncate(size);
                } else {
                    what = "fsync " + f.path.getFileName();
                    f.fsync();
                }
                assertThat(f.readBack()).as("step %d (seed %d): %s", step, seed, what).isEqualTo(f.content);
                if (step % 100 == 0) {
                    for (ModelFile m : files) {
                        m.close();
                    }
                    mount.remount();
                    for (ModelFile m : files) {
                        m.stored = m.rows();
                        assertThat(m.exists() ? Files.readAllBytes(m.path) : new byte[0])
                                .as("after remount at step %d (seed %d): %s", step, seed, m.path.getFileName())
                                .isEqualTo(m.content);
                    }
                }
            }
        }
    }

    private static long used(ModelFile[] files) {
        long used = 0;
        for (ModelFile f : files) {
            used += f.charged();
        }
        return used;
    }

    /** One file as the quota sees it: its content, its blocks, and the blocks storage has. */
    static final class ModelFile {
        final Path path;
        byte[] content = new byte[0];
        /** Blocks that hold data: written, and not cut away since. */
        final TreeSet<Long> blocks = new TreeSet<>();
        /** The blocks storage has: those of the last fsync (or remount). */
        Set<Long> stored = new HashSet<>();
        /** Blocks written since the last fsync. */
        final TreeSet<Long> dirty = new TreeSet<>();
        int fd = -1;

        ModelFile(Path path) {
            this.path = path;
        }

        boolean exists() {
            return Files.exists(path);
        }

        Set<Long> rows() {
            return new HashSet<>(blocks);
        }

        /** Stored blocks plus written blocks that storage does not have: what the quota counts. */
        long charged() {
            long extra = dirty.stream().filter(b -> !stored.contains(b)).count();
            return stored.size() + extra;
        }

        long blocksAdded(long offset, int length) {
            long adds = 0;
            for (long b = offset / BLOCK; b <= (offset + length - 1) / BLOCK; b++) {
                if (!dirty.contains(b) && !stored.contains(b)) {
                    adds++;
                }
            }
            return adds;
        }

        private int fd() {
            if (fd < 0) {
                fd = Posix.open(path, Posix.O_CREAT | Posix.O_RDWR, 0644);
            }
            return fd;
        }

        /** Bytes written (maybe fewer than asked), or -1 for ENOSPC with nothing written. */
        long write(long offset, byte[] data) {
            long[] written = {0};
            int errno = errnoOf(() -> written[0] = Posix.pwrite(fd(), data, offset));
            if (errno != 0) {
                assertThat(errno).isEqualTo(ENOSPC);
                return -1;
            }
            int n = (int) written[0];
            assertThat(n).isPositive();
            if (content.length < offset + n) {
                content = Arrays.copyOf(content, (int) (offset + n));
            }
            System.arraycopy(data, 0, content, (int) offset, n);
            for (long b = offset / BLOCK; b <= (offset + n - 1) / BLOCK; b++) {
                blocks.add(b);
                dirty.add(b);
            }
            return n;
        }

        void truncate(long size) {
            Posix.ftruncate(fd(), size);
            content = Arrays.copyOf(content, (int) size);
            long keep = (size + BLOCK - 1) / BLOCK;
            blocks.tailSet(keep, true).clear();
            dirty.tailSet(keep, true).clear();
            if (size % BLOCK != 0 && blocks.contains(size / BLOCK)) {
                // the cut last block is written again, cut
                dirty.add(size / BLOCK);
            }
        }

        void fsync() {
            Posix.fsync(fd());
            stored = rows();
            dirty.clear();
        }

        byte[] readBack() {
            if (fd < 0 && !exists()) {
                return new byte[0];
            }
            int size = content.length;
            return size == 0 ? new byte[0] : Posix.pread(fd(), size + 1, 0);
        }

        void close() {
            if (fd >= 0) {
                Posix.close(fd);
                fd = -1;
            }
            dirty.clear();
        }
    }
}
