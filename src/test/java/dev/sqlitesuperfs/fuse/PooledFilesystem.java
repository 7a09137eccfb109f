package dev.sqlitesuperfs.fuse;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@link MemoryFilesystem} with two ways to hold a worker of its request pool: statfs waits while
 * {@link #holdStatfs} is closed, and GETXATTR of {@link #WRITEBACK_XATTR} first makes the kernel
 * write back the file's dirty pages ({@link KernelChannel#writeBackPages}), as the real filesystem
 * does before it stores a file. Writebacks of several mounts (or requests) can be made to start
 * together: each then first waits at a shared {@link CyclicBarrier}.
 */
final class PooledFilesystem extends MemoryFilesystem {
    static final String WRITEBACK_XATTR = "user.writeback";

    /** Requests that are waiting in statfs now. */
    final AtomicInteger statfsWaiting = new AtomicInteger();
    private final CountDownLatch statfsGate = new CountDownLatch(1);
    private volatile boolean holding;
    /** WRITEs answered while a writeback of this filesystem waited for them. */
    final AtomicInteger writesDuringWriteback = new AtomicInteger();
    private final AtomicInteger writes = new AtomicInteger();
    private volatile KernelChannel channel;
    private volatile CyclicBarrier writebacksStartTogether;

    @Override
    public void init(KernelConnection kernel, KernelChannel kernelChannel) {
        super.init(kernel, kernelChannel);
        channel = kernelChannel;
    }

    /** From now on statfs waits until {@link #releaseStatfs}. */
    void holdStatfs() {
        holding = true;
    }

    void releaseStatfs() {
        statfsGate.countDown();
    }

    @Override
    public StatFs statfs(Caller caller, long ino) {
        if (holding) {
            statfsWaiting.incrementAndGet();
            try {
                if (!statfsGate.await(2, TimeUnit.MINUTES)) {
                    throw new FuseException(Errno.EIO);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new FuseException(Errno.EIO);
            } finally {
                statfsWaiting.decrementAndGet();
            }
        }
        return super.statfs(caller, ino);
    }

    /** Each writeback waits (up to 10 s) at {@code barrier} until as many have come as it has parties. */
    void startWritebacksTogether(CyclicBarrier barrier) {
        writebacksStartTogether = barrier;
    }

    /** Keeps the kernel's cached pages on open, as the real filesystem does: they stay dirty until written back. */
    @Override
    public OpenResult open(Caller caller, long ino, int flags, boolean killSuidGid) {
        return new OpenResult(super.open(caller, ino, flags, killSuidGid).fh(), OpenResult.KEEP_CACHE);
    }

    @Override
    public int write(Caller caller, long ino, long fh, long offset, MemorySegment data, int writeFlags) {
        writes.incrementAndGet();
        return super.write(caller, ino, fh, offset, data, writeFlags);
    }

    @Override
    public byte[] getxattr(Caller caller, long ino, byte[] name) {
        if (new String(name, StandardCharsets.UTF_8).equals(WRITEBACK_XATTR)) {
            meetOtherWritebacks();
            int before = writes.get();
            channel.writeBackPages(ino);
            writesDuringWriteback.addAndGet(writes.get() - before);
        }
        return super.getxattr(caller, ino, name);
    }

    private void meetOtherWritebacks() {
        CyclicBarrier barrier = writebacksStartTogether;
        if (barrier == null) {
            return;
        }
        try {
            barrier.await(10, TimeUnit.SECONDS);
        } catch (BrokenBarrierException | TimeoutException e) {
            // The others did not come; this writeback goes on alone.
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
