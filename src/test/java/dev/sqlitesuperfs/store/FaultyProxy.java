package dev.sqlitesuperfs.store;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A TCP proxy on 127.0.0.1 in front of a PostgreSQL server that can break one connection at a
 * chosen point of the protocol: right after the server reports a command complete. It reads the
 * server's messages (type byte, length, payload), so clients must not negotiate TLS or GSS.
 */
final class FaultyProxy implements AutoCloseable {

    /** What to do when the server's CommandComplete tag starts with {@code tagPrefix}. */
    record Fault(String tagPrefix, boolean keepServerSide) {}

    private final ServerSocket listener;
    private final int serverPort;
    private final AtomicReference<Fault> armed = new AtomicReference<>();
    private final AtomicReference<Fault> fired = new AtomicReference<>();
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private final Thread acceptor;
    /** While set, new connections are closed at once, as by a server that is down. */
    private volatile boolean refusing;

    FaultyProxy(int serverPort) throws IOException {
        this.serverPort = serverPort;
        this.listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        this.acceptor = Thread.ofPlatform().daemon(true).name("faulty-proxy").start(this::accept);
    }

    int port() {
        return listener.getLocalPort();
    }

    /**
     * The next CommandComplete whose tag starts with {@code tagPrefix} is not delivered: the client's
     * side of that connection is closed instead, and the server's side too unless
     * {@code keepServerSide} (then the server session lives on, as behind a half-open connection).
     */
    void arm(String tagPrefix, boolean keepServerSide) {
        fired.set(null);
        armed.set(new Fault(tagPrefix, keepServerSide));
    }

    /** Refuse new connections ({@code true}) or forward them again ({@code false}). */
    void refuse(boolean refuse) {
        refusing = refuse;
    }

    boolean fired() {
        return fired.get() != null;
    }

    private void accept() {
        while (!listener.isClosed()) {
            try {
                Socket client = listener.accept();
                if (refusing) {
                    client.close();
                    continue;
                }
                Socket server = new Socket(InetAddress.getLoopbackAddress(), serverPort);
                client.setTcpNoDelay(true);
                server.setTcpNoDelay(true);
                sockets.add(client);
                sockets.add(server);
                AtomicBoolean keepServer = new AtomicBoolean();
                Thread.ofPlatform().daemon(true).start(() -> copyRaw(client, server, keepServer));
                Thread.ofPlatform().daemon(true).start(() -> copyMessages(server, client, keepServer));
            } catch (IOException e) {
                return;
            }
        }
    }

    private static void copyRaw(Socket from, Socket to, AtomicBoolean keepTo) {
        byte[] buffer = new byte[65536];
        try (InputStream in = from.getInputStream()) {
            OutputStream out = to.getOutputStream();
            int n;
            while ((n = in.read(buffer)) >= 0) {
                out.write(buffer, 0, n);
                out.flush();
            }
        } catch (IOException ignored) {
            // One side went away; the other pump notices on its own.
        }
        if (!keepTo.get()) {
            closeQuietly(to);
        }
    }

    private void copyMessages(Socket server, Socket client, AtomicBoolean keepServer) {
        try {
            DataInputStream in = new DataInputStream(server.getInputStream());
            OutputStream out = client.getOutputStream();
            while (true) {
                byte type = in.readByte();
                int length = in.readInt();
                byte[] payload = new byte[length - 4];
                in.readFully(payload);
                Fault fault = armed.get();
                if (type == 'C' && fault != null && tag(payload).startsWith(fault.tagPrefix())
                        && armed.compareAndSet(fault, null)) {
                    fired.set(fault);
                    keepServer.set(fault.keepServerSide());
                    closeQuietly(client);
                    if (!fault.keepServerSide()) {
                        closeQuietly(server);
                    }
                    return;
                }
                out.write(type);
                out.write(new byte[] {(byte) (length >>> 24), (byte) (length >>> 16), (byte) (length >>> 8), (byte) length});
                out.write(payload);
                if (type == 'Z' || type == 'R' || type == 'E' || type == 'N' || in.available() == 0) {
                    out.flush();
                }
            }
        } catch (IOException ignored) {
            closeQuietly(client);
        }
    }

    private static String tag(byte[] payload) {
        int end = payload.length > 0 && payload[payload.length - 1] == 0 ? payload.length - 1 : payload.length;
        return new String(payload, 0, end, StandardCharsets.US_ASCII);
    }

    @Override
    public void close() throws IOException {
        listener.close();
        for (Socket socket : sockets) {
            closeQuietly(socket);
        }
        try {
            acceptor.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void closeQuietly(Socket socket) {
        try {
            socket.close();
        } catch (IOException ignored) {
            // Already closed.
        }
    }
}
