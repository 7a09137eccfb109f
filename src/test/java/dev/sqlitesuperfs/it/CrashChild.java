package dev.sqlitesuperfs.it;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * What the writer processes of {@link CrashTest} share: the record of acknowledged work on local
 * disk, and the conversation with the test over standard input and output.
 *
 * <p>The record is a file outside the mount to which a writer appends one line per acknowledged
 * unit of work (a committed transaction, a file made durable) and fsyncs it, only after the
 * filesystem call that makes the work durable returned. A line written is therefore a promise
 * the filesystem made; a line missing proves nothing either way.
 *
 * <p>A writer prints "ready" once it is about to start working, runs until its standard input
 * ends (the test's way to stop it) or until a call fails, then prints "stopped N" (N units
 * recorded, exit 0) or "failed MESSAGE" (exit {@link #FAILED}).
 */
final class CrashChild {
    /** The exit code of a writer that stopped because a call failed. */
    static final int FAILED = 3;

    private final FileChannel record;
    private volatile boolean stopRequested;
    private long recorded;

    CrashChild(Path recordFile) throws IOException {
        record = FileChannel.open(recordFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.APPEND);
        Thread.ofPlatform().daemon().name("stop-on-end-of-input").start(this::awaitEndOfInput);
    }

    private void awaitEndOfInput() {
        try {
            InputStream in = System.in;
            while (in.read() >= 0) {
                // Only the end of input means something.
            }
        } catch (IOException e) {
            System.err.println("writer: reading standard input failed, stopping: " + e);
        }
        stopRequested = true;
    }

    /** True once the test asked the writer to stop. */
    boolean stopRequested() {
        return stopRequested;
    }

    /** Appends {@code line} to the record and fsyncs it: call only after the work is acknowledged. */
    synchronized void record(String line) throws IOException {
        ByteBuffer bytes = ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.UTF_8));
        while (bytes.hasRemaining()) {
            record.write(bytes);
        }
        record.force(true);
        recorded++;
    }

    void ready() {
        say("ready");
    }

    /** Ends the process: "stopped N" and exit 0. */
    synchronized void stopped() {
        say("stopped " + recorded);
        System.exit(0);
    }

    /** Ends the process: "failed MESSAGE" and exit {@link #FAILED}. */
    synchronized void failed(Throwable cause) {
        say("failed " + String.valueOf(cause).replace('\n', ' '));
        System.exit(FAILED);
    }

    private static void say(String line) {
        System.out.println(line);
        System.out.flush();
    }

    /**
     * The complete lines of a record file, read while a writer may still be appending: a last
     * line without its newline is still being written and is left out.
     */
    static List<String> recordedLines(Path recordFile) {
        try {
            if (!Files.exists(recordFile)) {
                return List.of();
            }
            String text = Files.readString(recordFile, StandardCharsets.UTF_8);
            List<String> lines = new ArrayList<>(text.lines().toList());
            if (!text.isEmpty() && !text.endsWith("\n")) {
                lines.removeLast();
            }
            return lines;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
