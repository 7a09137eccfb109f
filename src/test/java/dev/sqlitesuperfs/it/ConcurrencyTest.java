package dev.sqlitesuperfs.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.testing.Posix;
import dev.sqlitesuperfs.testing.TestMount;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/** Many threads at once: what each wrote is what it reads, and the tree stays consistent. */
class ConcurrencyTest {

    @Test
    void parallelWritersReadersAndRenamers() throws Exception {
        try (TestMount mount = TestMount.fresh(); ExecutorService pool = Executors.newFixedThreadPool(8)) {
            for (int t = 0; t < 8; t++) {
                Files.createDirectory(mount.path("w" + t));
            }
            List<Future<?>> work = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                int worker = t;
                work.add(pool.submit(() -> {
                    Random r = new Random(worker);
                    Path dir = mount.path("w" + worker);
                    for (int i = 0; i < 60; i++) {
                        byte[] data = new byte[r.nextInt(200_000)];
                        r.nextBytes(data);
                        Path tmp = dir.resolve("tmp");
                        Files.write(tmp, data);
                        Path target = mount.path("shared-" + (i % 5) + "-" + worker);
                        Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                        assertThat(Files.readAllBytes(target)).isEqualTo(data);
                        if (i % 7 == 0) {
                            Path sub = Files.createDirectories(dir.resolve("sub" + i));
                            Files.move(sub, mount.path("w" + ((worker + 1) % 8)).resolve("from" + worker + "-" + i));
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : work) {
                f.get();
            }
            for (int w = 0; w < 8; w++) {
                // 2 + the subdirectories moved in from the neighbour (9 per worker: i = 0, 7, ..., 56)
                assertThat(Posix.lstat(mount.path("w" + w)).nlink()).isEqualTo(2 + 9);
            }
            mount.remount();
            for (int w = 0; w < 8; w++) {
                assertThat(Posix.lstat(mount.path("w" + w)).nlink()).isEqualTo(2 + 9);
            }
        }
    }

    @Test
    void parallelWritesToDisjointRangesOfOneFile() throws Exception {
        try (TestMount mount = TestMount.fresh(); ExecutorService pool = Executors.newFixedThreadPool(8)) {
            Path f = mount.path("shared-file");
            int chunk = 64 * 1024 + 123;
            int fd = Posix.open(f, Posix.O_CREAT | Posix.O_RDWR, 0644);
            try {
                List<Future<?>> work = new ArrayList<>();
                for (int t = 0; t < 8; t++) {
                    int worker = t;
                    work.add(pool.submit(() -> {
                        byte[] data = new byte[chunk];
                        Arrays.fill(data, (byte) (worker + 1));
                        for (int round = 0; round < 10; round++) {
                            Posix.pwrite(fd, data, (long) (round * 8 + worker) * chunk);
                        }
                        return null;
                    }));
                }
                for (Future<?> w : work) {
                    w.get();
                }
                Posix.fsync(fd);
            } finally {
                Posix.close(fd);
            }
            mount.remount();
            byte[] all = Files.readAllBytes(f);
            assertThat(all).hasSize(80 * chunk);
            for (int slot = 0; slot < 80; slot++) {
                byte expected = (byte) (slot % 8 + 1);
                for (int i = 0; i < chunk; i += 997) {
                    assertThat(all[slot * chunk + i]).isEqualTo(expected);
                }
            }
        }
    }
}
