package dev.sqlitesuperfs.fuse;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One mount's /dev/fuse connection as a {@link RequestPool} serves it: how many of its requests are
 * in flight, whether its descriptor is armed in the pool's epoll set, and whether it is still
 * served at all.
 *
 * <p>The descriptor is registered one-shot: each time it is reported readable, exactly one worker
 * takes it and reads one request. That worker re-arms it at once while the connection has fewer
 * than its cap of requests in flight, so other workers can take its next requests concurrently;
 * at the cap it stays disarmed until one of its requests is answered. A connection whose
 * filesystem hangs therefore holds at most its cap of workers, and re-armed descriptors join the
 * end of the kernel's ready list, behind the other mounts waiting there.
 *
 * <p>It stops being served when the kernel ends the connection (unmounted, or aborted) or when
 * its session stops it ({@link #stop}); once its last request in flight is answered it is
 * finished, and the session may close the descriptor.
 */
final class PooledConnection {
    private static final Logger log = LoggerFactory.getLogger(PooledConnection.class);

    private enum State { SERVING, ENDED, STOPPED }

    private final RequestPool pool;
    private final long token;
    private final int fd;
    private final RequestDispatcher dispatcher;
    private final RequestTap tap;
    private final Path mountPoint;
    private final int cap;
    /**
     * Requests of this mount that may wait in {@link KernelChannel#writeBackPages} at once: the
     * kernel's WRITEs that they wait for are this mount's requests too, and need room under its cap.
     */
    private final Semaphore writebackWaiters;
    private final CountDownLatch finished = new CountDownLatch(1);
    private final Runnable onFinished;

    // Guarded by this.
    private State state = State.SERVING;
    private int inFlight;
    /**
     * Requests in flight that wait for a writeback permit of this mount: they do not count against
     * the cap, since the WRITEs that would free a permit need room under it.
     */
    private int steppedAside;
    /** Whether the descriptor is armed in the epoll set (or its one report is on its way to a worker). */
    private boolean armed = true;
    private boolean finishReported;

    PooledConnection(RequestPool pool, long token, int fd, RequestDispatcher dispatcher, RequestTap tap,
            Path mountPoint, int cap, Runnable onFinished) {
        this.pool = pool;
        this.token = token;
        this.fd = fd;
        this.dispatcher = dispatcher;
        this.tap = tap;
        this.mountPoint = mountPoint;
        this.cap = cap;
        this.writebackWaiters = new Semaphore(Math.max(1, cap / 2));
        this.onFinished = onFinished;
    }

    long token() {
        return token;
    }

    int fd() {
        return fd;
    }

    Path mountPoint() {
        return mountPoint;
    }

    /** Reads and answers one request; called by the worker the pool gave this connection's readiness. */
    void serveOne(RequestWorker worker) {
        synchronized (this) {
            if (state != State.SERVING) {
                return;
            }
            // The report that brought this worker here used up the one-shot arming.
            armed = false;
            inFlight++;
        }
        RequestWorker.Read read = worker.read(fd);
        try {
            if (read == RequestWorker.Read.REQUEST) {
                synchronized (this) {
                    rearmIfRoom();
                }
                worker.answer(fd, dispatcher, tap);
            } else if (read == RequestWorker.Read.ENDED) {
                end();
            }
        } finally {
            answered();
        }
    }

    /** A request (or a read that found none) is done: room for the next one. */
    private void answered() {
        boolean nowFinished;
        synchronized (this) {
            inFlight--;
            rearmIfRoom();
            nowFinished = finishIfIdle();
        }
        if (nowFinished) {
            reportFinished();
        }
    }

    /** Re-arms the descriptor unless it is armed already, the cap is reached or serving stopped. */
    private void rearmIfRoom() {
        assert Thread.holdsLock(this);
        if (state == State.SERVING && !armed && inFlight - steppedAside < cap) {
            armed = pool.rearm(this);
        }
    }

    /** The kernel ended the connection: no request follows, those in flight still get answered. */
    private void end() {
        synchronized (this) {
            if (state != State.SERVING) {
                return;
            }
            state = State.ENDED;
            pool.deregister(this);
        }
        log.info("the kernel connection of {} ended", mountPoint);
    }

    /**
     * Stops taking this connection's requests (those the kernel still queues stay unread) and
     * waits up to {@code timeout} for those in flight to be answered.
     *
     * @return whether none is in flight any more, so the descriptor may be closed
     */
    boolean stop(Duration timeout) {
        boolean nowFinished;
        synchronized (this) {
            if (state == State.SERVING) {
                state = State.STOPPED;
                pool.deregister(this);
            }
            nowFinished = finishIfIdle();
        }
        if (nowFinished) {
            reportFinished();
        }
        return awaitFinished(timeout);
    }

    private boolean finishIfIdle() {
        assert Thread.holdsLock(this);
        if (state == State.SERVING || inFlight > 0 || finishReported) {
            return false;
        }
        finishReported = true;
        return true;
    }

    private void reportFinished() {
        finished.countDown();
        onFinished.run();
    }

    private boolean awaitFinished(Duration timeout) {
        boolean interrupted = false;
        long deadline = System.nanoTime() + timeout.toNanos();
        try {
            while (true) {
                try {
                    return finished.await(deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * Runs {@code notification}, a FUSE notification that blocks until the kernel's WRITEs of this
     * mount are answered, within this mount's and the pool's bounds on such waits (see
     * {@link RequestPool}); callers that are not the pool's workers hold no worker and wait freely.
     * A request that has to wait for this mount's bound steps aside meanwhile: its place under the
     * cap goes to the next request (the WRITEs it waits for among them), and a stand-in worker of
     * the pool takes its place there.
     */
    void waitForWriteback(Runnable notification) {
        if (!pool.isWorkerThread()) {
            notification.run();
            return;
        }
        if (!writebackWaiters.tryAcquire()) {
            stepAside(1);
            try {
                pool.whileLent(writebackWaiters::acquireUninterruptibly);
            } finally {
                stepAside(-1);
            }
        }
        try {
            pool.waitForWriteback(notification);
        } finally {
            writebackWaiters.release();
        }
    }

    private synchronized void stepAside(int requests) {
        steppedAside += requests;
        rearmIfRoom();
    }
}
