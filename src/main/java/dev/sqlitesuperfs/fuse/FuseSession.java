package dev.sqlitesuperfs.fuse;

import dev.sqlitesuperfs.sys.Libc;
import dev.sqlitesuperfs.sys.SysException;
import java.io.File;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Optional;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One FUSE mount and the threads that serve it.
 *
 * <p>Life cycle: {@link #mount} creates the mount; {@link #start} answers the kernel's INIT, calls
 * {@link FuseFilesystem#init} and starts the request threads; the session then serves until the
 * mount goes away ({@link #awaitTermination}). {@link #close} ends everything: it unmounts (a busy
 * mount is detached and its remaining users cut off), stops the threads, closes /dev/fuse and calls
 * {@link FuseFilesystem#destroy} once.
 *
 * <p>Request threads are daemon threads: a program that wants to serve until unmounted waits in
 * {@link #awaitTermination}.
 */
public final class FuseSession implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(FuseSession.class);

    /**
     * How long close() waits for request threads. Past a clean unmount they end as soon as their
     * current request is answered; only a mount someone else detached while it is still in use
     * can keep them past this.
     */
    private static final Duration THREAD_STOP_TIMEOUT = Duration.ofSeconds(30);
    private static final long WAKE_PAUSE_NANOS = 1_000_000;

    private final MountOptions options;
    private final Path mountPoint;
    private final FuseFilesystem fs;
    private final MountMethod method;
    private final int fd;
    private final String device;
    private final RequestDispatcher dispatcher;
    private final Arena buffers = Arena.ofShared();
    private final CountDownLatch threadsEnded;
    private final List<Thread> threads = new ArrayList<>();
    private final AtomicBoolean destroyed = new AtomicBoolean();
    private volatile boolean stopping;
    private RequestTap tap;
    private boolean started;
    private boolean closed;
    /** An O_PATH descriptor of the root of a mount close() detached, through which it wakes threads. */
    private int stopHandle = -1;

    private FuseSession(MountOptions options, Path mountPoint, FuseFilesystem fs, MountMethod method,
            Mounter.Mounted mounted) {
        this.options = options;
        this.mountPoint = mountPoint;
        this.fs = fs;
        this.method = method;
        this.fd = mounted.fd();
        this.device = mounted.device();
        this.dispatcher = new RequestDispatcher(fs, options);
        this.threadsEnded = new CountDownLatch(options.threads());
    }

    /**
     * Mounts {@code fs} on {@code options.mountPoint()}: with mount(2) when running as root, else
     * through fusermount3. Returns without serving; call {@link #start}.
     */
    public static FuseSession mount(MountOptions options, FuseFilesystem fs) throws MountException {
        return mount(options, fs, MountMethod.forCurrentUser());
    }

    static FuseSession mount(MountOptions options, FuseFilesystem fs, MountMethod method) throws MountException {
        Objects.requireNonNull(options, "options");
        Objects.requireNonNull(fs, "fs");
        Path mountPoint = checkedMountPoint(options.mountPoint());
        Mounter.Mounted mounted = Mounter.mount(options, mountPoint, method);
        log.info("mounted {} on {} as {} (device {}{})", options.fsName(), mountPoint, Mounter.fsType(options),
                mounted.device(), method.viaFusermount() ? ", through " + method.fusermount() : "");
        return new FuseSession(options, mountPoint, fs, method, mounted);
    }

    /** The mount point, absolute and without symbolic links. */
    public Path mountPoint() {
        return mountPoint;
    }

    /** Lets a test see every request as the kernel sent it; only before {@link #start}. */
    synchronized void tapRequests(RequestTap requestTap) {
        if (started) {
            throw new IllegalStateException("requests can only be tapped before start()");
        }
        this.tap = requestTap;
    }

    /**
     * Answers INIT on the calling thread, calls {@link FuseFilesystem#init}, then starts the request
     * threads. If the filesystem's init throws, the exception propagates and no thread starts;
     * close the session.
     *
     * @throws MountException when the kernel's protocol version cannot be served
     * @throws IOException    when reading or answering INIT fails
     */
    public void start() throws IOException {
        RequestWorker[] workers;
        synchronized (this) {
            if (closed) {
                throw new IllegalStateException("session is closed");
            }
            if (started) {
                throw new IllegalStateException("session already started");
            }
            started = true;
            workers = new RequestWorker[options.threads()];
            for (int i = 0; i < workers.length; i++) {
                workers[i] = new RequestWorker(fd, dispatcher, options.maxWrite(), buffers, tap, () -> stopping);
            }
        }
        boolean serving = false;
        try {
            while (dispatcher.connection() == null) {
                if (dispatcher.initFailure() != null) {
                    throw new MountException("cannot serve " + mountPoint + ": " + dispatcher.initFailure());
                }
                if (!workers[0].serveOne()) {
                    log.info("the kernel connection of {} ended before INIT", mountPoint);
                    return;
                }
            }
            KernelConnection connection = dispatcher.connection();
            log.info("FUSE {}.{} on {}: flags {}, max_write {}, max_readahead {}", connection.major(),
                    connection.minor(), mountPoint, Long.toHexString(connection.flags()), connection.maxWrite(),
                    connection.maxReadahead());
            widenReadahead();
            fs.init(connection, new Channel());
            synchronized (this) {
                for (int i = 0; i < workers.length; i++) {
                    RequestWorker worker = workers[i];
                    threads.add(Thread.ofPlatform()
                            .name("fuse-" + options.fsName() + "-" + i)
                            .daemon(true)
                            .unstarted(() -> serve(worker)));
                }
                threads.forEach(Thread::start);
            }
            serving = true;
        } finally {
            if (!serving) {
                while (threadsEnded.getCount() > 0) {
                    threadsEnded.countDown();
                }
            }
        }
    }

    /** The session's side of {@link KernelChannel}. */
    private final class Channel implements KernelChannel {
        /** Threads that may wait for a writeback at once; the rest stay free to serve its writes. */
        private final Semaphore writebackWaiters = new Semaphore(Math.max(1, options.threads() / 2));

        @Override
        public void invalidateAttributes(long ino) {
            notifyInvalInode(ino, false);
        }

        @Override
        public void writeBackPages(long ino) {
            writebackWaiters.acquireUninterruptibly();
            try {
                notifyInvalInode(ino, true);
            } finally {
                writebackWaiters.release();
            }
        }

        private void notifyInvalInode(long ino, boolean pages) {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment message = arena.allocate(Wire.NOTIFY_INVAL_INODE_SIZE);
                Wire.putNotifyInvalInode(message, ino, pages);
                Libc.write(fd, message, message.byteSize());
            } catch (SysException e) {
                // ENOENT: the kernel has no such inode cached, so there is nothing to drop.
                if (e.errno() != 2) {
                    log.debug("invalidating cached {} of inode {}: {}", pages ? "pages" : "attributes", ino,
                            e.getMessage());
                }
            }
        }
    }

    private void serve(RequestWorker worker) {
        try {
            worker.run();
        } finally {
            threadsEnded.countDown();
            if (threadsEnded.getCount() == 0) {
                log.info("FUSE session on {} ended", mountPoint);
            }
        }
    }

    /** Blocks until every request thread has ended: the mount is gone or the session was closed. */
    public void awaitTermination() throws InterruptedException {
        requireStarted();
        threadsEnded.await();
        for (Thread thread : threadsSnapshot()) {
            thread.join();
        }
    }

    /** Like {@link #awaitTermination()}, for at most {@code timeout}; returns whether the session ended. */
    public boolean awaitTermination(Duration timeout) throws InterruptedException {
        requireStarted();
        long deadline = System.nanoTime() + timeout.toNanos();
        if (!threadsEnded.await(timeout.toNanos(), TimeUnit.NANOSECONDS)) {
            return false;
        }
        // Past the latch a thread only has its last log line left; joining makes "ended" literal.
        for (Thread thread : threadsSnapshot()) {
            long left = deadline - System.nanoTime();
            if (left <= 0 ? thread.isAlive() : !thread.join(Duration.ofNanos(left))) {
                return false;
            }
        }
        return true;
    }

    private synchronized List<Thread> threadsSnapshot() {
        return List.copyOf(threads);
    }

    /** Readahead the kernel does for this mount once INIT set its default (128 KiB, see {@link #widenReadahead}). */
    static final int READAHEAD_KB = 4096;

    /**
     * INIT caps the kernel's readahead at 128 KiB for FUSE, so a sequential read asks for 128 KiB
     * at a time, one query each. Its backing device's read_ahead_kb can be raised afterwards
     * (as root): then reads of up to max_pages (1 MiB) go out several at once, each one query of
     * 256 blocks, which is where PostgreSQL returns blocks fastest. Not being able to is no error.
     */
    private void widenReadahead() {
        Path setting = Path.of("/sys/class/bdi", device, "read_ahead_kb");
        try {
            Files.writeString(setting, Integer.toString(READAHEAD_KB));
        } catch (IOException e) {
            log.debug("readahead of {} stays the kernel's default: cannot write {}: {}", mountPoint, setting,
                    e.getMessage());
        }
    }

    /**
     * Makes the kernel write back everything it holds dirty for this mount (file pages and times,
     * under the writeback cache) and waits until those writes have been answered. Safe from any
     * thread while serving, except from inside a filesystem call: the writes need the request
     * threads.
     */
    public void syncKernelCaches() throws IOException {
        if (!MountTable.isMounted(mountPoint, device)) {
            throw new IllegalStateException(mountPoint + " is no longer mounted");
        }
        int root = Libc.open(mountPoint.toString(), Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC);
        try {
            Libc.syncfs(root);
        } finally {
            Libc.close(root);
        }
    }

    /**
     * Fails with the reason if this process could not mount on {@code dir} (an absolute real
     * path): no FUSE device, or for an ordinary user no fusermount3 or no write access to dir.
     */
    public static void checkMountable(Path dir) throws MountException {
        Mounter.checkPrerequisites(dir, MountMethod.forCurrentUser());
    }

    /** The file system type of the topmost mount on {@code dir} (an absolute real path), if it is a mount point. */
    public static Optional<String> mountTypeAt(Path dir) {
        return MountTable.top(dir).map(MountTable.Mount::fsType);
    }

    /**
     * Unmounts {@code mountPoint}, whichever process serves it: with umount2(2) as root, else with
     * fusermount3. Refused, with a message saying why, unless the topmost mount there is a FUSE
     * mount of {@code subtype}, or when it is busy.
     */
    public static void unmountDirectory(Path mountPoint, String subtype) throws MountException {
        Path dir = mountPoint.toAbsolutePath().normalize();
        boolean ours = MountTable.top(dir).map(m -> m.fsType().equals("fuse." + subtype)).orElse(false);
        if (!ours) {
            throw new MountException(dir + " is not a " + subtype + " mount");
        }
        Mounter.unmountIfIdle(dir, MountMethod.forCurrentUser());
    }

    /**
     * Unmounts; a busy mount is detached and keeps being served until its last user lets go, after
     * which the session ends. Does nothing when this mount is already gone.
     */
    public void unmount() throws MountException {
        unmount(false);
    }

    private synchronized void unmount(boolean stopAfterDetach) throws MountException {
        if (!MountTable.isMounted(mountPoint, device)) {
            return;
        }
        boolean detached = Mounter.unmount(mountPoint, method, stopAfterDetach ? this::openStopHandle : () -> { });
        log.info("{} {}", detached ? "detached" : "unmounted", mountPoint);
    }

    private void openStopHandle() {
        try {
            stopHandle = Libc.open(mountPoint.toString(), Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC);
        } catch (SysException e) {
            log.warn("cannot keep a handle on {} before detaching it: {}", mountPoint, e.getMessage());
        }
    }

    /**
     * Unmounts (detaching a busy mount and cutting off its users), stops the request threads,
     * closes /dev/fuse and calls {@link FuseFilesystem#destroy} once, even when the session was
     * never started. Calling it again does nothing.
     */
    @Override
    public void close() throws MountException {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        MountException failure = null;
        try {
            unmount(true);
        } catch (MountException e) {
            failure = e;
        }
        stopping = true;
        Thread waker = stopHandle >= 0 ? startWaker() : null;
        boolean threadsStopped = awaitThreads();
        if (threadsStopped) {
            // The last descriptor of the connection going away aborts it: users of a detached
            // mount get ENOTCONN from now on instead of waiting forever.
            Mounter.closeQuietly(fd);
            buffers.close();
        }
        if (waker != null) {
            joinQuietly(waker);
        }
        if (stopHandle >= 0) {
            Mounter.closeQuietly(stopHandle);
            stopHandle = -1;
        }
        if (!threadsStopped) {
            log.error("request threads of {} did not stop within {}; /dev/fuse stays open", mountPoint,
                    THREAD_STOP_TIMEOUT);
            throw failure != null ? failure : new MountException("cannot close the session on " + mountPoint
                    + ": its request threads did not stop (is the mount still in use?)");
        }
        destroyOnce();
        if (failure != null) {
            throw failure;
        }
    }

    /**
     * Wakes request threads blocked in read() on a detached mount: each statfs through the kept
     * handle is one STATFS request, and the thread that answers it sees the stop flag and ends.
     */
    private Thread startWaker() {
        File root = new File("/proc/self/fd/" + stopHandle);
        return Thread.ofPlatform().daemon(true).name("fuse-stop-" + options.fsName()).start(() -> {
            while (threadsEnded.getCount() > 0) {
                root.getTotalSpace();
                LockSupport.parkNanos(WAKE_PAUSE_NANOS);
            }
        });
    }

    private boolean awaitThreads() {
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    return !threadsStarted() || awaitTermination(THREAD_STOP_TIMEOUT);
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

    private synchronized boolean threadsStarted() {
        return !threads.isEmpty();
    }

    private static void joinQuietly(Thread thread) {
        try {
            thread.join(THREAD_STOP_TIMEOUT);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void destroyOnce() {
        if (destroyed.compareAndSet(false, true)) {
            try {
                fs.destroy();
            } catch (RuntimeException e) {
                log.error("destroy of the filesystem on {} failed", mountPoint, e);
            }
        }
    }

    private synchronized void requireStarted() {
        if (!started) {
            throw new IllegalStateException("session not started");
        }
    }

    private static Path checkedMountPoint(Path requested) throws MountException {
        Path absolute = requested.toAbsolutePath();
        BasicFileAttributes attributes;
        try {
            attributes = Files.readAttributes(absolute, BasicFileAttributes.class);
        } catch (NoSuchFileException e) {
            throw new MountException("cannot mount " + absolute + ": the mount point does not exist", e);
        } catch (IOException e) {
            // For example a dead FUSE mount still sitting there: "Transport endpoint is not connected".
            throw new MountException("cannot mount " + absolute + ": " + e.getMessage(), e);
        }
        if (!attributes.isDirectory()) {
            throw new MountException("cannot mount " + absolute + ": the mount point is not a directory");
        }
        try {
            // Resolved now, before the mount hides the directory: mountinfo lists real paths.
            return absolute.toRealPath();
        } catch (IOException e) {
            throw new MountException("cannot mount " + absolute + ": " + e.getMessage(), e);
        }
    }
}
