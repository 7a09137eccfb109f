package dev.sqlitesuperfs.localpg;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs one PostgreSQL program to completion and collects what it printed. */
final class CommandRunner {

    record Result(int exitCode, String output) {
        boolean succeeded() {
            return exitCode == 0;
        }

        /** The last non-blank line of the output, for one-line error messages. */
        String lastLine() {
            String[] lines = output.strip().split("\n");
            return lines[lines.length - 1].strip();
        }
    }

    private CommandRunner() {}

    static Result run(List<String> command, Path workingDir, Duration timeout) {
        String program = Path.of(programName(command)).getFileName().toString();
        Path output = null;
        try {
            // A file rather than a pipe: the wait below can then time out even if the program hangs.
            output = Files.createTempFile("sqlitesuperfs-" + program, ".out");
            ProcessBuilder builder = new ProcessBuilder(command)
                    .directory(workingDir.toFile())
                    .redirectErrorStream(true)
                    .redirectOutput(output.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
            // Read by people in error messages: keep the programs' messages in plain English.
            builder.environment().put("LC_MESSAGES", "C");
            Process process = builder.start();
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly();
                throw new LocalPostgresException(program + " did not finish within " + timeout.toSeconds() + " s");
            }
            return new Result(process.exitValue(), Files.readString(output, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new LocalPostgresException("cannot run " + program + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LocalPostgresException("interrupted while running " + program, e);
        } finally {
            if (output != null) {
                try {
                    Files.deleteIfExists(output);
                } catch (IOException ignored) {
                    // A leftover temporary file is harmless.
                }
            }
        }
    }

    /** The PostgreSQL program in a command that may be prefixed by setpriv and its options. */
    private static String programName(List<String> command) {
        int separator = command.indexOf("--");
        return separator >= 0 && separator + 1 < command.size() ? command.get(separator + 1) : command.getFirst();
    }
}
