package dev.sqlitesuperfs.host;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.cli.ExitCode;
import dev.sqlitesuperfs.testing.LogCapture;
import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * What arrives on the control socket that no client sends: each gets a one-line error and a line
 * in the host's log, and the host answers the next request as if nothing had happened.
 */
class ControlSocketTest {
    static InProcessHost host;

    @BeforeAll
    static void startHost() {
        host = InProcessHost.start();
    }

    @AfterAll
    static void stopHost() {
        host.close();
    }

    /** The answer line, checked to be one the client understands, with exit code 2. */
    static ControlResponse badRequestAnswer(String line) throws Exception {
        assertThat(line).endsWith("\n");
        assertThat(line.strip()).doesNotContain("\n");
        ControlResponse answer = ControlResponse.parse(line.strip());
        assertThat(answer.exitCode()).as(line).isEqualTo(ExitCode.USAGE.code());
        assertThat(answer.message()).startsWith("bad request: ");
        return answer;
    }

    static void assertStillServing() {
        ControlResponse status = host.send(new ControlRequest.Status());
        assertThat(status.exitCode()).isZero();
        assertThat(status.message()).endsWith("namespaces");
    }

    @Test
    void eachMalformedRequestIsAnsweredWithWhatIsWrongAndLogged() throws Exception {
        Map<String, String> cases = new java.util.LinkedHashMap<>();
        cases.put("{\"version\":1,\n", "malformed request: a member name (a string) expected at offset 13");
        cases.put("[1,2]\n", "malformed request: not a JSON object");
        cases.put("{\"version\":2,\"command\":\"status\"}\n", "protocol version 2 is not spoken here");
        cases.put("{\"command\":\"status\"}\n", "member \"version\" missing");
        cases.put("{\"version\":\"1\",\"command\":\"status\"}\n", "member \"version\" must be a whole number");
        cases.put("{\"version\":1,\"command\":\"frobnicate\"}\n", "unknown command \"frobnicate\"");
        cases.put("{\"version\":1,\"command\":\"unmount\",\"directory\":5}\n", "member \"directory\" must be a string");
        cases.put("{\"version\":1,\"command\":\"unmount\",\"directory\":\"relative/dir\"}\n",
                "member \"directory\" must be an absolute path");
        cases.put("{\"version\":1,\"command\":\"status\",\"verbose\":true}\n", "unknown member \"verbose\"");
        cases.put("{\"version\":1,\"command\":\"status\",\"command\":\"status\"}\n", "given twice");
        cases.put("{\"version\":1,\"command\":\"mount\",\"directory\":\"/mnt/x\",\"options\":[],\"uid\":0,\"gid\":0,"
                + "\"passphrase_bytes\":8,\"passphrase_typed_twice\":true}\n", "member \"namespace\" missing");
        cases.put("{\"version\":1,\"command\":\"mount\",\"namespace\":\"a\",\"directory\":\"/mnt/x\",\"options\":[1],"
                + "\"uid\":0,\"gid\":0,\"passphrase_bytes\":8,\"passphrase_typed_twice\":true}\n",
                "member \"options\" must be a list of strings");
        cases.put("{\"version\":1,\"command\":\"mount\",\"namespace\":\"a\",\"directory\":\"/mnt/x\",\"options\":[],"
                + "\"uid\":0,\"gid\":0,\"passphrase_bytes\":0,\"passphrase_typed_twice\":true}\n",
                "member \"passphrase_bytes\" must be a whole number from 1 to 65536");
        cases.put("{\"version\":1,\"command\":\"mount\",\"namespace\":\"a\",\"directory\":\"/mnt/x\",\"options\":[],"
                + "\"uid\":0,\"gid\":0,\"passphrase_bytes\":10,\"passphrase_typed_twice\":true}\nabc",
                "request cut short: the passphrase ended after 3 of 10 bytes");
        cases.put("{\"version\":1,\"command\":\"status\"}\nmore", "unexpected bytes after the request line");
        cases.put("{\"version\":1,\"command\":\"status\"}", "request cut short: the connection closed before the end");
        cases.put("[".repeat(100) + "]".repeat(100) + "\n", "nested deeper than 16 levels");
        cases.put("{\"version\":1,\"command\":\"st\\ud800atus\"}\n", "unknown command");
        try (LogCapture log = LogCapture.of(Connection.class)) {
            for (Map.Entry<String, String> c : cases.entrySet()) {
                String line = host.sendRaw(c.getKey().getBytes(StandardCharsets.UTF_8), true);
                ControlResponse answer = badRequestAnswer(line);
                assertThat(answer.message()).as("answer to %s", c.getKey()).contains(c.getValue());
                assertThat(log.lines()).as("log after %s", c.getKey())
                        .anyMatch(l -> l.startsWith("control socket: bad request from user root: ")
                                && l.contains(c.getValue()));
                assertStillServing();
            }
        }
    }

    @Test
    void bytesThatAreNotUtf8AndLinesTooLongAreRefused() throws Exception {
        byte[] notUtf8 = {'{', (byte) 0xff, (byte) 0xfe, '}', '\n'};
        assertThat(badRequestAnswer(host.sendRaw(notUtf8, true)).message()).contains("request line is not UTF-8");
        byte[] tooLong = "x".repeat(ControlRequest.MAX_LINE + 10).getBytes(StandardCharsets.US_ASCII);
        assertThat(badRequestAnswer(host.sendRaw(tooLong, false)).message())
                .contains("request line longer than 65536 bytes");
        assertStillServing();
    }

    @Test
    void garbageOfEveryKindLeavesTheHostServing() throws Exception {
        long seed = new Random().nextLong();
        System.out.println("garbage seed " + seed);
        Random random = new Random(seed);
        try (LogCapture log = LogCapture.of(Connection.class)) {
            for (int i = 0; i < 60; i++) {
                byte[] garbage = new byte[random.nextInt(1, 3000)];
                random.nextBytes(garbage);
                if (random.nextBoolean()) {
                    // text that looks more like a request, cut at a random place
                    String almost = "{\"version\":1,\"command\":\"mount\",\"namespace\":\"n\",\"options\":[\"--x\"]}\n";
                    garbage = almost.substring(0, random.nextInt(almost.length())).getBytes(StandardCharsets.UTF_8);
                }
                String line = host.sendRaw(garbage, true);
                badRequestAnswer(line);
            }
            assertThat(log.lines()).as("one log line per bad request").hasSizeGreaterThanOrEqualTo(60);
        }
        assertStillServing();
    }

    @Test
    void aConnectionClosedAtOnceIsLoggedAndNothingElseHappens() throws Exception {
        try (LogCapture log = LogCapture.of(Connection.class)) {
            SocketChannel.open(UnixDomainSocketAddress.of(host.socket())).close();
            assertStillServing();
            waitFor(() -> log.lines().stream().anyMatch(l -> l.contains("the connection closed without a request")),
                    Duration.ofSeconds(30));
        }
    }

    /**
     * Clients that connect and say nothing take every slot for a while; each is answered and
     * closed at the deadline, and a real request then goes through.
     */
    @Test
    void clientsThatSayNothingAreCutOffAtTheDeadlineAndTheHostServesOn() throws Exception {
        List<SocketChannel> silent = new ArrayList<>();
        try (LogCapture log = LogCapture.of(Connection.class)) {
            for (int i = 0; i < ControlSocket.MAX_CONNECTIONS + 4; i++) {
                silent.add(SocketChannel.open(UnixDomainSocketAddress.of(host.socket())));
            }
            // half a request, then nothing
            silent.getFirst().write(ByteBuffer.wrap("{\"version\":1,".getBytes(StandardCharsets.US_ASCII)));
            String answer = InProcessHost.readAll(silent.getFirst());
            assertThat(badRequestAnswer(answer).message()).contains("no whole request within 10 s");
            assertStillServing();
            assertThat(log.lines()).anyMatch(l -> l.contains("no whole request from user root within 10 s"));
        } finally {
            for (SocketChannel channel : silent) {
                channel.close();
            }
        }
    }

    static void waitFor(java.util.function.BooleanSupplier condition, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("condition not met within " + timeout);
            }
            Thread.sleep(20);
        }
    }

    /**
     * A mount is owned by the user the kernel says connected (SO_PEERCRED), not by whom the
     * request names: a request whose uid or gid is another is refused before anything is opened.
     */
    @Test
    void aMountRequestNamingAnotherUserThanTheConnectionsIsRefused() {
        for (int[] ids : new int[][] {{4321, 0}, {0, 4321}}) {
            ControlResponse answer = ControlClient.exchange(host.socket(), new ControlRequest.Mount("t_someone",
                    host.dir().resolve("elsewhere"), List.of(), null, ids[0], ids[1], 3, true),
                    "abc".getBytes(StandardCharsets.US_ASCII));
            assertThat(answer.exitCode()).isEqualTo(ExitCode.HOST_DENIED.code());
            assertThat(answer.message()).isEqualTo("the request's uid and gid are not those of its connection");
        }
        assertStillServing();
    }

    @Test
    void unknownDirectoriesAreAnsweredAsAStandaloneUnmountWould() throws IOException {
        ControlResponse answer = host.send(new ControlRequest.Unmount(host.dir().resolve("nothing-here")));
        assertThat(answer.exitCode()).isEqualTo(ExitCode.MOUNT.code());
        assertThat(answer.message()).endsWith("nothing-here is not mounted by this host");
    }
}
