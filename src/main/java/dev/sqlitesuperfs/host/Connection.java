package dev.sqlitesuperfs.host;

import dev.sqlitesuperfs.cli.ExitCode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import jdk.net.ExtendedSocketOptions;
import jdk.net.UnixDomainPrincipal;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One connection to the control socket: the peer's credentials checked, one request read
 * ({@link ControlRequest} says what it looks like), answered, the connection closed.
 *
 * <p>Whatever arrives is answered rather than crashing anything: a refused peer, a request too
 * long, cut short, not UTF-8, not JSON, of an unknown command or with members of the wrong type
 * gets a one-line error (exit code {@link ExitCode#HOST_DENIED} for a refused peer,
 * {@link ExitCode#USAGE} for the rest) and a line in the host's log naming the peer; so does a
 * request that has not arrived whole within {@link #REQUEST_DEADLINE}, after which the connection
 * is closed. Nothing of a request's content is logged: a broken client might have put a secret
 * anywhere in it.
 *
 * <p>The passphrase is read into a direct buffer of this connection's (not through the JDK's
 * cached temporary buffers, which are never wiped), copied into an array for the handler, and both
 * are zeroed when the request is done.
 */
final class Connection {
    private static final Logger log = LoggerFactory.getLogger(Connection.class);
    /** Time for a whole request to arrive; what it then asks for may take as long as it takes. */
    static final Duration REQUEST_DEADLINE = Duration.ofSeconds(10);
    private static final Duration DISCARD_TIME = Duration.ofSeconds(2);
    private static final long DISCARD_BYTES = 1 << 20;

    private final SocketChannel channel;
    private final SocketAccess access;
    private final ControlSocket.Handler handler;
    private final ScheduledExecutorService deadlines;
    private final ByteBuffer buffer = ByteBuffer.allocateDirect(ControlRequest.MAX_LINE + 1
            + ControlRequest.MAX_PASSPHRASE);
    private String peerName = "an unknown peer";

    Connection(SocketChannel channel, SocketAccess access, ControlSocket.Handler handler,
            ScheduledExecutorService deadlines) {
        this.channel = channel;
        this.access = access;
        this.handler = handler;
        this.deadlines = deadlines;
    }

    void serve() {
        byte[] passphrase = new byte[0];
        ScheduledFuture<?> deadline = deadlines.schedule(this::tooSlow, REQUEST_DEADLINE.toMillis(),
                TimeUnit.MILLISECONDS);
        try {
            SocketAccess.Peer peer;
            try {
                UnixDomainPrincipal credentials = channel.getOption(ExtendedSocketOptions.SO_PEERCRED);
                peerName = "user " + credentials.user().getName();
                peer = access.admit(credentials);
            } catch (ControlRequest.Refused e) {
                log.warn("control socket: refused {}: {}", peerName, e.getMessage());
                if (deadline.cancel(false)) {
                    answer(ControlResponse.failure(ExitCode.HOST_DENIED, "refused: " + e.getMessage()));
                }
                return;
            }
            ControlRequest request;
            try {
                int lineEnd = readLine();
                request = ControlRequest.parse(decode(lineEnd));
                passphrase = request instanceof ControlRequest.Mount mount ? readPassphrase(lineEnd, mount)
                        : noMoreBytes(lineEnd);
            } catch (ControlRequest.Refused e) {
                if (deadline.cancel(false)) {
                    log.warn("control socket: bad request from {}: {}", peerName, e.getMessage());
                    answer(ControlResponse.failure(ExitCode.USAGE, "bad request: " + e.getMessage()));
                    discardTheRest();
                }
                return;
            }
            if (!deadline.cancel(false)) {
                return; // too late: tooSlow has answered and closed the connection
            }
            answer(handler.handle(request, peer, passphrase));
        } catch (IOException e) {
            if (channel.isOpen()) {
                log.warn("control socket: connection from {} failed: {}", peerName, ControlSocket.reason(e));
            }
        } catch (RuntimeException e) {
            deadline.cancel(false);
            log.error("control socket: request from {} failed unexpectedly", peerName, e);
            answer(ControlResponse.failure(ExitCode.INTERNAL, "the host failed: " + e));
        } finally {
            Arrays.fill(passphrase, (byte) 0);
            wipe();
            ControlSocket.closeQuietly(channel);
        }
    }

    /** Reads until the newline that ends the request's line; returns its offset. */
    private int readLine() throws IOException, ControlRequest.Refused {
        buffer.clear().limit(ControlRequest.MAX_LINE + 1);
        int scanned = 0;
        while (true) {
            for (; scanned < buffer.position(); scanned++) {
                if (buffer.get(scanned) == '\n') {
                    return scanned;
                }
            }
            if (!buffer.hasRemaining()) {
                throw new ControlRequest.Refused("request line longer than " + ControlRequest.MAX_LINE + " bytes");
            }
            if (channel.read(buffer) < 0) {
                throw new ControlRequest.Refused(buffer.position() == 0 ? "the connection closed without a request"
                        : "request cut short: the connection closed before the end of its line");
            }
        }
    }

    private String decode(int lineEnd) throws ControlRequest.Refused {
        ByteBuffer line = buffer.duplicate().position(0).limit(lineEnd);
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(line).toString();
        } catch (CharacterCodingException e) {
            throw new ControlRequest.Refused("request line is not UTF-8");
        }
    }

    /** The passphrase that follows a mount request's line: exactly as many bytes as it announced. */
    private byte[] readPassphrase(int lineEnd, ControlRequest.Mount mount) throws IOException, ControlRequest.Refused {
        int start = lineEnd + 1;
        int end = start + mount.passphraseBytes();
        if (buffer.position() > end) {
            throw new ControlRequest.Refused("more bytes after the request than passphrase_bytes announces");
        }
        buffer.limit(end);
        while (buffer.hasRemaining()) {
            if (channel.read(buffer) < 0) {
                throw new ControlRequest.Refused("request cut short: the passphrase ended after "
                        + (buffer.position() - start) + " of " + mount.passphraseBytes() + " bytes");
            }
        }
        byte[] passphrase = new byte[mount.passphraseBytes()];
        buffer.get(start, passphrase);
        return passphrase;
    }

    private byte[] noMoreBytes(int lineEnd) throws ControlRequest.Refused {
        if (buffer.position() > lineEnd + 1) {
            throw new ControlRequest.Refused("unexpected bytes after the request line");
        }
        return new byte[0];
    }

    /** Runs at the deadline unless the request arrived whole before. */
    private void tooSlow() {
        log.warn("control socket: no whole request from {} within {} s; connection closed", peerName,
                REQUEST_DEADLINE.toSeconds());
        answer(ControlResponse.failure(ExitCode.USAGE, "bad request: no whole request within "
                + REQUEST_DEADLINE.toSeconds() + " s"));
        ControlSocket.closeQuietly(channel);
    }

    /**
     * After refusing a request, reads (and drops) what the peer is still sending, so that it can
     * read the answer: a Unix socket closed with unread data resets the connection, and the
     * peer's read then fails instead of returning the answer. Bounded in bytes and in time.
     */
    private void discardTheRest() {
        ScheduledFuture<?> cutOff = deadlines.schedule(() -> ControlSocket.closeQuietly(channel), DISCARD_TIME.toMillis(),
                TimeUnit.MILLISECONDS);
        try {
            channel.shutdownOutput();
            long discarded = 0;
            while (discarded < DISCARD_BYTES) {
                int n = channel.read(buffer.clear());
                if (n < 0) {
                    break;
                }
                discarded += n;
            }
        } catch (IOException e) {
            // the peer went away or the time ran out: nothing more to do for it
        } finally {
            cutOff.cancel(false);
        }
    }

    /** Sends the answer; a peer that is gone is no failure of the host's. */
    private void answer(ControlResponse response) {
        ByteBuffer out = ByteBuffer.wrap(response.toLine().getBytes(StandardCharsets.UTF_8));
        try {
            while (out.hasRemaining()) {
                channel.write(out);
            }
        } catch (IOException e) {
            log.debug("control socket: cannot answer {}: {}", peerName, ControlSocket.reason(e));
        }
    }

    private void wipe() {
        buffer.clear();
        while (buffer.hasRemaining()) {
            buffer.put((byte) 0);
        }
    }
}
