package dev.sqlitesuperfs.host;

import dev.sqlitesuperfs.cli.CliException;
import dev.sqlitesuperfs.cli.ExitCode;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipalNotFoundException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The host's control socket: a Unix domain socket that takes one request per connection
 * ({@link Connection}) and answers it.
 *
 * <p>Binding it claims the path for this host: a lock file next to it ({@code PATH.lock}, held for
 * the host's life) tells a live host from a dead one, so a second host is refused ("a host is
 * already serving on PATH") and a socket file left by a host that died is replaced. The socket is
 * made mode 0600, or 0660 and of group G with {@code --socket-group G}; no connection is accepted
 * before that, and each one's credentials are checked besides ({@link SocketAccess}). Its
 * directory is created with mode 0755 if missing.
 */
final class ControlSocket implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ControlSocket.class);
    /** sun_path holds 108 bytes, the last a NUL. */
    static final int MAX_PATH_BYTES = 107;
    /** Requests served at once; more wait in the kernel's queue until one ends. */
    static final int MAX_CONNECTIONS = 16;
    private static final int S_IFMT = 0170000;
    private static final int S_IFSOCK = 0140000;

    private final Path path;
    private final FileChannel lockChannel;
    private final FileLock lock;
    private final ServerSocketChannel server;
    private final SocketAccess access;
    private final Semaphore slots = new Semaphore(MAX_CONNECTIONS);
    private final ScheduledExecutorService deadlines = Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().daemon().name("control-deadlines").factory());
    private final AtomicLong connections = new AtomicLong();
    private Thread acceptor;
    private volatile boolean closed;

    /** What answers the requests. Must not throw: every outcome is an answer. */
    interface Handler {
        /** @param passphrase the passphrase that came with a mount request (empty otherwise); zeroed afterwards */
        ControlResponse handle(ControlRequest request, SocketAccess.Peer peer, byte[] passphrase);
    }

    private ControlSocket(Path path, FileChannel lockChannel, FileLock lock, ServerSocketChannel server,
            SocketAccess access) {
        this.path = path;
        this.lockChannel = lockChannel;
        this.lock = lock;
        this.server = server;
        this.access = access;
    }

    /**
     * Creates the socket at {@code requested}, for root and the host's user, and the members of
     * {@code groupName} if not null. Accepts nothing until {@link #start}.
     */
    static ControlSocket bind(Path requested, String groupName) {
        Path path = requested.toAbsolutePath().normalize();
        if (path.toString().getBytes(StandardCharsets.UTF_8).length > MAX_PATH_BYTES) {
            throw new CliException(ExitCode.USAGE, "--socket " + path + " is longer than the " + MAX_PATH_BYTES
                    + " bytes a Unix socket's path may have");
        }
        GroupPrincipal group = groupName == null ? null : group(groupName);
        Path directory = path.getParent();
        createDirectory(directory);
        Path lockFile = directory.resolve(path.getFileName() + ".lock");
        FileChannel lockChannel = null;
        try {
            lockChannel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock lock;
            try {
                lock = lockChannel.tryLock();
            } catch (OverlappingFileLockException e) {
                lock = null; // held by another host in this same JVM (tests)
            }
            if (lock == null) {
                throw alreadyServing(path);
            }
            removeStaleSocket(path);
            ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            try {
                server.bind(UnixDomainSocketAddress.of(path), 64);
                SocketAccess access = restrictAccess(path, group, groupName);
                log.info("control socket {} (mode {}{})", path, group == null ? "0600" : "0660",
                        group == null ? "" : ", group " + groupName);
                return new ControlSocket(path, lockChannel, lock, server, access);
            } catch (IOException | RuntimeException e) {
                server.close();
                Files.deleteIfExists(path);
                throw e;
            }
        } catch (IOException e) {
            closeQuietly(lockChannel);
            throw new CliException(ExitCode.NO_HOST, "cannot create the control socket " + path + ": " + reason(e));
        } catch (RuntimeException e) {
            closeQuietly(lockChannel);
            throw e;
        }
    }

    private static GroupPrincipal group(String name) {
        try {
            return FileSystems.getDefault().getUserPrincipalLookupService().lookupPrincipalByGroupName(name);
        } catch (UserPrincipalNotFoundException e) {
            throw new CliException(ExitCode.USAGE, "--socket-group: no group " + name);
        } catch (IOException e) {
            throw new CliException(ExitCode.USAGE, "--socket-group: cannot look up group " + name + ": " + e.getMessage());
        }
    }

    private static void createDirectory(Path directory) {
        if (Files.isDirectory(directory)) {
            return;
        }
        try {
            Files.createDirectories(directory);
            Files.setPosixFilePermissions(directory, PosixFilePermissions.fromString("rwxr-xr-x"));
        } catch (IOException e) {
            throw new CliException(ExitCode.NO_HOST, "cannot create the control socket's directory " + directory + ": "
                    + reason(e));
        }
    }

    /** A socket file whose host is gone is removed; anything else at the path is left alone and refused. */
    private static void removeStaleSocket(Path path) throws IOException {
        if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        int mode = (Integer) Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        if ((mode & S_IFMT) != S_IFSOCK) {
            throw new CliException(ExitCode.NO_HOST, path + " exists and is not a socket; remove it or choose another"
                    + " --socket");
        }
        try (SocketChannel probe = SocketChannel.open(UnixDomainSocketAddress.of(path))) {
            throw alreadyServing(path);
        } catch (IOException refused) {
            Files.delete(path);
            log.info("replaced the control socket {} left by a host that is gone", path);
        }
    }

    private static CliException alreadyServing(Path path) {
        return new CliException(ExitCode.NO_HOST, "a host is already serving on " + path);
    }

    private static SocketAccess restrictAccess(Path path, GroupPrincipal group, String groupName) throws IOException {
        if (group == null) {
            Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-------"));
            return new SocketAccess();
        }
        Files.getFileAttributeView(path, PosixFileAttributeView.class, LinkOption.NOFOLLOW_LINKS).setGroup(group);
        Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-rw----"));
        int gid = (Integer) Files.getAttribute(path, "unix:gid", LinkOption.NOFOLLOW_LINKS);
        return new SocketAccess(group, gid, groupName);
    }

    Path path() {
        return path;
    }

    /** Starts taking requests, each on a thread of its own, at most {@link #MAX_CONNECTIONS} at once. */
    synchronized void start(Handler handler) {
        acceptor = Thread.ofPlatform().name("control-socket").start(() -> acceptLoop(handler));
    }

    private void acceptLoop(Handler handler) {
        while (!closed) {
            try {
                slots.acquire();
            } catch (InterruptedException e) {
                return;
            }
            SocketChannel channel;
            try {
                channel = server.accept();
            } catch (IOException e) {
                slots.release();
                if (closed || !server.isOpen()) {
                    return;
                }
                log.warn("control socket {}: accept failed: {}", path, reason(e));
                pauseAfterFailedAccept();
                continue;
            }
            Connection connection = new Connection(channel, access, handler, deadlines);
            try {
                Thread.ofPlatform().daemon().name("control-" + connections.incrementAndGet()).start(() -> {
                    try {
                        connection.serve();
                    } finally {
                        slots.release();
                    }
                });
            } catch (RuntimeException | OutOfMemoryError e) {
                slots.release();
                closeQuietly(channel);
                log.error("control socket {}: cannot start a thread for a request: {}", path, e.toString());
            }
        }
    }

    /** A failing accept (out of file descriptors, say) is retried, but not in a tight loop. */
    private static void pauseAfterFailedAccept() {
        try {
            Thread.sleep(100);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Stops taking requests and removes the socket and its lock file; requests in progress go on. */
    @Override
    public void close() {
        Thread running;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            running = acceptor;
        }
        closeQuietly(server);
        if (running != null) {
            running.interrupt();
            try {
                running.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        deadlines.shutdownNow();
        try {
            Files.deleteIfExists(path);
            Files.deleteIfExists(path.resolveSibling(path.getFileName() + ".lock"));
        } catch (IOException e) {
            log.warn("cannot remove the control socket {}: {}", path, reason(e));
        }
        try {
            lock.release();
        } catch (IOException e) {
            log.debug("releasing the lock of {}: {}", path, reason(e));
        }
        closeQuietly(lockChannel);
    }

    static String reason(IOException e) {
        return switch (e) {
            case java.nio.file.AccessDeniedException a -> "permission denied";
            case java.nio.file.NoSuchFileException n -> "no such file or directory";
            case java.nio.file.FileSystemException f when f.getReason() != null -> f.getReason();
            default -> e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
        };
    }

    static void closeQuietly(java.io.Closeable closeable) {
        if (closeable == null) {
            return;
        }
        try {
            closeable.close();
        } catch (IOException e) {
            log.debug("closing: {}", reason(e));
        }
    }
}
