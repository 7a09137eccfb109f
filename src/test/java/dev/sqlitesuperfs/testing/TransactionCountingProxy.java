package dev.sqlitesuperfs.testing;

import dev.sqlitesuperfs.store.DatabaseConfig;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A TCP proxy on 127.0.0.1 in front of the test PostgreSQL that counts the transactions committed
 * on the connections through it, read from the server's side of the protocol: a ReadyForQuery
 * that says "idle", after at least one CommandComplete and no error since the last one, ends a
 * committed transaction (an autocommit statement, a batch under one Sync, or BEGIN ... COMMIT).
 * Transactions of nothing but SET are not counted: they set up a new connection (pgjdbc's
 * extra_float_digits, the writer's planner settings), and when a pool opens one is its own affair.
 * Each counted transaction is remembered with its connection's application_name (as the server
 * reports it) and its command tags, so that a test can count only the writer's transactions (what
 * reaches storage; a read or a sequence's nextval on the read pool is not a stored change) and
 * say in its failure message which transactions it saw.
 *
 * <p>Unlike pg_stat_database, the count is exact at every moment and sees nothing else: a
 * transaction is counted before its answer reaches the client, so once a call that waited for it
 * returns, it is in the count; the server's statistics reach pg_stat_database up to 10 s after a
 * backend went idle (later on a busy machine), and autovacuum's transactions land there too.
 */
public final class TransactionCountingProxy implements AutoCloseable {
    private static final int SSL_REQUEST = 80877103;
    private static final int GSSENC_REQUEST = 80877104;

    private final ServerSocket listener;
    private final int serverPort;
    private final List<Committed> committed = new CopyOnWriteArrayList<>();
    private final AtomicReference<String> broken = new AtomicReference<>();
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();

    public TransactionCountingProxy(int serverPort) throws IOException {
        this.serverPort = serverPort;
        this.listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread.ofPlatform().daemon().name("counting-proxy").start(this::accept);
    }

    /** {@code config} with the proxy as its only server. */
    public DatabaseConfig config(DatabaseConfig config) {
        return new DatabaseConfig(List.of(new DatabaseConfig.Endpoint("127.0.0.1", listener.getLocalPort())),
                config.database(), config.user(), config.password(), config.properties(), config.applicationName(),
                config.readPoolSize(), config.retryTimeout());
    }

    /** A committed transaction: the application_name of its connection, and its command tags. */
    public record Committed(String applicationName, List<String> tags) {
        @Override
        public String toString() {
            return applicationName + " " + tags;
        }
    }

    /** Transactions committed through the proxy so far. */
    public long transactions() {
        return committed().size();
    }

    /**
     * Transactions committed so far on the connections that store changes: those whose
     * application_name ends in {@code :writer} (a standalone mount's) or contains
     * {@code :writer-} (a host's writer lanes). Reads and inode-number reservations go through
     * the read pool and are not counted.
     */
    public long writerTransactions() {
        return committed().stream().filter(TransactionCountingProxy::isWriter).count();
    }

    /** Every transaction committed from the {@code from}-th on, for a failure message. */
    public List<Committed> since(long from) {
        List<Committed> all = committed();
        return List.copyOf(all.subList((int) Math.min(from, all.size()), all.size()));
    }

    private List<Committed> committed() {
        String why = broken.get();
        if (why != null) {
            throw new IllegalStateException("the transaction count is not reliable: " + why);
        }
        return List.copyOf(committed);
    }

    private static boolean isWriter(Committed c) {
        return c.applicationName().endsWith(":writer") || c.applicationName().contains(":writer-");
    }

    private void accept() {
        while (!listener.isClosed()) {
            try {
                Socket client = listener.accept();
                Socket server = new Socket(InetAddress.getLoopbackAddress(), serverPort);
                client.setTcpNoDelay(true);
                server.setTcpNoDelay(true);
                sockets.add(client);
                sockets.add(server);
                AtomicInteger singleByteAnswers = new AtomicInteger();
                Thread.ofPlatform().daemon().start(() -> fromClient(client, server, singleByteAnswers));
                Thread.ofPlatform().daemon().start(() -> fromServer(server, client, singleByteAnswers));
            } catch (IOException e) {
                return;
            }
        }
    }

    /**
     * Copies what the client sends. Its first messages carry no type byte: requests for TLS or GSS
     * encryption (answered by one byte, which the other direction must expect), then the start-up
     * message; after that, bytes are copied as they come.
     */
    private void fromClient(Socket client, Socket server, AtomicInteger singleByteAnswers) {
        try (DataInputStream in = new DataInputStream(client.getInputStream());
             OutputStream out = server.getOutputStream()) {
            while (true) {
                int length = in.readInt();
                byte[] body = new byte[length - 4];
                in.readFully(body);
                int code = ((body[0] & 0xff) << 24) | ((body[1] & 0xff) << 16) | ((body[2] & 0xff) << 8) | (body[3] & 0xff);
                if (code == SSL_REQUEST || code == GSSENC_REQUEST) {
                    singleByteAnswers.incrementAndGet();
                }
                out.write(new byte[] {(byte) (length >>> 24), (byte) (length >>> 16), (byte) (length >>> 8),
                        (byte) length});
                out.write(body);
                out.flush();
                if (code != SSL_REQUEST && code != GSSENC_REQUEST) {
                    break;
                }
            }
            in.transferTo(out);
        } catch (IOException e) {
            // one side closed; the other follows
        } finally {
            close(client);
            close(server);
        }
    }

    /** Copies what the server sends, one message at a time, counting before the client sees it. */
    private void fromServer(Socket server, Socket client, AtomicInteger singleByteAnswers) {
        boolean completed = false;
        boolean failed = false;
        String lastTag = "";
        String applicationName = "";
        List<String> tags = new java.util.ArrayList<>();
        try (DataInputStream in = new DataInputStream(new BufferedInputStream(server.getInputStream(), 65536));
             OutputStream out = new BufferedOutputStream(client.getOutputStream(), 65536)) {
            while (true) {
                int type = in.read();
                if (type < 0) {
                    return;
                }
                if (singleByteAnswers.get() > 0) {
                    singleByteAnswers.decrementAndGet();
                    if (type != 'N') {
                        broken.set("the server accepted TLS or GSS encryption; the proxy cannot read through it");
                    }
                    out.write(type);
                    out.flush();
                    continue;
                }
                int length = in.readInt();
                byte[] body = new byte[length - 4];
                in.readFully(body);
                switch (type) {
                    case 'C' -> {
                        lastTag = new String(body, 0, Math.max(0, body.length - 1), StandardCharsets.US_ASCII);
                        completed |= !lastTag.equals("SET");
                        tags.add(lastTag);
                    }
                    case 'E' -> failed = true;
                    case 'S' -> {
                        String[] parameter = new String(body, StandardCharsets.UTF_8).split("\0");
                        if (parameter.length >= 2 && parameter[0].equals("application_name")) {
                            applicationName = parameter[1];
                        }
                    }
                    case 'Z' -> {
                        if (body[0] == 'I') {
                            if (completed && !failed && !lastTag.startsWith("ROLLBACK")) {
                                committed.add(new Committed(applicationName, List.copyOf(tags)));
                            }
                            completed = false;
                            failed = false;
                            lastTag = "";
                            tags.clear();
                        }
                    }
                    default -> { }
                }
                out.write(type);
                out.write(new byte[] {(byte) (length >>> 24), (byte) (length >>> 16), (byte) (length >>> 8),
                        (byte) length});
                out.write(body);
                if (in.available() == 0) {
                    // nothing more has arrived: the server may be waiting for the client
                    out.flush();
                }
            }
        } catch (EOFException e) {
            // the server closed the connection
        } catch (IOException e) {
            // one side closed; the other follows
        } finally {
            close(server);
            close(client);
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
