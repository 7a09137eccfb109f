package dev.sqlitesuperfs.testing;

import dev.sqlitesuperfs.cli.MountSettings;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The command line as a separate process ({@code java -cp <test classpath> ...Main}), for what an
 * in-process mount cannot show: exit codes, messages, signals, kill -9, other users.
 *
 * <p>Every process starts with SIGINT and SIGTERM at their default action, as a command typed at
 * an interactive shell does, however the test run itself was started: a run started in the
 * background of a script ({@code ./run-tests &}) ignores SIGINT, and an ignored signal is passed on
 * to every child (Java's ProcessBuilder cannot reset it), so a test that sends SIGINT would
 * otherwise find it ignored. {@link #startWrapped} can ignore them again on purpose.
 */
public final class CliProcess implements AutoCloseable {
    /** Runs its arguments with SIGINT and SIGTERM at their default action (coreutils env). */
    private static final List<String> DEFAULT_SIGNALS = List.of("env", "--default-signal=INT,TERM", "--");

    private final Process process;
    private final StringBuffer stdout = new StringBuffer();
    private final StringBuffer stderr = new StringBuffer();
    private final CountDownLatch mounted = new CountDownLatch(1);
    private final CompletableFuture<Void> drained;

    private CliProcess(Process process) {
        this.process = process;
        // Own threads: a pump blocks until the process ends, and the common pool may have one thread.
        CompletableFuture<Void> out = new CompletableFuture<>();
        CompletableFuture<Void> err = new CompletableFuture<>();
        Thread.ofPlatform().daemon().start(() -> {
            pump(process.inputReader(StandardCharsets.UTF_8), stdout, true);
            out.complete(null);
        });
        Thread.ofPlatform().daemon().start(() -> {
            pump(process.errorReader(StandardCharsets.UTF_8), stderr, false);
            err.complete(null);
        });
        this.drained = CompletableFuture.allOf(out, err);
    }

    /** Starts {@code sqlitesuperfs args...} with {@code env} added to this process's environment. */
    public static CliProcess start(Map<String, String> env, String... args) {
        return startAs(null, env, args);
    }

    /**
     * Starts it as another user ({@code setpriv --reuid=U --regid=G --clear-groups}) when
     * {@code uidGid} is "U:G", else as ourselves.
     */
    public static CliProcess startAs(String uidGid, Map<String, String> env, String... args) {
        if (uidGid == null) {
            return startWrapped(List.of(), false, env, args);
        }
        String[] ug = uidGid.split(":");
        return startWrapped(List.of("setpriv", "--reuid=" + ug[0], "--regid=" + ug[1], "--clear-groups", "--"), true,
                env, args);
    }

    /**
     * Starts it behind {@code prefix}, a command that ends by running its arguments (setpriv,
     * unshare, sh -c '... "$@"', env --ignore-signal=INT ...); {@code sharedClasspath} for prefixes
     * that change the user.
     */
    public static CliProcess startWrapped(List<String> prefix, boolean sharedClasspath, Map<String, String> env,
            String... args) {
        List<String> cmd = new ArrayList<>(DEFAULT_SIGNALS);
        if (!prefix.isEmpty()) {
            // env finds the prefix on the child's PATH, which a test may take away
            cmd.add(onOurPath(prefix.getFirst()));
            cmd.addAll(prefix.subList(1, prefix.size()));
        }
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("--enable-native-access=ALL-UNNAMED");
        // The program's own logging configuration, not the test run's (logback-test.xml comes
        // first on the test classpath): what is printed, and at which levels, is what users get.
        cmd.add("-Dlogback.configurationFile=logback.xml");
        cmd.add("-cp");
        cmd.add(sharedClasspath ? SharedClasspath.get() : System.getProperty("java.class.path"));
        cmd.add("dev.sqlitesuperfs.cli.Main");
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        environment(pb, env);
        try {
            return new CliProcess(pb.start());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Starts it through the launcher, {@code ./sqlitesuperfs args...}, as a user runs it: the
     * launcher checks what it turns into JVM options, builds the jar if it is missing or older
     * than the sources, and runs it. Only for what the launcher does before it builds anything.
     */
    public static CliProcess startLauncher(Map<String, String> env, String... args) {
        List<String> cmd = new ArrayList<>(DEFAULT_SIGNALS);
        cmd.add(Path.of("sqlitesuperfs").toAbsolutePath().toString());
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        environment(pb, env);
        try {
            return new CliProcess(pb.start());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Starts it on a pseudo-terminal (through {@code script}), as a person would at a shell; use
     * {@link #awaitOutput} and {@link #type} to answer its prompts.
     */
    public static CliProcess startOnTerminal(Map<String, String> env, String... args) {
        StringBuilder command = new StringBuilder();
        command.append(quote(Path.of(System.getProperty("java.home"), "bin", "java").toString()))
                .append(" --enable-native-access=ALL-UNNAMED -cp ").append(quote(System.getProperty("java.class.path")))
                .append(" dev.sqlitesuperfs.cli.Main");
        for (String a : args) {
            command.append(' ').append(quote(a));
        }
        List<String> cmd = new ArrayList<>(DEFAULT_SIGNALS);
        cmd.addAll(List.of("script", "-qefc", command.toString(), "/dev/null"));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        environment(pb, env);
        try {
            return new CliProcess(pb.start());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** {@code command} as an absolute path, found on this process's PATH (as ProcessBuilder would). */
    private static String onOurPath(String command) {
        if (command.contains("/")) {
            return command;
        }
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            Path candidate = Path.of(dir.isEmpty() ? "." : dir, command);
            if (java.nio.file.Files.isExecutable(candidate)) {
                return candidate.toAbsolutePath().toString();
            }
        }
        return command;
    }

    /**
     * This process's environment without what would change the program's behaviour or output
     * depending on how the test run was started: a database URL or passphrase of the caller's, a
     * log level (more lines on stderr), JVM options (the JVM announces them on stderr); then
     * {@code env} on top.
     */
    private static void environment(ProcessBuilder pb, Map<String, String> env) {
        for (String name : List.of("psql_url", "encryption_pass", "new_encryption_pass", "SQLITESUPERFS_LOG_LEVEL",
                "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS")) {
            pb.environment().remove(name);
        }
        pb.environment().put(MountSettings.STATE_DIR_VARIABLE, TestState.DIR.toString());
        pb.environment().putAll(env);
    }

    /**
     * The default state directory of every program a test run starts (freshness anchors, a local
     * PostgreSQL): one for the whole run, as a machine has one, and not the machine's own (tests
     * run as root would fill /var/lib/sqlitesuperfs with the anchors of namespaces long dropped).
     * {@link TestMount}'s anchor directories are made in it too. Removed when the run ends.
     */
    static final class TestState {
        static final Path DIR = create();

        private static Path create() {
            try {
                Path dir = Files.createTempDirectory("sqlitesuperfs-test-state-");
                Runtime.getRuntime().addShutdownHook(new Thread(() -> removeTree(dir)));
                return dir;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        private static void removeTree(Path dir) {
            try (var paths = Files.walk(dir)) {
                paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            } catch (IOException | UncheckedIOException e) {
                // best effort: a temporary directory
            }
        }
    }

    private static String quote(String s) {
        return "'" + s.replace("'", "'\\''") + "'";
    }

    /** Runs to completion and returns the exit code (at most {@code timeout}). */
    public static CliProcess run(Map<String, String> env, Duration timeout, String... args) {
        CliProcess p = start(env, args);
        p.waitFor(timeout);
        return p;
    }

    /** Copies a stream as it arrives (prompts end without a newline), watching for "mounted". */
    private void pump(BufferedReader reader, StringBuffer sink, boolean watchMounted) {
        char[] buffer = new char[4096];
        try (BufferedReader r = reader) {
            int n;
            while ((n = r.read(buffer)) >= 0) {
                sink.append(buffer, 0, n);
                if (watchMounted && sink.indexOf("mounted") >= 0) {
                    mounted.countDown();
                }
            }
        } catch (IOException e) {
            sink.append("<stream closed: ").append(e.getMessage()).append(">\n");
        }
    }

    /** Waits for the line that says the mount is ready; fails with the output if it exits first. */
    public CliProcess awaitMounted(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        try {
            while (System.nanoTime() < deadline) {
                if (mounted.await(100, TimeUnit.MILLISECONDS)) {
                    return this;
                }
                if (!process.isAlive()) {
                    drained.join();
                    throw new AssertionError("mount exited with " + process.exitValue() + " before it was ready\nstdout:\n"
                            + stdout + "stderr:\n" + stderr);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        throw new AssertionError("mount not ready after " + timeout + "\nstdout:\n" + stdout + "stderr:\n" + stderr);
    }

    /** Waits until standard output contains {@code text}. */
    public void awaitOutput(String text, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!stdout.toString().contains(text)) {
            if (System.nanoTime() > deadline || !process.isAlive()) {
                throw new AssertionError("no '" + text + "' in the output\nstdout:\n" + stdout + "stderr:\n" + stderr);
            }
            Thread.sleep(50);
        }
    }

    /** Types {@code text} on the process's standard input (its terminal, for {@link #startOnTerminal}). */
    public void type(String text) {
        try {
            process.getOutputStream().write(text.getBytes(StandardCharsets.UTF_8));
            process.getOutputStream().flush();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public int waitFor(Duration timeout) {
        try {
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                printThreads();
                process.destroyForcibly();
                throw new AssertionError("process did not exit within " + timeout + "\nstdout:\n" + stdout
                        + "stderr:\n" + stderr);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        drained.join();
        return process.exitValue();
    }

    /**
     * Asks the JVM of a process that hangs to print every thread's stack (SIGQUIT) and waits for
     * it to arrive, so that the failure's output says where it hangs.
     */
    private void printThreads() throws InterruptedException {
        int before = stdout.length();
        signal("QUIT");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        int seen = -1;
        while (System.nanoTime() < deadline && (stdout.length() == before || stdout.length() != seen)) {
            seen = stdout.length();
            Thread.sleep(200);
        }
    }

    public int exitCode() {
        return process.exitValue();
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    public long pid() {
        return process.pid();
    }

    /** kill -SIG: "TERM", "INT", "KILL". */
    public void signal(String name) {
        try {
            new ProcessBuilder("kill", "-" + name, Long.toString(process.pid())).inheritIO().start().waitFor();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    public String stdout() {
        return stdout.toString();
    }

    public String stderr() {
        return stderr.toString();
    }

    @Override
    public void close() {
        kill(process);
    }

    /** Kills {@code process} if it still runs and waits (up to 30 s) for it to be gone. */
    static void kill(Process process) {
        if (process.isAlive()) {
            process.destroyForcibly();
            try {
                process.waitFor(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
