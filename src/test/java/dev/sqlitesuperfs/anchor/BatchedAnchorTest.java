package dev.sqlitesuperfs.anchor;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The background anchor: commits never wait for it, writes are coalesced, close records the last. */
class BatchedAnchorTest {

    /** An anchor in memory that counts its writes and can be held at the next one. */
    static final class FakeAnchor implements Anchor {
        final AtomicInteger writes = new AtomicInteger();
        final AtomicInteger failuresLeft = new AtomicInteger();
        volatile CountDownLatch gate = new CountDownLatch(0);
        volatile long recorded;
        volatile boolean closed;

        @Override
        public long recorded() {
            return recorded;
        }

        @Override
        public void advance(long number) throws IOException {
            try {
                gate.await();
            } catch (InterruptedException e) {
                throw new IOException(e);
            }
            if (failuresLeft.getAndDecrement() > 0) {
                throw new IOException("disk gone");
            }
            writes.incrementAndGet();
            recorded = Math.max(recorded, number);
        }

        @Override
        public void rebase(long number) {
            recorded = number;
        }

        @Override
        public String describe() {
            return "fake";
        }

        @Override
        public void close() {
            closed = true;
        }
    }

    private static void awaitRecorded(Anchor a, long number) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60); // a deadline meant for a busy machine
        while (a.recorded() < number && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertThat(a.recorded()).isEqualTo(number);
    }

    @Test
    void commitsDoNotWaitAndTheirNumbersAreWrittenTogether() throws Exception {
        FakeAnchor inner = new FakeAnchor();
        inner.gate = new CountDownLatch(1);
        try (BatchedAnchor a = new BatchedAnchor(inner, Duration.ofMillis(20))) {
            a.advance(1); // the background write of 1 is held at the gate
            for (long n = 2; n <= 100; n++) {
                a.advance(n); // returns at once
            }
            assertThat(inner.writes.get()).isZero();
            inner.gate.countDown();
            awaitRecorded(a, 100);
            assertThat(inner.writes.get()).as("1, then everything after it at once").isLessThanOrEqualTo(2);
        }
    }

    @Test
    void closeRecordsTheNewestNumberBeforeItReturns() throws Exception {
        FakeAnchor inner = new FakeAnchor();
        BatchedAnchor a = new BatchedAnchor(inner, Duration.ofHours(1));
        a.advance(5);
        awaitRecorded(a, 5);
        a.advance(9); // waits for the hour
        assertThat(inner.recorded()).isEqualTo(5);
        a.close();
        assertThat(inner.recorded()).isEqualTo(9);
        assertThat(inner.closed).isTrue();
    }

    @Test
    void aFailedWriteIsTriedAgain() throws Exception {
        FakeAnchor inner = new FakeAnchor();
        inner.failuresLeft.set(2);
        try (BatchedAnchor a = new BatchedAnchor(inner, Duration.ofMillis(10))) {
            a.advance(3);
            awaitRecorded(a, 3);
        }
    }
}
