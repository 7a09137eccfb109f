package dev.sqlitesuperfs.host;

import dev.sqlitesuperfs.cli.CliException;
import dev.sqlitesuperfs.cli.ExitCode;
import java.io.IOException;
import java.net.SocketException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;

/**
 * The client's end of the control socket: one request, one answer. Failing to reach the host is
 * told apart from the host's refusal: no socket, nobody listening, an answer that is not one
 * ({@link ExitCode#NO_HOST}); the socket's permissions keeping this user out
 * ({@link ExitCode#HOST_DENIED}, as the host's own refusal is).
 */
final class ControlClient {
    private ControlClient() {}

    /**
     * Sends {@code request}, followed by {@code passphrase} for a mount (written from a direct
     * buffer that is zeroed afterwards; the caller zeroes its array), and returns the answer.
     */
    static ControlResponse exchange(Path socket, ControlRequest request, byte[] passphrase) {
        byte[] line = (Json.write(request.toJson()) + "\n").getBytes(StandardCharsets.UTF_8);
        try (SocketChannel channel = connect(socket)) {
            ByteBuffer out = ByteBuffer.allocateDirect(line.length + passphrase.length);
            try {
                out.put(line).put(passphrase).flip();
                while (out.hasRemaining()) {
                    channel.write(out);
                }
            } finally {
                out.clear();
                while (out.hasRemaining()) {
                    out.put((byte) 0);
                }
            }
            // Done sending; the host may still answer a request it found cut short.
            channel.shutdownOutput();
            return ControlResponse.parse(readAnswer(channel, socket));
        } catch (IOException e) {
            throw new CliException(ExitCode.NO_HOST, "the host on " + socket + " did not answer: " + ControlSocket.reason(e));
        } catch (ControlRequest.Refused e) {
            throw new CliException(ExitCode.NO_HOST, e.getMessage());
        }
    }

    private static SocketChannel connect(Path socket) {
        if (!Files.exists(socket, LinkOption.NOFOLLOW_LINKS)) {
            throw new CliException(ExitCode.NO_HOST, "no host is serving on " + socket + " (there is no such socket;"
                    + " `sqlitesuperfs serve` starts one)");
        }
        try {
            return SocketChannel.open(UnixDomainSocketAddress.of(socket));
        } catch (SocketException e) {
            String reason = String.valueOf(e.getMessage());
            if (reason.contains("Permission denied")) {
                throw new CliException(ExitCode.HOST_DENIED, "permission denied on " + socket + ": the host admits"
                        + " root and the members of its --socket-group");
            }
            if (reason.contains("Connection refused")) {
                throw new CliException(ExitCode.NO_HOST, "no host is serving on " + socket + " (a socket left by a host"
                        + " that is gone)");
            }
            throw new CliException(ExitCode.NO_HOST, "cannot reach the host on " + socket + ": " + reason);
        } catch (IOException e) {
            throw new CliException(ExitCode.NO_HOST, "cannot reach the host on " + socket + ": "
                    + ControlSocket.reason(e));
        }
    }

    private static String readAnswer(SocketChannel channel, Path socket) throws IOException, ControlRequest.Refused {
        ByteBuffer in = ByteBuffer.allocate(64 * 1024);
        int scanned = 0;
        while (true) {
            for (int i = scanned; i < in.position(); i++, scanned++) {
                if (in.get(i) == '\n') {
                    try {
                        return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                                .decode(in.flip().limit(i)).toString();
                    } catch (CharacterCodingException e) {
                        throw new ControlRequest.Refused("the host's answer is not UTF-8");
                    }
                }
            }
            if (!in.hasRemaining()) {
                if (in.capacity() >= ControlResponse.MAX_LINE) {
                    throw new ControlRequest.Refused("the host's answer is longer than " + ControlResponse.MAX_LINE
                            + " bytes");
                }
                in = ByteBuffer.allocate(in.capacity() * 2).put(in.flip());
            }
            if (channel.read(in) < 0) {
                throw new ControlRequest.Refused("the host on " + socket + " closed the connection without answering");
            }
        }
    }
}
