package dev.sqlitesuperfs.cli;

import dev.sqlitesuperfs.crypto.SodiumUnavailableException;
import dev.sqlitesuperfs.host.HostCommands;
import dev.sqlitesuperfs.host.Serve;
import dev.sqlitesuperfs.store.DatabaseConfig;
import dev.sqlitesuperfs.sys.Libc;
import dev.sqlitesuperfs.sys.SysException;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalLong;
import java.util.function.Supplier;
import org.slf4j.LoggerFactory;

/**
 * Entry point. Every expected failure ends as one line on stderr and a distinct exit code
 * ({@link ExitCode}); nothing prints a stack trace unless the log level asks for it.
 */
public final class Main {
    static final String VERSION = versionOf(Main.class);

    private static final String USAGE = """
            usage: sqlitesuperfs COMMAND ...
              mount [options] NAMESPACE DIR   mount a namespace (see: sqlitesuperfs mount --help)
              mount --host [--socket PATH] [options] NAMESPACE DIR
                                              have a running host mount it (returns once it serves)
              unmount [--socket PATH] DIR     unmount DIR and wait until its mount has stored everything
                                              (a host's mount is unmounted by asking the host)
              serve [--socket PATH] [--socket-group G] [--config FILE]
                                              run a host: it mounts many namespaces and takes mount,
                                              unmount and status requests (see: sqlitesuperfs serve --help)
              status [--socket PATH] [--json] what a host serves, with figures for each namespace
              fsck [--db URL] [--state-dir D] [--verify [--passphrase-file F]] NAMESPACE
                                              check a namespace that is not mounted for consistency;
                                              --verify: also read every row and block with the key
                                              and check it against the authenticators
              passwd [--db URL] [--passphrase-file F] [--new-passphrase-file F] [--kdf S] NAMESPACE
                                              change the passphrase of a namespace that is not mounted
              upgrade [--db URL] [--passphrase-file F] NAMESPACE
                                              authenticate the metadata of a namespace written by an
                                              older version (once, while it is not mounted)
              ns SUBCOMMAND [--db URL] [--json] ...
                                              administer the database's namespaces: list, info, usage,
                                              create, quota, drop (see: sqlitesuperfs ns --help)
              --version                       print the version
              --help                          print this help
            """;

    private Main() {}

    public static void main(String[] args) {
        int code = run(List.of(args), System.getenv(), System.out, System.err);
        System.exit(code);
    }

    static int run(List<String> args, Map<String, String> env, PrintStream out, PrintStream err) {
        if (args.isEmpty()) {
            err.print(USAGE);
            return ExitCode.USAGE.code();
        }
        String command = args.getFirst();
        List<String> rest = args.subList(1, args.size());
        DriverLogging.routeToOwnLog();
        try {
            CommandLineSecrets.check(rest, err);
            return switch (command) {
                case "--help", "-h", "help" -> {
                    out.print(USAGE);
                    yield ExitCode.OK.code();
                }
                case "--version", "-V", "version" -> {
                    out.println("sqlitesuperfs " + VERSION);
                    yield ExitCode.OK.code();
                }
                case "mount" -> mount(rest, env, out, err);
                case "unmount", "umount" -> Unmount.run(rest, out, err);
                case "serve" -> serve(rest, env, out);
                case "status" -> HostCommands.status(rest, out, err);
                case "fsck" -> Fsck.run(rest, env, out);
                case "passwd" -> Passwd.run(rest, env, out);
                case "upgrade" -> Upgrade.run(rest, env, out);
                case "ns" -> NsCommand.run(rest, env, out, err);
                default -> throw new CliException(ExitCode.USAGE,
                        "unknown command '" + command + "' (see sqlitesuperfs --help)");
            };
        } catch (CliException e) {
            err.println("sqlitesuperfs: " + e.getMessage());
            return e.exitCode().code();
        } catch (RuntimeException e) {
            ExitCode code = classify(e);
            err.println("sqlitesuperfs: " + describe(e));
            if (code == ExitCode.INTERNAL) {
                LoggerFactory.getLogger(Main.class).debug("unexpected failure", e);
            }
            return code.code();
        }
    }

    private static int mount(List<String> args, Map<String, String> env, PrintStream out, PrintStream err) {
        if (args.contains("--help") || args.contains("-h")) {
            out.print(MountSettings.USAGE);
            return ExitCode.OK.code();
        }
        MountSettings settings = MountSettings.parse(args, env);
        configureLogging(settings.logLevel());
        protectSecretsInMemory();
        if (settings.hostSocket() != null) {
            return HostCommands.mount(settings, env, out, err);
        }
        // SIGTERM stops a mount however it was started; SIGINT and SIGHUP as the caller left them.
        Signals.takeTermination();

        // with a fleet there is no database to choose (nor a local one to stop): FleetChoice finds it
        try (DatabaseChoice db = settings.fleetFile() != null ? null
                : DatabaseChoice.of(settings.databaseUrl(), settings.stateDir(), env, out)) {
            PassphraseSource passphrases = new PassphraseSource(settings.passphraseFile(), env);
            NamespaceMount mount;
            if (db == null) {
                mount = FleetChoice.forMount(settings, server -> NamespaceMount.open(settings,
                        server.config().withRetryTimeout(settings.databaseTimeout()), passphrases, OptionalLong::empty,
                        Libc.geteuid(), Libc.getegid()));
            } else {
                DatabaseConfig database = db.config.withRetryTimeout(settings.databaseTimeout());
                Supplier<OptionalLong> hostFree = db.local != null ? freeSpaceOf(db.local.dataDirectory())
                        : OptionalLong::empty;
                mount = NamespaceMount.open(settings, database, passphrases, hostFree, Libc.geteuid(), Libc.getegid());
            }
            NamespaceMount running = mount;
            Runnable stop = () -> {
                running.close();
                MountRegistry.unregister(running.mountPoint());
            };
            // SIGINT and SIGTERM end the mount cleanly with exit code 0; the hook covers other exits.
            Signals.onTermination(stop);
            Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().unstarted(stop));
            MountRegistry.register(running.mountPoint());
            out.println("mounted namespace " + running.namespace() + " at " + running.mountPoint());
            out.flush();
            try {
                running.awaitUnmount();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            stop.run();
            return ExitCode.OK.code();
        }
    }

    /**
     * {@code serve}: a host in the foreground until SIGTERM or SIGINT (see {@link Serve}). The
     * signals are taken before anything is mounted, so that one arriving while the configured
     * namespaces come up still unmounts them.
     */
    private static int serve(List<String> args, Map<String, String> env, PrintStream out) {
        if (args.contains("--help") || args.contains("-h")) {
            out.print(Serve.USAGE);
            return ExitCode.OK.code();
        }
        Serve.Settings settings = Serve.Settings.parse(args, env);
        configureLogging(settings.logLevel());
        protectSecretsInMemory();
        Signals.takeTermination();
        Serve serve = Serve.prepare(settings, env, defaultStateDir(env));
        Signals.onTermination(serve::stop);
        Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().unstarted(serve::stop));
        return serve.run(out);
    }

    /**
     * The process is about to hold keys and plaintext: no core dump may be written (RLIMIT_CORE 0,
     * and not dumpable, which also keeps other processes of the same user from attaching to it or
     * reading its memory and environment through /proc). A failure is logged, not fatal.
     */
    static void protectSecretsInMemory() {
        try {
            Libc.setrlimit(Libc.RLIMIT_CORE, new Libc.ResourceLimit(0, 0));
        } catch (SysException e) {
            LoggerFactory.getLogger(Main.class).warn("cannot disable core dumps: {}", e.getMessage());
        }
        try {
            Libc.prctl(Libc.PR_SET_DUMPABLE, 0);
        } catch (SysException e) {
            LoggerFactory.getLogger(Main.class).warn("cannot make the process non-dumpable: {}", e.getMessage());
        }
    }

    static Path defaultStateDir(Map<String, String> env) {
        String chosen = env.get(MountSettings.STATE_DIR_VARIABLE);
        if (chosen != null && !chosen.isBlank()) {
            return Path.of(chosen);
        }
        if (Libc.geteuid() == 0) {
            return Path.of("/var/lib/sqlitesuperfs");
        }
        String xdg = env.get("XDG_STATE_HOME");
        if (xdg != null && !xdg.isBlank()) {
            return Path.of(xdg, "sqlitesuperfs");
        }
        return Path.of(System.getProperty("user.home"), ".local", "state", "sqlitesuperfs");
    }

    private static Supplier<OptionalLong> freeSpaceOf(Path dir) {
        return () -> {
            try {
                FileStore store = Files.getFileStore(dir);
                return OptionalLong.of(store.getUsableSpace());
            } catch (IOException | SecurityException e) {
                return OptionalLong.empty();
            }
        };
    }

    /** Sets the level before the first logger exists (logback.xml reads this property). */
    static void configureLogging(String level) {
        String l = level.toLowerCase(Locale.ROOT);
        if (!List.of("error", "warn", "info", "debug", "trace").contains(l)) {
            throw new CliException(ExitCode.USAGE, "--log-level must be error, warn, info, debug or trace");
        }
        System.setProperty("sqlitesuperfs.log.level", l.toUpperCase(Locale.ROOT));
        ch.qos.logback.classic.Logger root = (ch.qos.logback.classic.Logger)
                LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        root.setLevel(ch.qos.logback.classic.Level.toLevel(l));
    }

    static ExitCode classify(Throwable e) {
        return ExitCode.of(e);
    }

    static String describe(Throwable e) {
        if (e instanceof SodiumUnavailableException) {
            return e.getMessage();
        }
        if (classify(e) == ExitCode.INTERNAL) {
            return "unexpected " + e.getClass().getSimpleName() + ": " + e.getMessage()
                    + " (run with --log-level debug for details)";
        }
        return e.getMessage();
    }

    static String versionOf(Class<?> type) {
        String v = type.getPackage().getImplementationVersion();
        return v != null ? v : "development build";
    }
}
