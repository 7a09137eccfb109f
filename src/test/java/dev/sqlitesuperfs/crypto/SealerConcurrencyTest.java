package dev.sqlitesuperfs.crypto;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class SealerConcurrencyTest {

    private static final int THREADS = 8;

    private final SecretKey key = SecretKey.random();
    private final UUID namespace = UUID.randomUUID();

    @AfterEach
    void closeKey() {
        key.close();
    }

    private record Sealed(int kind, long ino, long idx, byte[] name, byte[] plain, byte[] sealed) {}

    @Test
    void manyThreadsSealingAndOpeningAtOnceGetCorrectResults() throws Exception {
        ConcurrentLinkedQueue<Sealed> sealedByOthers = new ConcurrentLinkedQueue<>();
        AtomicInteger openedFromOthers = new AtomicInteger();
        CountDownLatch start = new CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(THREADS);
        try (Sealer sealer = new Sealer(key, namespace, 1, 4096)) {
            List<Future<?>> workers = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                long seed = t;
                workers.add(pool.submit(() -> {
                    SplittableRandom random = new SplittableRandom(seed);
                    start.await();
                    for (int i = 0; i < 2000; i++) {
                        Sealed sealed = sealRandom(sealer, random);
                        assertThat(open(sealer, sealed)).isEqualTo(sealed.plain());
                        sealedByOthers.add(sealed);
                        Sealed other = sealedByOthers.poll();
                        if (other != null) {
                            assertThat(open(sealer, other)).isEqualTo(other.plain());
                            openedFromOthers.incrementAndGet();
                        }
                    }
                    return null;
                }));
            }
            start.countDown();
            for (Future<?> worker : workers) {
                worker.get();
            }
            assertThat(openedFromOthers.get()).isEqualTo(THREADS * 2000);
        } finally {
            pool.shutdownNow();
        }
    }

    /**
     * A thread's scratch is shared by every sealer it uses (a host's request thread serves many
     * namespaces): turning from one namespace's sealer to another's, and back, each seal binds to
     * its own namespace, and nothing sealed for one opens under the other.
     */
    @Test
    void oneThreadInterleavingTwoNamespacesKeepsThemApart() throws Exception {
        UUID other = UUID.randomUUID();
        try (Sealer a = new Sealer(key, namespace, 1, 4096); Sealer b = new Sealer(key, other, 1, 65536)) {
            for (int i = 0; i < 100; i++) {
                byte[] plain = ("payload " + i).getBytes(java.nio.charset.StandardCharsets.UTF_8);
                byte[] sealedA = a.sealBlock(i, 0, plain, 0, plain.length);
                byte[] sealedB = b.sealBlock(i, 0, plain, 0, plain.length);
                byte[] symlinkB = b.sealSymlink(i, plain);
                byte[] xattrA = a.sealXattr(i, "user.k".getBytes(java.nio.charset.StandardCharsets.UTF_8), plain);
                byte[] out = new byte[plain.length];
                assertThat(a.openBlock(i, 0, sealedA, out, 0)).isEqualTo(plain.length);
                assertThat(out).isEqualTo(plain);
                assertThat(b.openBlock(i, 0, sealedB, out, 0)).isEqualTo(plain.length);
                assertThat(b.openSymlink(i, symlinkB)).isEqualTo(plain);
                assertThat(a.openXattr(i, "user.k".getBytes(java.nio.charset.StandardCharsets.UTF_8), xattrA))
                        .isEqualTo(plain);
                assertThatThrownBy(() -> b.openBlock(0, 0, sealedA, new byte[plain.length], 0))
                        .isInstanceOf(IntegrityException.class);
                assertThatThrownBy(() -> a.openBlock(0, 0, sealedB, new byte[plain.length], 0))
                        .isInstanceOf(IntegrityException.class);
            }
        }
    }

    @Test
    void closingWhileOtherThreadsSealOnlyEverFailsWithIllegalState() throws Exception {
        Sealer sealer = new Sealer(key, namespace, 1, 4096);
        ConcurrentLinkedQueue<Sealed> produced = new ConcurrentLinkedQueue<>();
        AtomicBoolean started = new AtomicBoolean();
        CountDownLatch running = new CountDownLatch(THREADS);
        ExecutorService pool = Executors.newFixedThreadPool(THREADS);
        try {
            List<Future<Throwable>> workers = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                long seed = 100 + t;
                workers.add(pool.submit(() -> {
                    SplittableRandom random = new SplittableRandom(seed);
                    running.countDown();
                    try {
                        while (true) {
                            produced.add(sealRandom(sealer, random));
                            started.set(true);
                        }
                    } catch (Throwable end) {
                        return end;
                    }
                }));
            }
            running.await();
            while (!started.get()) {
                Thread.onSpinWait();
            }
            sealer.close();
            for (Future<Throwable> worker : workers) {
                assertThat(worker.get()).isInstanceOf(IllegalStateException.class);
            }
        } finally {
            pool.shutdownNow();
        }
        try (Sealer reopened = new Sealer(key, namespace, 1, 4096)) {
            assertThat(produced).isNotEmpty();
            for (Sealed sealed : produced) {
                assertThat(open(reopened, sealed)).isEqualTo(sealed.plain());
            }
        }
    }

    /**
     * The window in which a wipe could slip under a seal lies between fetching the key's segment and
     * libsodium reading it, well under a microsecond; many short rounds of tiny seals give it many
     * chances to be hit.
     */
    @Test
    void closingTheKeyWhileThreadsSealNeverSealsUnderAWipedKey() throws Exception {
        int sealers = Math.max(2, Runtime.getRuntime().availableProcessors());
        ExecutorService pool = Executors.newFixedThreadPool(sealers);
        try {
            for (int round = 0; round < 1000; round++) {
                byte[] keyBytes = Sodium.randomBytes(32);
                SecretKey victim = SecretKey.copyOf(keyBytes);
                ConcurrentLinkedQueue<byte[]> produced = new ConcurrentLinkedQueue<>();
                AtomicInteger count = new AtomicInteger();
                List<Future<Throwable>> workers = new ArrayList<>();
                try (Sealer sealer = new Sealer(victim, namespace, 1, 4096)) {
                    for (int t = 0; t < sealers; t++) {
                        workers.add(pool.submit(() -> {
                            byte[] plain = new byte[1];
                            try {
                                while (true) {
                                    produced.add(sealer.sealBlock(1, 2, plain, 0, 1));
                                    count.incrementAndGet();
                                }
                            } catch (Throwable end) {
                                return end;
                            }
                        }));
                    }
                    while (count.get() < 20 * sealers) {
                        Thread.onSpinWait();
                    }
                    victim.close();
                    for (Future<Throwable> worker : workers) {
                        assertThat(worker.get()).isInstanceOf(IllegalStateException.class);
                    }
                }
                try (SecretKey sameKey = SecretKey.copyOf(keyBytes);
                     Sealer check = new Sealer(sameKey, namespace, 1, 4096)) {
                    for (byte[] sealed : produced) {
                        assertThat(check.openBlock(1, 2, sealed, new byte[1], 0)).as("round %d", round).isEqualTo(1);
                    }
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }

    private static Sealed sealRandom(Sealer sealer, SplittableRandom random) {
        int kind = random.nextInt(3);
        long ino = random.nextLong(1, 1000);
        long idx = random.nextLong(0, 1000);
        byte[] plain = new byte[random.nextInt(0, 4097)];
        random.nextBytes(plain);
        byte[] name = new byte[random.nextInt(0, 40)];
        random.nextBytes(name);
        byte[] sealed = switch (kind) {
            case 0 -> sealer.sealBlock(ino, idx, plain, 0, plain.length);
            case 1 -> sealer.sealSymlink(ino, plain);
            default -> sealer.sealXattr(ino, name, plain);
        };
        return new Sealed(kind, ino, idx, name, plain, sealed);
    }

    private static byte[] open(Sealer sealer, Sealed sealed) throws IntegrityException {
        return switch (sealed.kind()) {
            case 0 -> {
                byte[] dest = new byte[4096];
                int length = sealer.openBlock(sealed.ino(), sealed.idx(), sealed.sealed(), dest, 0);
                yield Arrays.copyOf(dest, length);
            }
            case 1 -> sealer.openSymlink(sealed.ino(), sealed.sealed());
            default -> sealer.openXattr(sealed.ino(), sealed.name(), sealed.sealed());
        };
    }
}
