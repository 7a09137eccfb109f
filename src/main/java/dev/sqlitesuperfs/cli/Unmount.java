package dev.sqlitesuperfs.cli;

import dev.sqlitesuperfs.fuse.FuseSession;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.OptionalLong;

/**
 * {@code sqlitesuperfs unmount DIR}: unmounts, then waits until the process that served DIR has
 * stored what it still held in memory and exited, so that when this returns everything written
 * through the mount is in PostgreSQL.
 */
final class Unmount {
    private static final Duration WAIT = Duration.ofMinutes(5);

    private Unmount() {}

    static int run(List<String> args, PrintStream out) {
        if (args.size() != 1 || args.getFirst().startsWith("-")) {
            throw new CliException(ExitCode.USAGE, "usage: sqlitesuperfs unmount DIR");
        }
        Path dir = Path.of(args.getFirst()).toAbsolutePath().normalize();
        OptionalLong pid = MountRegistry.pidOf(dir);
        try {
            FuseSession.unmountDirectory(dir, NamespaceMount.SUBTYPE);
        } catch (dev.sqlitesuperfs.fuse.MountException e) {
            throw new CliException(ExitCode.MOUNT, e.getMessage());
        }
        if (pid.isPresent()) {
            ProcessHandle.of(pid.getAsLong()).ifPresent(p -> {
                try {
                    p.onExit().get(WAIT.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
                } catch (java.util.concurrent.TimeoutException e) {
                    throw new CliException(ExitCode.INTERNAL, "unmounted " + dir + ", but process " + pid.getAsLong()
                            + " is still storing data after " + WAIT.toMinutes() + " minutes");
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                } catch (java.util.concurrent.ExecutionException e) {
                    throw new IllegalStateException(e);
                }
            });
        }
        out.println("unmounted " + dir);
        return ExitCode.OK.code();
    }
}
