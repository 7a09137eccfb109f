package dev.sqlitesuperfs.cli;

import dev.sqlitesuperfs.fuse.FuseSession;
import dev.sqlitesuperfs.host.HostCommands;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * {@code sqlitesuperfs unmount [--socket PATH] DIR}: unmounts, then waits until the process that
 * served DIR has stored what it still held in memory and exited, so that when this returns
 * everything written through the mount is in PostgreSQL.
 *
 * <p>A mount a host serves is unmounted by asking the host, which answers once it has stored
 * everything (its process goes on). Which host: the one {@code --socket} names, else the one the
 * mount's record names ({@link MountRegistry}: a host records its socket with each mount).
 */
final class Unmount {
    private static final Duration WAIT = Duration.ofMinutes(5);
    private static final String USAGE = "usage: sqlitesuperfs unmount [--socket PATH] DIR";

    private Unmount() {}

    static int run(List<String> args, PrintStream out, PrintStream err) {
        Path socket = null;
        List<String> rest = args;
        if (!args.isEmpty() && args.getFirst().startsWith("--socket=")) {
            socket = Path.of(args.getFirst().substring("--socket=".length()));
            rest = args.subList(1, args.size());
        } else if (args.size() >= 2 && args.getFirst().equals("--socket")) {
            socket = Path.of(args.get(1));
            rest = args.subList(2, args.size());
        }
        if (rest.size() != 1 || rest.getFirst().startsWith("-") || (socket != null && socket.toString().isEmpty())) {
            throw new CliException(ExitCode.USAGE, USAGE);
        }
        Path dir = Path.of(rest.getFirst()).toAbsolutePath().normalize();
        Optional<Path> host = socket != null ? Optional.of(socket) : MountRegistry.hostSocketOf(dir);
        if (host.isPresent()) {
            return HostCommands.unmount(host.get(), dir, out, err);
        }
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
