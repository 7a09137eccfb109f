package dev.sqlitesuperfs.testing;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A main class from the test sources run as a separate process, as ourselves or as another user,
 * talking line by line over its standard input and output: for what only a second process (or a
 * second user) can show. The child runs with umask 022.
 */
public final class ChildJava implements AutoCloseable {
    private final Process process;
    private final BufferedReader out;
    private final PrintWriter in;

    private ChildJava(Process process) {
        this.process = process;
        this.out = process.inputReader(StandardCharsets.UTF_8);
        this.in = new PrintWriter(process.outputWriter(StandardCharsets.UTF_8), true);
    }

    /** Starts {@code mainClass args...}; as "U:G" (no supplementary groups) when {@code uidGid} is not null. */
    public static ChildJava start(String uidGid, Class<?> mainClass, String... args) {
        // umask 022 whatever the test runner's, so the modes of what the child creates are known.
        List<String> cmd = new ArrayList<>(List.of("sh", "-c", "umask 022 && exec \"$@\"", "sh"));
        if (uidGid != null) {
            String[] ug = uidGid.split(":");
            cmd.addAll(List.of("setpriv", "--reuid=" + ug[0], "--regid=" + ug[1], "--clear-groups", "--"));
        }
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("--enable-native-access=ALL-UNNAMED");
        cmd.add("-cp");
        cmd.add(uidGid == null ? System.getProperty("java.class.path") : SharedClasspath.get());
        cmd.add(mainClass.getName());
        cmd.addAll(List.of(args));
        try {
            return new ChildJava(new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Sends one line to the child. */
    public void send(String line) {
        in.println(line);
    }

    /** The child's next line of output; fails if it ended instead. */
    public String receive() {
        try {
            String line = out.readLine();
            if (line == null) {
                throw new AssertionError("child " + process.pid() + " ended without answering (exit "
                        + (process.waitFor(30, TimeUnit.SECONDS) ? process.exitValue() : "none") + ")");
            }
            return line;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted");
        }
    }

    /** Sends {@code line} and returns the answer. */
    public String ask(String line) {
        send(line);
        return receive();
    }

    /** Closes the child's input (its cue to finish) and waits for it; returns its exit code. */
    public int finish() {
        in.close();
        return awaitExit(Duration.ofMinutes(2));
    }

    /** Waits until the child ends by itself, at most {@code timeout} (then kills it and fails); returns its exit code. */
    public int awaitExit(Duration timeout) {
        try {
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly();
                throw new AssertionError("child " + process.pid() + " did not exit within " + timeout);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return process.exitValue();
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    @Override
    public void close() {
        CliProcess.kill(process);
    }
}
