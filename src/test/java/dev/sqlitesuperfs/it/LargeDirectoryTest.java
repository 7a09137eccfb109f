package dev.sqlitesuperfs.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.testing.Posix;
import dev.sqlitesuperfs.testing.TestMount;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.IntConsumer;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Directories of 10,000 and (slow) 100,000 entries: created, listed, statted, listed again after
 * a remount, deleted; and directory listings that run while other entries come and go. The
 * phases' durations are printed, to see where the time goes; none is asserted.
 */
class LargeDirectoryTest {
    private static final int THREADS = 8;

    @RegisterExtension
    static final TestMount mount = TestMount.perClass();

    private static void parallel(int count, IntConsumer action) {
        try (ExecutorService pool = Executors.newFixedThreadPool(THREADS)) {
            List<Future<?>> parts = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                int first = t;
                parts.add(pool.submit(() -> {
                    for (int i = first; i < count; i += THREADS) {
                        action.accept(i);
                    }
                }));
            }
            for (Future<?> part : parts) {
                part.get();
            }
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    /** Names as readdir returns them, counted. */
    private static Map<String, Integer> list(Path dir) throws IOException {
        Map<String, Integer> seen = new HashMap<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            for (Path p : entries) {
                seen.merge(p.getFileName().toString(), 1, Integer::sum);
            }
        }
        return seen;
    }

    private static long phase(String name, long startNs) {
        long now = System.nanoTime();
        System.out.printf("LargeDirectoryTest: %-32s %6d ms%n", name, (now - startNs) / 1_000_000);
        return now;
    }

    private static String name(int i) {
        return "entry-" + i;
    }

    @Test
    void tenThousandEntries() throws IOException {
        manyEntries("ten-thousand", 10_000);
    }

    /** About four minutes on two busy cores: every create and unlink is its own PostgreSQL commit. */
    @Test
    @Tag("slow")
    void aHundredThousandEntries() throws IOException {
        manyEntries("hundred-thousand", 100_000);
    }

    private void manyEntries(String dirName, int count) throws IOException {
        Path dir = mount.path(dirName);
        Files.createDirectory(dir);
        long t = System.nanoTime();
        parallel(count, i -> {
            int fd = Posix.open(dir.resolve(name(i)), Posix.O_CREAT | Posix.O_EXCL | Posix.O_WRONLY, 0644);
            Posix.close(fd);
        });
        t = phase("create " + count + " files", t);

        assertListsEveryEntryOnce(dir, count);
        t = phase("list " + count, t);
        Random random = new Random(3);
        for (int k = 0; k < 1000; k++) {
            int i = random.nextInt(count);
            assertThat(Posix.lstat(dir.resolve(name(i))).mode()).isEqualTo(0100644);
        }
        assertThat(Posix.errnoOf(() -> Posix.lstat(dir.resolve(name(count))))).isEqualTo(2);
        t = phase("stat 1,000 of " + count, t);

        mount.remount();
        t = phase("remount", t);
        assertListsEveryEntryOnce(dir, count);
        t = phase("list " + count + " after remount", t);
        assertThat(Posix.lstat(dir).nlink()).isEqualTo(2);

        parallel(count, i -> Posix.unlink(dir.resolve(name(i))));
        t = phase("unlink " + count, t);
        assertThat(list(dir)).isEmpty();
        Posix.rmdir(dir);
        phase("list empty, rmdir", t);
    }

    private static void assertListsEveryEntryOnce(Path dir, int count) throws IOException {
        Map<String, Integer> seen = list(dir);
        assertThat(seen).hasSize(count);
        assertThat(seen.values()).containsOnly(1);
        for (int i = 0; i < count; i += 997) {
            assertThat(seen).containsKey(name(i));
        }
    }

    @Test
    void aNameReplacedByRenameDuringAListingIsListedOnce() throws IOException {
        Path dir = mount.path("replaced");
        Files.createDirectory(dir);
        for (int i = 0; i < 2000; i++) {
            Files.createFile(dir.resolve("name-" + i));
        }
        Map<String, Integer> seen = new HashMap<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            var it = entries.iterator();
            // the first names are returned (the rest is fetched later, in further readdir calls) ...
            for (int i = 0; i < 10; i++) {
                seen.merge(it.next().getFileName().toString(), 1, Integer::sum);
            }
            // ... then one of them is replaced by a new inode under the same name
            Path replacement = Files.createFile(dir.resolve("replacement"));
            String first = seen.keySet().iterator().next();
            Posix.rename(replacement, dir.resolve(first), 0);
            while (it.hasNext()) {
                seen.merge(it.next().getFileName().toString(), 1, Integer::sum);
            }
        }
        assertThat(seen).hasSize(2000);
        assertThat(seen.values()).containsOnly(1);
    }

    @Test
    void listingsWhileEntriesComeAndGoSeeEveryStableEntryExactlyOnce() throws Exception {
        Path dir = mount.path("churn");
        Files.createDirectory(dir);
        int stable = 5_000;
        parallel(stable, i -> {
            try {
                Files.createFile(dir.resolve("stable-" + i));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
        AtomicBoolean stop = new AtomicBoolean();
        AtomicInteger churned = new AtomicInteger();
        AtomicReference<Throwable> churnFailure = new AtomicReference<>();
        Thread churn = Thread.ofPlatform().uncaughtExceptionHandler((thread, e) -> churnFailure.set(e)).start(() -> {
            int i = 0;
            while (!stop.get()) {
                try {
                    Files.createFile(dir.resolve("churn-" + i));
                    if (i >= 20) {
                        Files.delete(dir.resolve("churn-" + (i - 20)));
                    }
                    // a stable entry's name replaced by a new inode: either version may be listed, but once
                    if (i % 10 == 0) {
                        Path tmp = dir.resolve("tmp-" + i);
                        Files.createFile(tmp);
                        Files.move(tmp, dir.resolve("stable-" + (i % stable)), StandardCopyOption.REPLACE_EXISTING,
                                StandardCopyOption.ATOMIC_MOVE);
                    }
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
                i++;
                churned.set(i);
            }
        });
        try {
            for (int scan = 0; scan < 5 || (churned.get() < 100 && churn.isAlive()); scan++) {
                Map<String, Integer> seen = list(dir);
                for (int i = 0; i < stable; i++) {
                    assertThat(seen.get("stable-" + i)).as("scan %d, stable-%d", scan, i).isNotNull();
                }
                List<String> duplicates = seen.entrySet().stream().filter(e -> e.getValue() > 1).map(Map.Entry::getKey).toList();
                assertThat(duplicates).as("scan %d", scan).isEmpty();
            }
        } finally {
            stop.set(true);
            churn.join();
        }
        assertThat(churnFailure.get()).as("the creating and deleting thread's failure").isNull();
        System.out.printf("LargeDirectoryTest: %d churn steps during the listings of %d entries%n", churned.get(), stable);
        assertThat(churned.get()).isPositive();
    }
}
