package dev.sqlitesuperfs.host;

import dev.sqlitesuperfs.cli.CliException;
import dev.sqlitesuperfs.cli.ExitCode;
import dev.sqlitesuperfs.cli.MountSettings;
import dev.sqlitesuperfs.cli.PassphraseSource;
import dev.sqlitesuperfs.cli.Sizes;
import dev.sqlitesuperfs.metrics.MetricsServer;
import dev.sqlitesuperfs.sys.Libc;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code sqlitesuperfs serve}: a host in the foreground. In order: the arguments and the whole
 * configuration are checked (a mistake stops it before anything is done); the control socket is
 * claimed; the configured namespaces are mounted one after the other, each failure logged and
 * remembered for {@code status} while the others come up; then requests are taken and one line,
 * {@code serving on SOCKET}, goes to stdout. {@link #stop} (SIGTERM, SIGINT) stops taking
 * requests, stores everything and unmounts every namespace; the exit code is then 0, or 1 if a
 * namespace could not be stored (the log says which).
 *
 * <p>A namespace of the configuration that fails at start does not stop the host, nor change its
 * exit code at the end: the host serves the others and takes requests, the failure is logged as an
 * error, and {@code sqlitesuperfs status} lists it and exits with {@link ExitCode#DEGRADED} until
 * the namespace is mounted (through the socket) on its directory.
 */
public final class Serve {
    private static final Logger log = LoggerFactory.getLogger(Serve.class);

    public static final String USAGE = """
            usage: sqlitesuperfs serve [--socket PATH] [--socket-group G] [--config FILE] [options]
              Runs a host in the foreground: it mounts the namespaces FILE lists, then mounts and
              unmounts namespaces as `sqlitesuperfs mount --host`, `unmount` and `status` ask on its
              control socket, until SIGTERM or SIGINT, which store everything, unmount every
              namespace and end it with exit code 0. Prints "serving on PATH" once it takes requests.

            options:
              --socket PATH        the control socket (default /run/sqlitesuperfs/host.sock)
              --socket-group G     let the members of group G use the socket too (mode 0660); without
                                   it only root and the host's own user may (mode 0600)
              --config FILE        namespaces to mount at start, one per line:
                                     NAMESPACE DIRECTORY passphrase-file=PATH|key-command=CMD [options]
              --db-connections N   most PostgreSQL connections to one database server, for all the
                                   namespaces on it together (default 10, at least 3)
              --cache-size SIZE    block cache shared by all namespaces (default 512M)
              --write-buffer SIZE  written data not stored yet, all namespaces together (default
                                   256M; a mount's own --write-buffer bounds it alone within this)
              --db-timeout S       seconds a database call keeps retrying before it fails (default 60)
              --metrics HOST:PORT  serve Prometheus metrics at http://HOST:PORT/metrics (README, Metrics)
              --workers N          request workers for all mounts together (default 16, 2 to 1024);
                                   one mount has at most a quarter of them busy
              --bulk-pause MS      a large write pauses MS milliseconds after each 256 KiB it stores
                                   while other namespaces on its server commit (default 10: at most
                                   25 MiB/s then; 0 to 1000, 0: never), so their commits stay quick
              --log-level L        error, warn, info (default), debug, trace; also $SQLITESUPERFS_LOG_LEVEL
            A mount that names no database (--db) uses $psql_url, else the local PostgreSQL. The
            host's Java heap must hold the cache, twice the write buffer and 2 MiB per mount.
            """;

    private static final List<String> OPTIONS = List.of("--socket", "--socket-group", "--config", "--db-connections",
            "--cache-size", "--write-buffer", "--db-timeout", "--log-level", "--metrics", "--workers", "--bulk-pause");

    /** What {@code serve} was asked. */
    public record Settings(Path socket, String socketGroup, Path config, HostResources.Limits limits,
            String logLevel, InetSocketAddress metrics) {
        public static Settings parse(List<String> args, Map<String, String> env) {
            Path socket = MountSettings.DEFAULT_HOST_SOCKET;
            String group = null;
            Path config = null;
            HostResources.Limits defaults = HostResources.Limits.DEFAULT;
            int connections = defaults.dbConnections();
            long cache = defaults.cacheBytes();
            long dirty = defaults.dirtyBytes();
            Duration timeout = defaults.dbTimeout();
            int workers = defaults.workers();
            Duration bulkPause = defaults.bulkPause();
            String level = env.getOrDefault("SQLITESUPERFS_LOG_LEVEL", "info");
            InetSocketAddress metrics = null;
            for (int i = 0; i < args.size(); i++) {
                String arg = args.get(i);
                int eq = arg.indexOf('=');
                String option = arg.startsWith("--") && eq > 2 ? arg.substring(0, eq) : arg;
                if (!OPTIONS.contains(option)) {
                    throw new CliException(ExitCode.USAGE, (arg.startsWith("-") ? "unknown option " + arg
                            : "unexpected argument " + arg) + " (see sqlitesuperfs serve --help)");
                }
                String value = eq > 2 && arg.startsWith("--") ? arg.substring(eq + 1)
                        : i + 1 < args.size() ? args.get(++i) : null;
                if (value == null || value.isEmpty()) {
                    throw new CliException(ExitCode.USAGE, option + " needs a value");
                }
                switch (option) {
                    case "--socket" -> socket = Path.of(value);
                    case "--socket-group" -> group = value;
                    case "--config" -> config = Path.of(value);
                    case "--db-connections" -> connections = (int) number(option, value,
                            HostResources.MIN_DB_CONNECTIONS, 10_000);
                    case "--cache-size" -> cache = Sizes.parse(option, value);
                    case "--write-buffer" -> dirty = Sizes.parse(option, value);
                    case "--db-timeout" -> timeout = Duration.ofSeconds(number(option, value, 1, 86_400));
                    case "--metrics" -> metrics = metricsAddress(value);
                    case "--workers" -> workers = (int) number(option, value, 2, 1024);
                    case "--bulk-pause" -> bulkPause = Duration.ofMillis(number(option, value, 0, 1000));
                    default -> level = value.toLowerCase(Locale.ROOT);
                }
            }
            return new Settings(socket, group, config, new HostResources.Limits(connections, cache, dirty, timeout, workers,
                    bulkPause),
                    level, metrics);
        }

        private static InetSocketAddress metricsAddress(String value) {
            try {
                return MetricsServer.parseAddress(value);
            } catch (IllegalArgumentException e) {
                throw new CliException(ExitCode.USAGE, e.getMessage());
            }
        }

        private static long number(String option, String value, long min, long max) {
            try {
                long n = Long.parseLong(value);
                if (n >= min && n <= max) {
                    return n;
                }
            } catch (NumberFormatException e) {
                // told below
            }
            throw new CliException(ExitCode.USAGE, option + ": expected a whole number from " + min + " to " + max
                    + ", got '" + value + "'");
        }
    }

    private final HostConfig config;
    private final ControlSocket socket;
    private final Host host;
    private final MetricsServer metrics;
    private final String defaultDatabaseUrl;
    private final Path defaultStateDir;
    private final CountDownLatch stopped = new CountDownLatch(1);
    private boolean stopping;
    private volatile int exitCode;

    private Serve(HostConfig config, ControlSocket socket, Host host, MetricsServer metrics, String defaultDatabaseUrl,
                  Path defaultStateDir) {
        this.defaultStateDir = defaultStateDir;
        this.config = config;
        this.socket = socket;
        this.host = host;
        this.metrics = metrics;
        this.defaultDatabaseUrl = defaultDatabaseUrl;
    }

    /**
     * Checks the configuration and claims the socket; mounts nothing yet. Fails with a
     * {@link CliException}: a bad line or sizes that do not fit in the heap ({@link ExitCode#USAGE}), a socket that is taken or cannot
     * be made ({@link ExitCode#NO_HOST}).
     *
     * @param defaultStateDir where a local PostgreSQL keeps its data unless a mount says --state-dir
     */
    public static Serve prepare(Settings settings, Map<String, String> env, Path defaultStateDir) {
        // The host's mounts, configured or asked for, default to the host's state directory.
        Map<String, String> mountEnv = new HashMap<>(env);
        mountEnv.put(MountSettings.STATE_DIR_VARIABLE, defaultStateDir.toString());
        HostConfig config = settings.config() != null ? HostConfig.read(settings.config(), mountEnv) : HostConfig.empty();
        HostResources resources = new HostResources(defaultStateDir, settings.limits());
        ControlSocket socket;
        try {
            socket = ControlSocket.bind(settings.socket(), settings.socketGroup());
        } catch (RuntimeException e) {
            resources.close();
            throw e;
        }
        String database = env.get("psql_url");
        Host host = new Host(resources, socket.path());
        MetricsServer metrics = null;
        if (settings.metrics() != null) {
            try {
                metrics = MetricsServer.start(settings.metrics(), host::metricsText);
                log.info("metrics on http://{}:{}/metrics", settings.metrics().getHostString(), metrics.address().getPort());
            } catch (IOException e) {
                socket.close();
                resources.close();
                throw new CliException(ExitCode.USAGE, "--metrics: cannot listen on " + settings.metrics().getHostString()
                        + ":" + settings.metrics().getPort() + ": " + e.getMessage());
            }
        }
        return new Serve(config, socket, host, metrics, database == null || database.isBlank() ? null : database,
                defaultStateDir);
    }

    /** Mounts the configured namespaces, takes requests, says so, and returns once {@link #stop} is done. */
    public int run(PrintStream out) {
        ClassWarmup.start();
        if (defaultDatabaseUrl != null) {
            host.connectAhead(defaultDatabaseUrl);
        }
        try {
            mountConfigured();
            synchronized (this) {
                if (!stopping) {
                    socket.start(new RequestHandling(host, defaultDatabaseUrl, defaultStateDir));
                    out.println("serving on " + socket.path());
                    out.flush();
                }
            }
        } catch (RuntimeException e) {
            stop();
            throw e;
        }
        try {
            stopped.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return exitCode;
    }

    private void mountConfigured() {
        List<String> failed = new ArrayList<>();
        for (HostConfig.Entry entry : config.entries()) {
            synchronized (this) {
                if (stopping) {
                    return;
                }
            }
            byte[] fromCommand = null;
            try {
                PassphraseSource passphrases;
                if (entry.keyCommand() != null) {
                    fromCommand = KeyCommand.run(entry.keyCommand(), entry.namespace());
                    passphrases = PassphraseSource.handedOver(fromCommand, true);
                } else {
                    passphrases = new PassphraseSource(entry.passphraseFile(), Map.of());
                }
                host.mount(entry.settings(), passphrases, Libc.geteuid(), Libc.getegid(), "config " + entry.origin());
            } catch (RuntimeException e) {
                ExitCode code = ExitCode.of(e);
                String message = code == ExitCode.INTERNAL ? "unexpected " + e : e.getMessage();
                log.error("{}: namespace {} not mounted on {} (exit code {}): {}", entry.origin(), entry.namespace(),
                        entry.directory(), code.code(), message);
                log.debug("why", e);
                host.recordFailure(entry.namespace(), entry.directory(), "config " + entry.origin(), code, message);
                failed.add(entry.namespace());
            } finally {
                if (fromCommand != null) {
                    Arrays.fill(fromCommand, (byte) 0);
                }
            }
        }
        if (!config.entries().isEmpty()) {
            int mounted = config.entries().size() - failed.size();
            if (failed.isEmpty()) {
                log.info("mounted the {} namespace{} of {}", mounted, mounted == 1 ? "" : "s", config.file());
            } else {
                log.error("mounted {} of the {} namespaces of {}; not mounted: {} (see above; `sqlitesuperfs status`"
                        + " lists them)", mounted, config.entries().size(), config.file(), String.join(", ", failed));
            }
        }
    }

    /**
     * Stops taking requests, stores everything and unmounts every namespace, then lets
     * {@link #run} return. Safe from any thread and more than once; a second caller waits until
     * the first is done.
     */
    public void stop() {
        boolean first;
        synchronized (this) {
            first = !stopping;
            stopping = true;
        }
        if (!first) {
            awaitQuietly();
            return;
        }
        log.info("stopping: no more requests on {}", socket.path());
        socket.close();
        if (metrics != null) {
            metrics.close();
        }
        boolean allStored = host.shutDown();
        exitCode = allStored ? ExitCode.OK.code() : ExitCode.INTERNAL.code();
        log.info(allStored ? "stopped; every namespace was stored and unmounted"
                : "stopped; some namespaces could not be stored (see above)");
        stopped.countDown();
    }

    private void awaitQuietly() {
        try {
            stopped.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
