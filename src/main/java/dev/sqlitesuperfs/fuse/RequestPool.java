package dev.sqlitesuperfs.fuse;

import dev.sqlitesuperfs.sys.Epoll;
import dev.sqlitesuperfs.sys.EventFd;
import dev.sqlitesuperfs.sys.SysException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The threads and buffers that serve FUSE sessions, shared by as many mounts as a process has: an
 * idle mount costs no thread and no buffer, only its place in the pool's epoll set.
 *
 * <p>How requests are taken: every mount's /dev/fuse descriptor is non-blocking and registered
 * one-shot in one epoll set, and the idle workers wait in epoll_wait on that set, one report each.
 * The kernel gives a readable descriptor to one waiting worker, which reads one request of that
 * mount, re-arms the descriptor if the mount is below its cap of requests in flight, and answers
 * (see {@link PooledConnection}). A re-armed descriptor that is still readable joins the end of
 * the kernel's ready list, which epoll_wait serves in order: mounts take turns, one request each,
 * and a burst on one mount waits behind the others. There is no separate event-loop thread: a
 * thread between the kernel and the worker would add a thread switch to every request, and
 * epoll's ready list already is the queue.
 *
 * <p>Bounds: a mount has at most {@link #sessionCap} requests in flight, so a mount whose
 * filesystem hangs holds at most that many workers. Waits in {@link KernelChannel#writeBackPages},
 * which block a worker until other workers have answered the kernel's WRITEs, are bounded per mount
 * (half its cap) and for the whole pool (half the workers). A worker that has to wait for either
 * bound lends its place meanwhile: a stand-in worker serves in its stead (at most half as many
 * stand-ins as workers), so the workers waiting for a bound do not take the ones the WRITEs need;
 * one waiting for its mount's bound also leaves its place under the mount's cap to the WRITEs. Only more than that many such waits at once (a worker count and a half of requests that
 * all wait for writeback) could still take every worker.
 *
 * <p>Workers are daemon platform threads named after the pool.
 */
public final class RequestPool implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(RequestPool.class);

    /** How long {@link #close} waits for the workers: each ends once its current request is answered. */
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(30);
    /** The token of the eventfd that wakes every worker to stop; connections' tokens start above it. */
    private static final long WAKE_TOKEN = 0;
    private static final int ONE_REQUEST = Epoll.EPOLLIN | Epoll.EPOLLONESHOT;

    /** The pool the current thread is a worker of, so a writeback wait knows whether it holds a worker. */
    private static final ThreadLocal<RequestPool> WORKING_FOR = new ThreadLocal<>();

    private final String name;
    private final int workers;
    private final int sessionCap;
    private final int maxWrite;
    private final Epoll epoll;
    private final EventFd wakeup;
    private final Map<Long, PooledConnection> connections = new ConcurrentHashMap<>();
    private final AtomicLong nextToken = new AtomicLong(WAKE_TOKEN + 1);
    private final AtomicInteger busy = new AtomicInteger();
    private final Semaphore writebackWaiters;
    private final int maxStandIns;

    private final Object threadsLock = new Object();
    // Guarded by threadsLock; live and wanted are read without it on every request, hence volatile.
    private final List<Thread> threads = new ArrayList<>();
    private volatile int live;
    private volatile int wanted;
    private volatile boolean stopping;
    private int standIns;
    private int threadsStarted;
    private boolean closed;

    private RequestPool(String name, int workers, int sessionCap, int maxWrite, Epoll epoll, EventFd wakeup) {
        this.name = name;
        this.workers = workers;
        this.sessionCap = sessionCap;
        this.maxWrite = maxWrite;
        this.epoll = epoll;
        this.wakeup = wakeup;
        this.writebackWaiters = new Semaphore(Math.max(1, workers / 2));
        this.maxStandIns = Math.max(1, workers / 2);
    }

    /**
     * A pool of {@code workers} for many mounts, each with at most {@link #hostSessionCap} requests
     * in flight. Its buffers take any request of a mount of up to {@link MountOptions#MAX_WRITE_LIMIT}.
     *
     * @param name the workers' thread names start with it
     */
    public static RequestPool start(String name, int workers) throws IOException {
        return start(name, workers, hostSessionCap(workers));
    }

    /** Like {@link #start(String, int)}, with at most {@code sessionCap} requests in flight per mount. */
    public static RequestPool start(String name, int workers, int sessionCap) throws IOException {
        return start(name, workers, sessionCap, MountOptions.MAX_WRITE_LIMIT);
    }

    static RequestPool start(String name, int workers, int sessionCap, int maxWrite) throws IOException {
        if (workers < 1) {
            throw new IllegalArgumentException("a request pool needs at least one worker");
        }
        if (sessionCap < 1 || sessionCap > workers) {
            throw new IllegalArgumentException("the cap of requests in flight per mount must be between 1 and the "
                    + workers + " workers, not " + sessionCap);
        }
        Epoll epoll = Epoll.create();
        EventFd wakeup;
        try {
            wakeup = EventFd.create();
            epoll.add(wakeup.fd(), Epoll.EPOLLIN, WAKE_TOKEN);
        } catch (SysException e) {
            epoll.close();
            throw e;
        }
        RequestPool pool = new RequestPool(name, workers, sessionCap, maxWrite, epoll, wakeup);
        synchronized (pool.threadsLock) {
            pool.wanted = workers;
            for (int i = 0; i < workers; i++) {
                pool.startWorker();
            }
        }
        return pool;
    }

    /**
     * The cap of requests in flight per mount for a pool shared by many mounts: a quarter of the
     * workers, so that one mount's hung requests leave three quarters to the others, and at least
     * 2, so that a mount can wait for a writeback while another of its requests is answered.
     */
    public static int hostSessionCap(int workers) {
        return Math.min(workers, Math.max(2, workers / 4));
    }

    public int workers() {
        return workers;
    }

    /** Requests of one mount that may be in flight at once. */
    public int sessionCap() {
        return sessionCap;
    }

    /** Workers serving a request now (for the host's metrics). */
    public int busy() {
        return busy.get();
    }

    /** The mounts this pool serves now. */
    public int sessions() {
        return connections.size();
    }

    /** The largest max_write of a mount this pool can serve. */
    int maxWrite() {
        return maxWrite;
    }

    /**
     * Starts serving the connection on {@code fd}, which must be non-blocking and past INIT.
     * {@code onFinished} runs once the connection is no longer served and none of its requests is
     * in flight: the kernel ended it, or {@link PooledConnection#stop} stopped it.
     */
    PooledConnection register(int fd, RequestDispatcher dispatcher, RequestTap tap, Path mountPoint,
            Runnable onFinished) throws IOException {
        if (stopping) {
            throw new IllegalStateException("request pool " + name + " is closed");
        }
        PooledConnection connection = new PooledConnection(this, nextToken.getAndIncrement(), fd, dispatcher, tap,
                mountPoint, sessionCap, onFinished);
        connections.put(connection.token(), connection);
        try {
            epoll.add(fd, ONE_REQUEST, connection.token());
        } catch (SysException e) {
            connections.remove(connection.token());
            throw e;
        }
        return connection;
    }

    /** Arms the connection's descriptor for its next request; false when that failed. */
    boolean rearm(PooledConnection connection) {
        try {
            epoll.modify(connection.fd(), ONE_REQUEST, connection.token());
            return true;
        } catch (SysException e) {
            log.error("cannot re-arm /dev/fuse of {}; its requests are no longer read: {}", connection.mountPoint(),
                    e.getMessage());
            return false;
        }
    }

    /** Takes the connection out of the epoll set; a worker already woken for it finds it no longer served. */
    void deregister(PooledConnection connection) {
        connections.remove(connection.token());
        try {
            epoll.remove(connection.fd());
        } catch (SysException e) {
            log.debug("removing /dev/fuse of {} from the epoll set: {}", connection.mountPoint(), e.getMessage());
        }
    }

    boolean isWorkerThread() {
        return WORKING_FOR.get() == this;
    }

    /** Runs a writeback notification within the pool's bound; see the class comment. */
    void waitForWriteback(Runnable notification) {
        if (!writebackWaiters.tryAcquire()) {
            whileLent(writebackWaiters::acquireUninterruptibly);
        }
        try {
            notification.run();
        } finally {
            writebackWaiters.release();
        }
    }

    /** Runs {@code wait}, a wait of the calling worker, with a stand-in serving in its place if one may start. */
    void whileLent(Runnable wait) {
        boolean lent = lendPlace();
        try {
            wait.run();
        } finally {
            if (lent) {
                takePlaceBack();
            }
        }
    }

    /** Lets a stand-in serve while the calling worker waits; false when no stand-in may start. */
    private boolean lendPlace() {
        synchronized (threadsLock) {
            if (stopping || standIns == maxStandIns) {
                return false;
            }
            standIns++;
            wanted++;
            if (live < wanted) {
                startWorker();
            }
            log.debug("a worker of {} waits for a writeback permit; {} stand-in(s) serve", name, standIns);
            return true;
        }
    }

    /** The waiting worker serves again; one worker too many retires after its current request. */
    private void takePlaceBack() {
        synchronized (threadsLock) {
            standIns--;
            wanted--;
        }
    }

    private void startWorker() {
        assert Thread.holdsLock(threadsLock);
        threads.removeIf(thread -> !thread.isAlive());
        Thread thread = Thread.ofPlatform()
                .name(name + "-" + ++threadsStarted)
                .daemon(true)
                .unstarted(this::work);
        threads.add(thread);
        live++;
        thread.start();
    }

    private void work() {
        WORKING_FOR.set(this);
        boolean retired = false;
        try (Arena arena = Arena.ofConfined()) {
            RequestWorker worker = RequestWorker.forMaxWrite(arena, maxWrite);
            Epoll.ReadyEvents ready = epoll.readyEvents(1);
            while (!(retired = retire())) {
                if (epoll.await(ready, -1) == 0 || ready.token(0) == WAKE_TOKEN) {
                    continue;
                }
                PooledConnection connection = connections.get(ready.token(0));
                if (connection != null) {
                    busy.incrementAndGet();
                    try {
                        connection.serveOne(worker);
                    } finally {
                        busy.decrementAndGet();
                    }
                }
            }
        } catch (SysException e) {
            log.error("a worker of request pool {} cannot wait for requests and stops", name, e);
        } finally {
            if (!retired) {
                synchronized (threadsLock) {
                    live--;
                }
            }
        }
    }

    /** Whether this worker should end: the pool stops, or a stand-in is no longer needed. */
    private boolean retire() {
        if (!stopping && live <= wanted) {
            return false;
        }
        synchronized (threadsLock) {
            if (stopping || live > wanted) {
                live--;
                return true;
            }
            return false;
        }
    }

    /** Makes every worker end once its current request is answered; does not wait for them. */
    void shutdown() {
        synchronized (threadsLock) {
            if (stopping) {
                return;
            }
            stopping = true;
        }
        try {
            // Level-triggered and never drained: every worker waiting now or later sees it.
            wakeup.signal();
        } catch (SysException e) {
            log.error("cannot wake the workers of request pool {} to stop", name, e);
        }
    }

    /** Waits until every worker thread has ended, at most until {@code deadline} (System.nanoTime()). */
    boolean awaitWorkers(long deadline) throws InterruptedException {
        List<Thread> snapshot;
        synchronized (threadsLock) {
            snapshot = List.copyOf(threads);
        }
        for (Thread thread : snapshot) {
            long left = deadline - System.nanoTime();
            if (left <= 0 ? thread.isAlive() : !thread.join(Duration.ofNanos(left))) {
                return false;
            }
        }
        return true;
    }

    /**
     * Stops the workers, waits for them and releases the epoll set. The mounts must be closed
     * first: a pool still serving one refuses to close.
     */
    @Override
    public void close() {
        synchronized (threadsLock) {
            if (closed) {
                return;
            }
            if (!connections.isEmpty()) {
                throw new IllegalStateException("request pool " + name + " still serves " + connections.size()
                        + " mount(s); close their sessions first");
            }
            closed = true;
        }
        shutdown();
        boolean stopped;
        boolean interrupted = false;
        long deadline = System.nanoTime() + STOP_TIMEOUT.toNanos();
        while (true) {
            try {
                stopped = awaitWorkers(deadline);
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        if (!stopped) {
            // A worker stuck in a filesystem call may still wait on the set: leave it open.
            log.error("workers of request pool {} did not stop within {}", name, STOP_TIMEOUT);
            return;
        }
        closeQuietly(epoll);
        closeQuietly(wakeup);
    }

    private static void closeQuietly(AutoCloseable descriptor) {
        try {
            descriptor.close();
        } catch (Exception e) {
            log.warn("closing a descriptor of a request pool failed: {}", e.getMessage());
        }
    }
}
