package dev.sqlitesuperfs.host;

import dev.sqlitesuperfs.testing.Shell;
import dev.sqlitesuperfs.testing.TestPostgres;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A host ({@code serve}) running in this JVM on a socket in a fresh directory that every user may
 * enter, its namespaces in the test PostgreSQL; and raw access to its socket for the tests that
 * send it what no client would.
 */
final class InProcessHost implements AutoCloseable {
    static final Duration READY = Duration.ofSeconds(60);

    private final Path dir;
    private final Path socket;
    private final Serve serve;
    private final Thread runner;
    private final ByteArrayOutputStream output = new ByteArrayOutputStream();
    private volatile Throwable failure;
    private volatile int exitCode = -1;

    private InProcessHost(Path dir, List<String> args) {
        this.dir = dir;
        this.socket = dir.resolve("host.sock");
        List<String> all = new ArrayList<>(List.of("--socket", socket.toString()));
        all.addAll(args);
        Serve.Settings settings = Serve.Settings.parse(all, Map.of());
        this.serve = Serve.prepare(settings, Map.of("psql_url", TestPostgres.url()), dir.resolve("state"));
        PrintStream out = new PrintStream(output, true, StandardCharsets.UTF_8);
        this.runner = Thread.ofPlatform().name("in-process-host").start(() -> {
            try {
                exitCode = serve.run(out);
            } catch (Throwable t) {
                failure = t;
            }
        });
    }

    /** Starts a host with {@code args} (serve's options besides --socket) and waits until it serves. */
    static InProcessHost start(String... args) {
        try {
            Path dir = Files.createTempDirectory("sqlitesuperfs-host-");
            Shell.run("chmod", "755", dir.toString());
            InProcessHost host = new InProcessHost(dir, List.of(args));
            host.awaitServing();
            return host;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void awaitServing() {
        long deadline = System.nanoTime() + READY.toNanos();
        while (!output.toString(StandardCharsets.UTF_8).contains("serving on " + socket)) {
            if (failure != null || !runner.isAlive() || System.nanoTime() > deadline) {
                throw new AssertionError("host not serving: " + output.toString(StandardCharsets.UTF_8), failure);
            }
            try {
                runner.join(Duration.ofMillis(20));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted");
            }
        }
    }

    Path socket() {
        return socket;
    }

    Path dir() {
        return dir;
    }

    /** A request as a client sends it; the answer. */
    ControlResponse send(ControlRequest request) {
        return ControlClient.exchange(socket, request, new byte[0]);
    }

    /**
     * Sends {@code bytes} as they are, then half-closes (or not) and returns what the host answered
     * before closing the connection: a line, or "" if it closed without answering.
     */
    String sendRaw(byte[] bytes, boolean halfClose) {
        try (SocketChannel channel = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
            ByteBuffer out = ByteBuffer.wrap(bytes);
            while (out.hasRemaining()) {
                channel.write(out);
            }
            if (halfClose) {
                channel.shutdownOutput();
            }
            return readAll(channel);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static String readAll(SocketChannel channel) throws IOException {
        ByteArrayOutputStream in = new ByteArrayOutputStream();
        ByteBuffer buffer = ByteBuffer.allocate(8192);
        while (channel.read(buffer.clear()) >= 0) {
            in.write(buffer.array(), 0, buffer.position());
        }
        return in.toString(StandardCharsets.UTF_8);
    }

    /** Stops the host as SIGTERM would; its exit code. */
    int stop() {
        serve.stop();
        try {
            runner.join(READY);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (failure != null) {
            throw new AssertionError("host failed", failure);
        }
        return exitCode;
    }

    @Override
    public void close() {
        stop();
        Shell.run("rm", "-rf", dir.toString());
    }
}
