package dev.sqlitesuperfs.host;

import dev.sqlitesuperfs.cli.CliException;
import dev.sqlitesuperfs.cli.ExitCode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * {@code key-command=COMMAND} of the host's configuration: a program that prints a namespace's
 * passphrase (a secret store's client, {@code systemd-creds decrypt ...}). The command is split at
 * white space into the program and its arguments and run without a shell (write a script for
 * pipes or quoting), with no input, the host's environment and working directory, for at most
 * {@link #TIMEOUT}. What it prints on stdout is the passphrase, without one final newline, as a
 * passphrase file is read; a failure to run, a non-zero exit, nothing printed or too much is the
 * namespace's passphrase failure ({@link ExitCode#PASSPHRASE}), with the first line the command
 * wrote on stderr.
 */
final class KeyCommand {
    static final Duration TIMEOUT = Duration.ofSeconds(60);

    private KeyCommand() {}

    static List<String> split(String command) {
        List<String> words = Arrays.stream(command.strip().split("[ \t]+")).filter(w -> !w.isEmpty()).toList();
        if (words.isEmpty()) {
            throw new IllegalArgumentException("key-command= needs a command");
        }
        return words;
    }

    /** The passphrase {@code command} prints; the caller zeroes the array. */
    static byte[] run(List<String> command, String namespace) {
        String what = "the key command of namespace " + namespace + " (" + command.getFirst() + ")";
        ProcessBuilder builder = new ProcessBuilder(command).redirectInput(ProcessBuilder.Redirect.from(
                new java.io.File("/dev/null")));
        builder.environment().remove("encryption_pass");
        builder.environment().remove("new_encryption_pass");
        Process process;
        try {
            process = builder.start();
        } catch (IOException e) {
            throw new CliException(ExitCode.PASSPHRASE, "cannot run " + what + ": " + ControlSocket.reason(e));
        }
        byte[] output = new byte[ControlRequest.MAX_PASSPHRASE + 1];
        int[] length = new int[1];
        StringBuilder errors = new StringBuilder();
        Thread stdout = Thread.ofPlatform().daemon().start(() -> length[0] = readInto(process.getInputStream(), output));
        Thread stderr = Thread.ofPlatform().daemon().start(() -> errors.append(firstLine(process.getErrorStream())));
        try {
            if (!process.waitFor(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly();
                throw new CliException(ExitCode.PASSPHRASE, what + " did not finish within " + TIMEOUT.toSeconds() + " s");
            }
            stdout.join();
            stderr.join();
            if (process.exitValue() != 0) {
                throw new CliException(ExitCode.PASSPHRASE, what + " exited with status " + process.exitValue()
                        + (errors.isEmpty() ? "" : ": " + errors));
            }
            int end = length[0];
            if (end > ControlRequest.MAX_PASSPHRASE) {
                throw new CliException(ExitCode.PASSPHRASE, what + " printed more than " + ControlRequest.MAX_PASSPHRASE
                        + " bytes");
            }
            if (end > 0 && output[end - 1] == '\n') {
                end--;
                if (end > 0 && output[end - 1] == '\r') {
                    end--;
                }
            }
            if (end == 0) {
                throw new CliException(ExitCode.PASSPHRASE, what + " printed no passphrase");
            }
            return Arrays.copyOf(output, end);
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new CliException(ExitCode.PASSPHRASE, what + " was interrupted");
        } finally {
            Arrays.fill(output, (byte) 0);
        }
    }

    /** Reads until the end or until {@code into} is full (one byte more than allowed tells "too much"). */
    private static int readInto(InputStream in, byte[] into) {
        int n = 0;
        try (in) {
            int r;
            while (n < into.length && (r = in.read(into, n, into.length - n)) > 0) {
                n += r;
            }
            in.transferTo(java.io.OutputStream.nullOutputStream()); // let a chatty command finish instead of blocking on a full pipe
        } catch (IOException e) {
            // the process ended or was killed; what was read counts
        }
        return n;
    }

    private static String firstLine(InputStream in) {
        byte[] head = new byte[512];
        int n = 0;
        try (in) {
            int r;
            while (n < head.length && (r = in.read(head, n, head.length - n)) > 0) {
                n += r;
            }
            in.transferTo(java.io.OutputStream.nullOutputStream());
        } catch (IOException e) {
            // as above
        }
        String text = new String(head, 0, n, StandardCharsets.UTF_8).strip();
        int newline = text.indexOf('\n');
        return newline >= 0 ? text.substring(0, newline).strip() : text;
    }
}
