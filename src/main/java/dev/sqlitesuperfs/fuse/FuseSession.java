package dev.sqlitesuperfs.fuse;

import dev.sqlitesuperfs.sys.Epoll;
import dev.sqlitesuperfs.sys.Libc;
import dev.sqlitesuperfs.sys.SysException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One FUSE mount, served by a {@link RequestPool}.
 *
 * <p>Life cycle: {@link #mount} creates the mount; {@link #start} answers the kernel's INIT, calls
 * {@link FuseFilesystem#init} and hands the connection to the pool; the session then serves until
 * the mount goes away ({@link #awaitTermination}). {@link #close} ends everything: it unmounts (a
 * busy mount is detached and its remaining users cut off), stops serving, closes /dev/fuse and calls
 * {@link FuseFilesystem#destroy} once.
 *
 * <p>A session mounted with {@link #mount(MountOptions, FuseFilesystem)} has a pool of its own, of
 * {@link MountOptions#threads} workers that may all serve it at once, which ends with it. Sessions
 * mounted with {@link #mount(MountOptions, FuseFilesystem, RequestPool)} share the given pool, and
 * closing one of them leaves the others alone. Workers are daemon threads: a program that wants to
 * serve until unmounted waits in {@link #awaitTermination}.
 */
public final class FuseSession implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(FuseSession.class);

    /**
     * How long close() waits for the requests in flight. Past a clean unmount they are answered
     * at once; only a filesystem call that does not return keeps close() waiting this long.
     */
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(30);

    private final MountOptions options;
    private final Path mountPoint;
    private final FuseFilesystem fs;
    private final MountMethod method;
    private final int fd;
    private final String device;
    private final RequestDispatcher dispatcher;
    private final boolean ownsPool;
    private final CountDownLatch ended = new CountDownLatch(1);
    private final AtomicBoolean destroyed = new AtomicBoolean();
    /**
     * The shared pool, or the session's own once started. Written under this, read without it:
     * workers read both fields, and a worker must never wait for this session's monitor, which
     * {@link #unmount} holds while the kernel may wait for that worker's answers.
     */
    private volatile RequestPool pool;
    /** The connection as the pool serves it, once started; see {@link #pool}. */
    private volatile PooledConnection connection;
    private RequestTap tap;
    private boolean started;
    private boolean closed;

    private FuseSession(MountOptions options, Path mountPoint, FuseFilesystem fs, MountMethod method,
            Mounter.Mounted mounted, RequestPool sharedPool) {
        this.options = options;
        this.mountPoint = mountPoint;
        this.fs = fs;
        this.method = method;
        this.fd = mounted.fd();
        this.device = mounted.device();
        this.dispatcher = new RequestDispatcher(fs, options);
        this.pool = sharedPool;
        this.ownsPool = sharedPool == null;
    }

    /**
     * Mounts {@code fs} on {@code options.mountPoint()}: with mount(2) when running as root, else
     * through fusermount3. Returns without serving; call {@link #start}, which starts the session's
     * own pool of {@link MountOptions#threads} workers.
     */
    public static FuseSession mount(MountOptions options, FuseFilesystem fs) throws MountException {
        return mount(options, fs, MountMethod.forCurrentUser(), null);
    }

    /**
     * Like {@link #mount(MountOptions, FuseFilesystem)}, to be served by {@code pool} together with
     * the other mounts it serves; {@link MountOptions#threads} is not used.
     *
     * @throws IllegalArgumentException when the pool's buffers cannot take this mount's largest write
     */
    public static FuseSession mount(MountOptions options, FuseFilesystem fs, RequestPool pool)
            throws MountException {
        Objects.requireNonNull(pool, "pool");
        if (options.maxWrite() > pool.maxWrite()) {
            throw new IllegalArgumentException("max_write " + options.maxWrite() + " is larger than the "
                    + pool.maxWrite() + " the request pool's buffers take");
        }
        return mount(options, fs, MountMethod.forCurrentUser(), pool);
    }

    static FuseSession mount(MountOptions options, FuseFilesystem fs, MountMethod method) throws MountException {
        return mount(options, fs, method, null);
    }

    private static FuseSession mount(MountOptions options, FuseFilesystem fs, MountMethod method,
            RequestPool sharedPool) throws MountException {
        Objects.requireNonNull(options, "options");
        Objects.requireNonNull(fs, "fs");
        Path mountPoint = checkedMountPoint(options.mountPoint());
        Mounter.Mounted mounted = Mounter.mount(options, mountPoint, method);
        log.info("mounted {} on {} as {} (device {}{})", options.fsName(), mountPoint, Mounter.fsType(options),
                mounted.device(), method.viaFusermount() ? ", through " + method.fusermount() : "");
        return new FuseSession(options, mountPoint, fs, method, mounted, sharedPool);
    }

    /** Requests the kernel sent this session, by opcode. */
    public RequestCounts requestCounts() {
        return dispatcher.counts();
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
     * Answers INIT on the calling thread, calls {@link FuseFilesystem#init}, then has the pool serve
     * the mount. If the filesystem's init throws, the exception propagates and nothing is served;
     * close the session.
     *
     * @throws MountException when the kernel's protocol version cannot be served
     * @throws IOException    when reading or answering INIT fails
     */
    public void start() throws IOException {
        synchronized (this) {
            if (closed) {
                throw new IllegalStateException("session is closed");
            }
            if (started) {
                throw new IllegalStateException("session already started");
            }
            started = true;
        }
        boolean serving = false;
        try {
            if (!answerInit()) {
                log.info("the kernel connection of {} ended before INIT", mountPoint);
                return;
            }
            KernelConnection kernel = dispatcher.connection();
            log.info("FUSE {}.{} on {}: flags {}, max_write {}, max_readahead {}", kernel.major(),
                    kernel.minor(), mountPoint, Long.toHexString(kernel.flags()), kernel.maxWrite(),
                    kernel.maxReadahead());
            widenReadahead();
            fs.init(kernel, new Channel());
            // From here on a worker reads only when epoll said a request is there, and another
            // worker may have taken it first: then the read must fail, not wait.
            Epoll.setNonBlocking(fd);
            serving = serveInPool();
        } finally {
            if (!serving) {
                ended.countDown();
            }
        }
    }

    /** Answers INIT; false when the connection ended first. */
    private boolean answerInit() throws MountException {
        try (Arena arena = Arena.ofConfined()) {
            RequestWorker init = RequestWorker.forInit(arena, options.maxWrite());
            while (dispatcher.connection() == null) {
                if (dispatcher.initFailure() != null) {
                    throw new MountException("cannot serve " + mountPoint + ": " + dispatcher.initFailure());
                }
                switch (init.read(fd)) {
                    case REQUEST -> init.answer(fd, dispatcher, tap);
                    case NOTHING -> { }
                    case ENDED -> {
                        return false;
                    }
                }
            }
            return true;
        }
    }

    private synchronized boolean serveInPool() throws IOException {
        if (closed) {
            // close() ran while INIT was answered; it found nothing served and nothing is.
            return false;
        }
        if (ownsPool) {
            pool = RequestPool.start("fuse-" + options.fsName(), options.threads(), options.threads(),
                    options.maxWrite());
        }
        connection = pool.register(fd, dispatcher, tap, mountPoint, this::connectionFinished);
        return true;
    }

    /** The pool no longer serves the connection and none of its requests is in flight. */
    private void connectionFinished() {
        log.info("FUSE session on {} ended", mountPoint);
        ended.countDown();
        if (ownsPool) {
            ownPool().shutdown();
        }
    }

    private RequestPool ownPool() {
        return ownsPool ? pool : null;
    }

    /** The session's side of {@link KernelChannel}. */
    private final class Channel implements KernelChannel {
        @Override
        public void invalidateAttributes(long ino) {
            notifyInvalInode(ino, false);
        }

        @Override
        public void writeBackPages(long ino) {
            PooledConnection served = connection;
            if (served == null) {
                notifyInvalInode(ino, true);
            } else {
                served.waitForWriteback(() -> notifyInvalInode(ino, true));
            }
        }

        @Override
        public void dropCached(long ino) {
            notifyInvalInode(ino, true);
        }

        @Override
        public void dropCached(long ino, long offset, long length) {
            notifyInvalInode(ino, offset, length);
        }

        @Override
        public void dropEntry(long parent, byte[] name) {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment message = arena.allocate(Wire.notifyInvalEntrySize(name));
                Wire.putNotifyInvalEntry(message, parent, name);
                Libc.write(fd, message, message.byteSize());
            } catch (SysException e) {
                // ENOENT: the kernel has no such entry cached, so there is nothing to drop.
                if (e.errno() != 2) {
                    log.debug("invalidating the cached entry of a name in directory {}: {}", parent, e.getMessage());
                }
            }
        }

        private void notifyInvalInode(long ino, boolean pages) {
            notifyInvalInode(ino, pages ? 0 : -1, 0);
        }

        private void notifyInvalInode(long ino, long offset, long length) {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment message = arena.allocate(Wire.NOTIFY_INVAL_INODE_SIZE);
                Wire.putNotifyInvalInode(message, ino, offset, length);
                Libc.write(fd, message, message.byteSize());
            } catch (SysException e) {
                // ENOENT: the kernel has no such inode cached, so there is nothing to drop.
                if (e.errno() != 2) {
                    log.debug("invalidating cached {} of inode {}: {}", offset < 0 ? "attributes" : "pages", ino,
                            e.getMessage());
                }
            }
        }
    }

    /**
     * Blocks until the session has ended: the mount is gone or the session was closed, and none
     * of its requests is in flight (and a session's own pool has stopped).
     */
    public void awaitTermination() throws InterruptedException {
        requireStarted();
        ended.await();
        RequestPool own = ownPool();
        if (own != null) {
            own.awaitWorkers(Long.MAX_VALUE);
        }
    }

    /** Like {@link #awaitTermination()}, for at most {@code timeout}; returns whether the session ended. */
    public boolean awaitTermination(Duration timeout) throws InterruptedException {
        requireStarted();
        long deadline = System.nanoTime() + timeout.toNanos();
        if (!ended.await(timeout.toNanos(), TimeUnit.NANOSECONDS)) {
            return false;
        }
        // A session's own pool ends with it; joining its workers makes "ended" literal.
        RequestPool own = ownPool();
        return own == null || own.awaitWorkers(deadline);
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
     * thread while serving, except from inside a filesystem call: the writes need the pool's
     * workers.
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
    public synchronized void unmount() throws MountException {
        if (!MountTable.isMounted(mountPoint, device)) {
            return;
        }
        boolean detached = Mounter.unmount(mountPoint, method);
        log.info("{} {}", detached ? "detached" : "unmounted", mountPoint);
    }

    /**
     * Unmounts (detaching a busy mount), stops serving it, waits for its requests in flight,
     * closes /dev/fuse (which cuts off the users of a detached mount: ENOTCONN) and calls
     * {@link FuseFilesystem#destroy} once, even when the session was never started. Other sessions
     * of a shared pool are served throughout. Calling it again does nothing.
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
            // While still served: unmounting writes back the kernel's dirty pages first.
            unmount();
        } catch (MountException e) {
            failure = e;
        }
        PooledConnection served = connection;
        boolean idle = served == null || served.stop(STOP_TIMEOUT);
        if (idle) {
            // The last descriptor of the connection going away aborts it: users of a detached
            // mount get ENOTCONN from now on instead of waiting forever.
            Mounter.closeQuietly(fd);
        }
        RequestPool own = ownPool();
        if (own != null) {
            if (idle) {
                own.close();
            } else {
                own.shutdown();
            }
        }
        if (!idle) {
            log.error("requests of {} were still in flight after {}; /dev/fuse stays open", mountPoint,
                    STOP_TIMEOUT);
            throw failure != null ? failure : new MountException("cannot close the session on " + mountPoint
                    + ": requests still in flight did not end (does a filesystem call hang?)");
        }
        destroyOnce();
        if (failure != null) {
            throw failure;
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
