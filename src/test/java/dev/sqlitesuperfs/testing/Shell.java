package dev.sqlitesuperfs.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs a command, returns its standard output; fails with both outputs if it exits non-zero. */
public final class Shell {
    private Shell() {}

    public static String run(String... command) {
        try {
            java.nio.file.Path errFile = java.nio.file.Files.createTempFile("shell-stderr-", ".txt");
            ProcessBuilder pb = new ProcessBuilder(command).redirectError(errFile.toFile());
            pb.environment().put("LC_ALL", "C");
            Process p = pb.start();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(10, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new AssertionError("timed out: " + String.join(" ", command));
            }
            String errText = java.nio.file.Files.readString(errFile, StandardCharsets.UTF_8);
            java.nio.file.Files.deleteIfExists(errFile);
            if (p.exitValue() != 0) {
                throw new AssertionError("exit " + p.exitValue() + ": " + String.join(" ", command) + "\nstdout:\n"
                        + new String(out, StandardCharsets.UTF_8) + "stderr:\n" + errText);
            }
            return new String(out, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted");
        }
    }

    /**
     * Detaches whatever is mounted on {@code dir}, if anything: a mount whose process was killed
     * stays in the kernel's table until then. Lazily, because a dead FUSE mount may still be busy.
     */
    public static void unmountLazilyIfMounted(java.nio.file.Path dir) {
        run("sh", "-c", "grep -q ' " + dir + " ' /proc/self/mountinfo && umount -l '" + dir + "' || true");
    }

    public static List<String> lines(String... command) {
        return run(command).lines().toList();
    }
}
