package dev.sqlitesuperfs.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A TCP proxy on 127.0.0.1 in front of a server that replaces one byte string by another of the
 * same length in what clients send. Same length, so the protocol's message lengths stay right;
 * used to make a real PostgreSQL answer a query as an older one would.
 */
public final class RewritingProxy implements AutoCloseable {
    private final ServerSocket listener;
    private final int serverPort;
    private final byte[] find;
    private final byte[] replace;
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();

    public RewritingProxy(int serverPort, String find, String replace) throws IOException {
        if (find.length() != replace.length()) {
            throw new IllegalArgumentException("the replacement must be as long as what it replaces");
        }
        this.serverPort = serverPort;
        this.find = find.getBytes(StandardCharsets.US_ASCII);
        this.replace = replace.getBytes(StandardCharsets.US_ASCII);
        this.listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread.ofPlatform().daemon().name("rewriting-proxy").start(this::accept);
    }

    public int port() {
        return listener.getLocalPort();
    }

    private void accept() {
        while (!listener.isClosed()) {
            try {
                Socket client = listener.accept();
                Socket server = new Socket(InetAddress.getLoopbackAddress(), serverPort);
                sockets.add(client);
                sockets.add(server);
                Thread.ofPlatform().daemon().start(() -> pump(client, server, true));
                Thread.ofPlatform().daemon().start(() -> pump(server, client, false));
            } catch (IOException e) {
                return;
            }
        }
    }

    /** Copies {@code from} to {@code to}; client bytes are rewritten, holding back a possible partial match. */
    private void pump(Socket from, Socket to, boolean rewrite) {
        byte[] buffer = new byte[65536];
        byte[] held = new byte[0];
        try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
            int n;
            while ((n = in.read(buffer)) >= 0) {
                if (!rewrite) {
                    out.write(buffer, 0, n);
                    out.flush();
                    continue;
                }
                byte[] data = Arrays.copyOf(held, held.length + n);
                System.arraycopy(buffer, 0, data, held.length, n);
                for (int i = 0; i + find.length <= data.length; i++) {
                    if (Arrays.equals(data, i, i + find.length, find, 0, find.length)) {
                        System.arraycopy(replace, 0, data, i, replace.length);
                    }
                }
                int keep = Math.min(find.length - 1, data.length);
                out.write(data, 0, data.length - keep);
                out.flush();
                held = Arrays.copyOfRange(data, data.length - keep, data.length);
                if (in.available() == 0 && keep > 0) {
                    // Nothing more is coming right now: a held-back tail that cannot grow into a
                    // match must not be delayed, or the protocol would stall.
                    out.write(held);
                    out.flush();
                    held = new byte[0];
                }
            }
        } catch (IOException e) {
            // one side closed; the other follows
        } finally {
            close(from);
            close(to);
        }
    }

    @Override
    public void close() throws IOException {
        listener.close();
        for (Socket socket : sockets) {
            close(socket);
        }
    }

    private static void close(Socket socket) {
        try {
            socket.close();
        } catch (IOException ignored) {
            // already closed
        }
    }
}
