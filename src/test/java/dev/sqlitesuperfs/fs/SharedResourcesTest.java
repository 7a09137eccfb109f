package dev.sqlitesuperfs.fs;

import static dev.sqlitesuperfs.fs.FsFixture.BLOCK;
import static dev.sqlitesuperfs.fs.FsFixture.bytes;
import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.fuse.CreateResult;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;

/**
 * Namespaces of one host sharing a block cache, a bound on unstored data and the write-back
 * thread: what one tenant does must not take the others' share.
 */
class SharedResourcesTest {

    @Test
    void aStreamingTenantEvictsItsOwnBlocksAndLeavesTheOthersHotOnes() {
        BlockCache cache = new BlockCache(100L * BLOCK);
        BlockCache.Tenant hot = cache.tenant();
        BlockCache.Tenant streaming = cache.tenant();
        byte[] block = new byte[BLOCK];
        for (int i = 0; i < 40; i++) {
            hot.put(1, i, block);
        }
        for (int i = 0; i < 10_000; i++) {
            streaming.put(7, i, block);
            if (i % 100 == 0) {
                for (int h = 0; h < 40; h++) {
                    assertThat(hot.get(1, h)).as("hot block %d after %d streamed", h, i).isNotNull();
                }
            }
        }
        assertThat(cache.bytes()).isLessThanOrEqualTo(100L * BLOCK);
        assertThat(streaming.get(7, 9_999)).as("the streamer keeps its newest blocks").isNotNull();
    }

    @Test
    void aTenantUnderItsShareTakesRoomFromTheOneHoldingTheMost() {
        BlockCache cache = new BlockCache(100L * BLOCK);
        BlockCache.Tenant big = cache.tenant();
        BlockCache.Tenant small = cache.tenant();
        byte[] block = new byte[BLOCK];
        for (int i = 0; i < 100; i++) {
            big.put(1, i, block);
        }
        for (int i = 0; i < 30; i++) {
            small.put(2, i, block);
        }
        for (int i = 0; i < 30; i++) {
            assertThat(small.get(2, i)).as("block %d of the small tenant", i).isNotNull();
        }
        assertThat(cache.bytes()).isEqualTo(100L * BLOCK);
        big.close();
        assertThat(cache.bytes()).as("an unmounted tenant gives its blocks back").isEqualTo(30L * BLOCK);
    }

    @Test
    void pastTheSharedBoundOnlyTenantsOverTheirShareStoreEarly() {
        DirtyBudget budget = new DirtyBudget(100);
        DirtyBudget.Tenant heavy = budget.tenant(1_000);
        DirtyBudget.Tenant light = budget.tenant(1_000);
        heavy.add(90);
        light.add(20);
        assertThat(heavy.overLimit()).as("over its share of 50 with the total past 100").isTrue();
        assertThat(light.overLimit()).as("under its share").isFalse();
        heavy.add(100);
        assertThat(light.overLimit()).as("past twice the bound every tenant stores").isTrue();
        heavy.close();
        assertThat(budget.bytes()).isEqualTo(20);
        assertThat(light.overLimit()).isFalse();
        DirtyBudget.Tenant own = budget.tenant(10);
        own.add(11);
        assertThat(own.overLimit()).as("a tenant's own bound holds whatever the total").isTrue();
    }

    @Test
    void aNamespaceWhoseServerHangsDoesNotHoldUpTheWriteBackOfAnother() throws Exception {
        Duration delay = Duration.ofMillis(200);
        try (FsResources shared = FsResources.shared(64L * BLOCK, 64L << 20);
                FsFixture slow = new FsFixture(shared, delay);
                FsFixture quick = new FsFixture(shared, delay)) {
            CountDownLatch gate = new CountDownLatch(1);
            try {
                CreateResult a = slow.create(1, "a");
                slow.store().holdCommits(gate);
                slow.write(a.entry().nodeId(), a.open().fh(), 0, bytes("held"));
                awaitTrue(() -> slow.store().commitsWaiting() > 0, "the slow namespace's write-back to be under way");

                CreateResult b = quick.create(1, "b");
                long bIno = b.entry().nodeId();
                quick.write(bIno, b.open().fh(), 0, bytes("stored anyway"));
                awaitTrue(() -> !quick.store().tables().blocksOf(bIno).isEmpty(),
                        "the quick namespace's data to be written back while the other waits");
            } finally {
                gate.countDown();
            }
            awaitTrue(() -> slow.store().commitsWaiting() == 0, "the slow namespace to finish");
            assertThat(shared.namespaces()).isEqualTo(2);
        }
    }

    private static void awaitTrue(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime() - deadline).as("waiting for " + what).isNegative();
            Thread.sleep(20);
        }
    }
}
