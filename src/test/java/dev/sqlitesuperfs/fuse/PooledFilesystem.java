package dev.sqlitesuperfs.fuse;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@link MemoryFilesystem} with two ways to hold a worker of its request pool: statfs waits while
 * {@link #holdStatfs} is closed, and GETXATTR of {@link #WRITEBACK_XATTR} first makes the kernel
 * write back the file's dirty pages ({@link KernelChannel#writeBackPages}), as the real filesystem
 * does before it stores a file.
 */
final class PooledFilesystem extends MemoryFilesystem {
    static final String WRITEBACK_XATTR = "user.writeback";

    /** Requests that are waiting in statfs now. */
    final AtomicInteger statfsWaiting = new AtomicInteger();
    private final CountDownLatch statfsGate = new CountDownLatch(1);
    private volatile boolean holding;
    private volatile KernelChannel channel;

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

    @Override
    public byte[] getxattr(Caller caller, long ino, byte[] name) {
        if (new String(name, java.nio.charset.StandardCharsets.UTF_8).equals(WRITEBACK_XATTR)) {
            channel.writeBackPages(ino);
        }
        return super.getxattr(caller, ino, name);
    }
}
