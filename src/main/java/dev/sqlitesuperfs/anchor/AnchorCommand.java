package dev.sqlitesuperfs.anchor;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Anchors kept by an external program (a TEE's monotonic counter, a remote service, a file on a
 * machine of its own), for namespaces mounted from several machines or an operator who wants the
 * record elsewhere. Each namespace's anchor runs the program once (no shell: the command is split
 * at spaces) and talks to it for as long as the namespace is open, one line each way, UTF-8:
 *
 * <pre>
 *   read ID          answered "ok N": the newest number recorded for ID (0: none yet)
 *   advance ID N     records N unless a higher number is recorded; "ok M" (M the number recorded
 *                    after it, at least N) once it is durable
 *   rebase ID N      records N even if it is lower (after a deliberate restore); "ok N"
 * </pre>
 *
 * Any other answer ("error TEXT" by convention), no answer within the timeout, or the program's
 * end, is a failure of that request; the next request starts the program again. The program
 * must answer {@code advance} only once the number is as durable as it promises to keep it:
 * commits wait for the answer. {@code examples/anchor-file.py} is one, keeping the numbers in a
 * file.
 */
public final class AnchorCommand implements Anchors {
    private final List<String> command;
    private final Duration timeout;

    /** @param command the program and its arguments, separated by spaces */
    public AnchorCommand(String command, Duration timeout) {
        this.command = List.of(command.strip().split(" +"));
        if (command.isBlank()) {
            throw new IllegalArgumentException("an anchor command cannot be empty");
        }
        this.timeout = timeout;
    }

    @Override
    public Anchor open(String id) throws IOException {
        CommandAnchor anchor = new CommandAnchor(Anchors.checkedId(id));
        try {
            anchor.opened(anchor.request("read " + id));
            return anchor;
        } catch (IOException | RuntimeException e) {
            anchor.close();
            throw e;
        }
    }

    @Override
    public String describe() {
        return "command " + String.join(" ", command);
    }

    /** One namespace's anchor: its own run of the program. */
    private final class CommandAnchor extends RecordedNumber {
        private final String id;
        /** Guards the program and the pipes to it. */
        private final ReentrantLock talking = new ReentrantLock();
        private Process process;
        private BufferedReader answers;
        private OutputStream requests;

        CommandAnchor(String id) {
            this.id = id;
        }

        @Override
        long write(long number, boolean rebase) throws IOException {
            String verb = rebase ? "rebase" : "advance";
            long answer = request(verb + " " + id + " " + number);
            if (rebase ? answer != number : answer < number) {
                throw new IOException(describe() + " answered " + answer + " to " + verb + " " + number);
            }
            return answer;
        }

        /** Sends one request and returns the number of its "ok N" answer. */
        long request(String line) throws IOException {
            talking.lock();
            try {
                if (process == null || !process.isAlive()) {
                    start();
                }
                requests.write((line + "\n").getBytes(StandardCharsets.UTF_8));
                requests.flush();
                String answer = readAnswer();
                if (answer == null) {
                    stop();
                    throw new IOException(describe() + " ended without answering '" + line + "'");
                }
                if (!answer.matches("ok [0-9]{1,19}")) {
                    throw new IOException(describe() + " answered '" + clip(answer) + "' to '" + line + "'");
                }
                return Long.parseLong(answer.substring(3));
            } catch (IOException e) {
                if (process != null && !process.isAlive()) {
                    stop();
                }
                throw e;
            } finally {
                talking.unlock();
            }
        }

        private String readAnswer() throws IOException {
            CompletableFuture<String> line = CompletableFuture.supplyAsync(() -> {
                try {
                    return answers.readLine();
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }, Thread::startVirtualThread);
            try {
                return line.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                stop();
                throw new IOException(describe() + " did not answer within " + timeout.toSeconds() + " s");
            } catch (ExecutionException e) {
                stop();
                throw new IOException(describe() + " could not be read: " + e.getCause().getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while waiting for " + describe());
            }
        }

        private void start() throws IOException {
            ProcessBuilder builder = new ProcessBuilder(command);
            builder.redirectError(ProcessBuilder.Redirect.INHERIT);
            try {
                process = builder.start();
            } catch (IOException e) {
                throw new IOException(describe() + " cannot be run: " + e.getMessage());
            }
            answers = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
            requests = process.getOutputStream();
        }

        private void stop() {
            if (process != null) {
                process.destroyForcibly();
                process = null;
            }
        }

        @Override
        public String describe() {
            return AnchorCommand.this.describe() + " (anchor " + id + ")";
        }

        @Override
        public void close() {
            talking.lock();
            try {
                if (process != null) {
                    try {
                        requests.close(); // the end of its input tells the program to finish
                        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                            process.destroyForcibly();
                        }
                    } catch (IOException | InterruptedException e) {
                        process.destroyForcibly();
                    }
                    process = null;
                }
            } finally {
                talking.unlock();
            }
        }
    }

    private static String clip(String s) {
        return s.length() <= 80 ? s : s.substring(0, 80) + "...";
    }
}
