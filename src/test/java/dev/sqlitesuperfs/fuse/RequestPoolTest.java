package dev.sqlitesuperfs.fuse;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.testing.Posix;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLongArray;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real mounts of {@link PooledFilesystem} served together by one {@link RequestPool} with few
 * workers: idle mounts cost no thread, one mount's hung requests or its unmount leave the others
 * served, and writebacks (which wait for WRITEs other workers must answer) do not deadlock.
 * A test that sees the pool stuck aborts the connections (fusectl), so that it fails instead of
 * leaving hung mounts behind.
 */
@Timeout(value = 300, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class RequestPoolTest {
    private static final String POOL = "pool-test";
    private static final Duration STUCK = Duration.ofSeconds(60);

    @TempDir
    Path tmp;

    private RequestPool pool;
    private final List<FuseSession> sessions = new ArrayList<>();
    private final List<PooledFilesystem> filesystems = new ArrayList<>();
    private final List<Path> mounts = new ArrayList<>();
    private final ExecutorService callers = Executors.newCachedThreadPool();

    @AfterEach
    void closeEverything() throws Exception {
        try {
            filesystems.forEach(PooledFilesystem::releaseStatfs);
            for (FuseSession session : sessions) {
                session.close();
            }
            if (pool != null) {
                pool.close();
            }
            assertThat(mounts).noneMatch(TestMounts::isMounted);
            assertThat(poolThreads()).isZero();
        } finally {
            callers.shutdownNow();
            for (Path mount : mounts) {
                TestMounts.forceUnmount(mount);
            }
        }
    }

    @Test
    void idleMountsCostNoThread() throws Exception {
        pool = RequestPool.start(POOL, 4);
        for (int i = 0; i < 5; i++) {
            mount();
            use(i);
        }
        long threadsWithFive = processThreads();
        for (int i = 5; i < 40; i++) {
            mount();
            use(i);
        }
        long threadsWithForty = processThreads();

        // A few threads of the JVM's own (compiler threads) may come and go; a thread per mount
        // would be 35 more.
        assertThat(threadsWithForty - threadsWithFive).as("threads of 40 mounts beyond those of 5").isLessThan(5);
        assertThat(poolThreads()).isEqualTo(4);
        assertThat(pool.sessions()).isEqualTo(40);
        for (int i = 0; i < 40; i++) {
            assertThat(Files.readString(mounts.get(i).resolve("file"))).isEqualTo("mount " + i);
        }
    }

    @Test
    void aMountWhoseRequestsHangHoldsAtMostItsCapAndTheOthersAreServed() throws Exception {
        pool = RequestPool.start(POOL, 4, 2);
        PooledFilesystem hung = mount();
        mount();
        mount();
        hung.holdStatfs();
        List<Future<?>> statfs = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            statfs.add(callers.submit(() -> Files.getFileStore(mounts.get(0)).getTotalSpace()));
        }
        awaitUntil(() -> hung.statfsWaiting.get() >= 2);
        Thread.sleep(300);
        assertThat(hung.statfsWaiting.get()).as("requests of the hung mount in its filesystem").isEqualTo(2);

        awaitAll(List.of(callers.submit(() -> use(1)), callers.submit(() -> use(2)),
                callers.submit(() -> Files.getFileStore(mounts.get(2)).getTotalSpace())));
        assertThat(statfs).noneMatch(Future::isDone);

        hung.releaseStatfs();
        awaitAll(statfs);
    }

    @Test
    void unmountingOneMountLeavesTheOthersServing() throws Exception {
        pool = RequestPool.start(POOL, 3, 2);
        for (int i = 0; i < 4; i++) {
            mount();
        }
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLongArray rounds = new AtomicLongArray(4);
        List<Future<?>> busy = new ArrayList<>();
        for (int i : new int[] {0, 2, 3}) {
            busy.add(callers.submit(() -> {
                while (!stop.get()) {
                    use(i);
                    rounds.incrementAndGet(i);
                }
                return null;
            }));
        }
        awaitUntil(() -> rounds.get(0) > 0 && rounds.get(2) > 0 && rounds.get(3) > 0);

        sessions.get(1).close();
        assertThat(sessions.get(1).awaitTermination(Duration.ofSeconds(10))).isTrue();
        assertThat(TestMounts.isMounted(mounts.get(1))).isFalse();
        assertThat(filesystems.get(1).destroyCalls.get()).isEqualTo(1);

        long[] atClose = {rounds.get(0), rounds.get(2), rounds.get(3)};
        awaitUntil(() -> rounds.get(0) > atClose[0] + 10 && rounds.get(2) > atClose[1] + 10
                && rounds.get(3) > atClose[2] + 10);
        stop.set(true);
        awaitAll(busy);
        assertThat(pool.sessions()).isEqualTo(3);
        assertThat(poolThreads()).isEqualTo(3);
    }

    @Test
    void writebacksOfTwoMountsAtOnceLeaveAWorkerForTheirWrites() throws Exception {
        // Two workers, both in a writeback of its own mount: none would be left for the WRITEs.
        pool = RequestPool.start(POOL, 2, 2);
        mount();
        mount();
        writeBackTogether(0, "a", 1, "a");
    }

    @Test
    void twoWritebacksOfOneMountAtOnceLeaveAPlaceUnderItsCapForItsWrites() throws Exception {
        // The mount may have both workers; one waits in a writeback, the other for the mount's one
        // writeback permit: that wait must neither keep the mount's second place nor its worker.
        pool = RequestPool.start(POOL, 2, 2);
        mount();
        writeBackTogether(0, "a", 0, "b");
    }

    /** Two writers, each of file {@code name} of mount {@code mount}, whose writebacks start together. */
    private void writeBackTogether(int mount1, String name1, int mount2, String name2) throws Exception {
        CyclicBarrier together = new CyclicBarrier(2);
        filesystems.forEach(fs -> fs.startWritebacksTogether(together));
        awaitAll(List.of(callers.submit(() -> writeAndWriteBack(mount1, name1)),
                callers.submit(() -> writeAndWriteBack(mount2, name2))));
        assertThat(filesystems.stream().mapToInt(fs -> fs.writesDuringWriteback.get()).sum())
                .as("WRITEs that writebacks waited for").isPositive();
    }

    /** Writes into the kernel's cache, then has the filesystem write it back while the file is open. */
    private Void writeAndWriteBack(int mount, String name) throws Exception {
        Path file = Files.createFile(mounts.get(mount).resolve(name));
        // By path: opening the file to get at its xattrs could already write its pages back.
        Posix.setxattr(file, PooledFilesystem.WRITEBACK_XATTR, new byte[] {1}, 0);
        byte[] data = new byte[64 * 1024];
        Arrays.fill(data, (byte) mount);
        // One round: the writebacks' meeting holds a worker each, as a hung request would; a
        // second round could find one writer's meeting holding the worker the other's WRITEs need.
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
            channel.write(ByteBuffer.wrap(data), 0);
            assertThat(Posix.getxattrSize(file, PooledFilesystem.WRITEBACK_XATTR, 0)).isEqualTo(1);
            assertThat(filesystems.get(mount).contentOf(name))
                    .as("written back before the xattr was answered").isEqualTo(data);
        }
        return null;
    }

    private PooledFilesystem mount() throws Exception {
        Path mountPoint = Files.createDirectory(tmp.resolve("m" + mounts.size()));
        PooledFilesystem fs = new PooledFilesystem();
        FuseSession session = FuseSession.mount(TestMounts.options(mountPoint), fs, pool);
        mounts.add(mountPoint);
        filesystems.add(fs);
        sessions.add(session);
        session.start();
        return fs;
    }

    /** Writes and reads back a file of mount {@code i}. */
    private Void use(int i) throws Exception {
        Path file = mounts.get(i).resolve("file");
        Files.writeString(file, "mount " + i);
        assertThat(Files.readString(file)).isEqualTo("mount " + i);
        return null;
    }

    /** Waits for every call; if one does not end in time, aborts every connection and fails. */
    private void awaitAll(List<Future<?>> calls) throws Exception {
        long deadline = System.nanoTime() + STUCK.toNanos();
        for (Future<?> call : calls) {
            try {
                call.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (TimeoutException e) {
                abortConnections();
                throw new AssertionError("requests were not answered within " + STUCK, e);
            }
        }
    }

    private void awaitUntil(java.util.function.BooleanSupplier condition) throws Exception {
        long deadline = System.nanoTime() + STUCK.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                abortConnections();
                throw new AssertionError("condition not reached within " + STUCK);
            }
            Thread.sleep(10);
        }
    }

    /** Aborts the FUSE connections of this test's mounts, which ends every request they hang in. */
    private void abortConnections() throws Exception {
        Path connections = Path.of("/sys/fs/fuse/connections");
        if (MountTable.read().stream().noneMatch(m -> m.mountPoint().equals(connections))) {
            // mount(8) only when needed: it can hang on the very mounts this is to free.
            TestMounts.run("mount", "-t", "fusectl", "none", connections.toString());
        }
        List<Path> ours = sessions.stream().map(FuseSession::mountPoint).toList();
        for (MountTable.Mount mount : MountTable.read()) {
            if (ours.contains(mount.mountPoint())) {
                String minor = mount.device().substring(mount.device().indexOf(':') + 1);
                Files.writeString(connections.resolve(minor).resolve("abort"), "1");
            }
        }
    }

    private static long poolThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.isAlive() && t.getName().startsWith(POOL + "-"))
                .count();
    }

    private static long processThreads() throws Exception {
        return Files.readAllLines(Path.of("/proc/self/status"), StandardCharsets.UTF_8).stream()
                .filter(line -> line.startsWith("Threads:"))
                .mapToLong(line -> Long.parseLong(line.substring("Threads:".length()).strip()))
                .findFirst().orElseThrow();
    }
}
