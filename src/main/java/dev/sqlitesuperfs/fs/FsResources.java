package dev.sqlitesuperfs.fs;

import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * What the namespaces mounted by one process share: the block cache, the bound on written data
 * not stored yet, and the write-back thread. Each namespace takes its fair part of each (see
 * {@link BlockCache} and {@link DirtyBudget}). A standalone mount has resources of its own, sized
 * by its settings ({@link Filesystem#open(FsConfig, dev.sqlitesuperfs.sealed.SealedStore)}).
 */
public final class FsResources implements AutoCloseable {
    final BlockCache cache;
    final DirtyBudget dirty;
    final WriteBackScheduler writeBack;
    private final ExecutorService writers;

    private FsResources(long cacheBytes, long dirtyBytes, long tickMs, ExecutorService writers) {
        this.cache = new BlockCache(cacheBytes);
        this.dirty = new DirtyBudget(dirtyBytes);
        this.writers = writers;
        Executor runner = writers != null ? writers : Runnable::run;
        this.writeBack = new WriteBackScheduler(tickMs, runner);
    }

    /**
     * Resources for many namespaces: a block cache of {@code cacheBytes} and at most about
     * {@code dirtyBytes} written but not stored, over all of them.
     */
    public static FsResources shared(long cacheBytes, long dirtyBytes) {
        return new FsResources(cacheBytes, dirtyBytes, 100,
                Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("write-back-", 0).factory()));
    }

    /** Resources of a namespace mounted alone, as its settings size them. */
    static FsResources forOneMount(FsConfig config) {
        return new FsResources(config.cacheBytes(), config.dirtyLimitBytes(),
                WriteBackScheduler.tickFor(config.writebackDelay().toNanos()), null);
    }

    /** Plaintext bytes cached, over all namespaces. */
    public long cachedBytes() {
        return cache.bytes();
    }

    /** Written bytes not stored yet, over all namespaces. */
    public long unstoredBytes() {
        return dirty.bytes();
    }

    /** Namespaces using these resources. */
    public int namespaces() {
        return writeBack.namespaces();
    }

    /** Stops the write-back thread; every namespace must have been unmounted. */
    @Override
    public void close() {
        writeBack.close();
        if (writers != null) {
            writers.shutdown();
        }
    }
}
