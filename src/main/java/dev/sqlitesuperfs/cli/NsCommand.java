package dev.sqlitesuperfs.cli;

import dev.sqlitesuperfs.anchor.AnchorDirectory;
import dev.sqlitesuperfs.anchor.Anchors;
import dev.sqlitesuperfs.crypto.KdfStrength;
import dev.sqlitesuperfs.fleet.Fleet;
import dev.sqlitesuperfs.crypto.Passphrase;
import dev.sqlitesuperfs.sealed.SealedNamespace;
import dev.sqlitesuperfs.store.Catalog;
import dev.sqlitesuperfs.store.NamespaceName;
import dev.sqlitesuperfs.store.NamespaceStore;
import dev.sqlitesuperfs.store.Placement;
import dev.sqlitesuperfs.store.StoreException;
import dev.sqlitesuperfs.sys.Libc;
import java.io.Console;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code sqlitesuperfs ns ...}: the administration of a database's namespaces, through the
 * server's catalog ({@link Catalog}). Every subcommand but {@code create} needs no passphrase:
 * they read and change only what is stored in clear (names, sizes, the quota) or drop everything.
 * With {@code --json} the answer is one JSON document on standard output (see {@link NsReport});
 * failures are one line on standard error either way.
 */
final class NsCommand {
    static final String USAGE = """
            usage: sqlitesuperfs ns SUBCOMMAND [--db URL | --fleet FILE] [--state-dir D] [--json] ...
              list                        every namespace of the database: format, block size, blocks and
                                          size (approximate), quota, created, and who has it mounted
              info NAMESPACE              its metadata: UUID, format, block size, whether names are sealed,
                                          key derivation, quota, created, mounts so far, who has it mounted
              usage NAMESPACE             exact figures: inodes, blocks, bytes stored and on disk, quota
                                          and how much of it is used (reads every row's size)
              create [--passphrase-file F] [--kdf S] [--block-size N] [--quota S] [--uid U --gid G]
                     [--seal-names] [--server NAME] NAMESPACE
                                          create a namespace without mounting it (its passphrase is
                                          asked for twice on a terminal); --seal-names stores its
                                          names and symlink targets sealed (see README); with a
                                          fleet, on the server holding the fewest namespaces, or on
                                          --server NAME
              move --to SERVER [--passphrase-file F] NAMESPACE
                                          (with --fleet) copy a namespace that is not mounted to
                                          another server of the fleet, check the copy with the key,
                                          switch over and drop the old copy; rerun after a failure
              quota NAMESPACE SIZE|none   store the namespace's quota; mounts without --quota use it
              drop [--yes] NAMESPACE      drop a namespace that is not mounted, and all its data, for
                                          good (asks to type its name unless --yes)
            """;
    private static final String SUBCOMMANDS = "list, info, usage, create, quota, drop, move";

    private NsCommand() {}

    /** What the command line said: the subcommand, the options every one takes, and its own. */
    private static final class Args {
        String subcommand;
        String databaseUrl;
        Path fleetFile;
        String server;
        String to;
        Path stateDir;
        boolean json;
        Path passphraseFile;
        KdfStrength kdf = KdfStrength.MODERATE;
        int blockSize = MountSettings.DEFAULT_BLOCK_SIZE;
        long quotaBytes;
        boolean sealNames;
        int uid = -1;
        int gid = -1;
        boolean yes;
        final List<String> positional = new ArrayList<>();

        /** The one line of usage of this subcommand, for messages. */
        String usage() {
            String options = switch (subcommand) {
                case "create" -> " [--passphrase-file F] [--kdf S] [--block-size N] [--quota S] [--uid U --gid G]"
                        + " [--seal-names] [--server NAME]"
                        + " NAMESPACE";
                case "move" -> " --to SERVER [--passphrase-file F] NAMESPACE";
                case "quota" -> " NAMESPACE SIZE|none";
                case "drop" -> " [--yes] NAMESPACE";
                case "list" -> "";
                default -> " NAMESPACE";
            };
            return "usage: sqlitesuperfs ns " + subcommand + " [--db URL | --fleet FILE] [--state-dir D] [--json]"
                    + options;
        }

        CliException wrong(String what) {
            return new CliException(ExitCode.USAGE, "ns " + subcommand + ": " + what + " (" + usage() + ")");
        }
    }

    /** Options each subcommand takes besides --db, --state-dir and --json. */
    private static final Map<String, Set<String>> OWN_OPTIONS = Map.of(
            "list", Set.of(),
            "info", Set.of(),
            "usage", Set.of(),
            "create", Set.of("--passphrase-file", "--kdf", "--block-size", "--quota", "--uid", "--gid", "--seal-names",
                    "--server"),
            "quota", Set.of(),
            "drop", Set.of("--yes"),
            "move", Set.of("--to", "--passphrase-file"));

    /** How many names and values after the options each subcommand takes. */
    private static final Map<String, Integer> POSITIONAL = Map.of(
            "list", 0, "info", 1, "usage", 1, "create", 1, "quota", 2, "drop", 1, "move", 1);

    static int run(List<String> argv, Map<String, String> env, PrintStream out, PrintStream err) {
        if (argv.isEmpty()) {
            throw new CliException(ExitCode.USAGE, "ns needs a subcommand: " + SUBCOMMANDS
                    + " (see sqlitesuperfs ns --help)");
        }
        if (argv.getFirst().equals("help") || argv.contains("--help") || argv.contains("-h")) {
            out.print(USAGE);
            return ExitCode.OK.code();
        }
        Args args = parse(subcommandFirst(argv), env);
        NamespaceName name = args.positional.isEmpty() ? null : NamespaceName.parse(args.positional.getFirst());
        return switch (args.subcommand) {
            case "create" -> create(args, name, env, out, err);
            case "drop" -> drop(args, name, env, out, err);
            case "move" -> move(args, name, env, out, err);
            case "list" -> args.fleetFile != null ? listFleet(args, out, err)
                    : withCatalog(args, env, out, err, catalog -> NsReport.list(catalog.list(), args.json, out));
            default -> withCatalog(args, env, out, err, catalog -> switch (args.subcommand) {
                case "info" -> NsReport.info(catalog.info(name).orElseThrow(() -> missing(name)), args.json, out);
                case "usage" -> NsReport.usage(name, catalog.usage(name).orElseThrow(() -> missing(name)),
                        args.json, out);
                case "quota" -> setQuota(catalog, name, args.positional.get(1), args.json, out);
                default -> throw new IllegalStateException(args.subcommand);
            });
        };
    }

    /**
     * The arguments with the subcommand first: the options every subcommand takes may come before
     * it ({@code ns --db URL list}), as they may after.
     */
    private static List<String> subcommandFirst(List<String> argv) {
        int i = 0;
        while (i < argv.size()) {
            String a = argv.get(i);
            if (a.equals("--db") || a.equals("--state-dir") || a.equals("--fleet")) {
                i += 2;
            } else if (a.equals("--json") || a.startsWith("--db=") || a.startsWith("--state-dir=")
                    || a.startsWith("--fleet=")) {
                i++;
            } else {
                break;
            }
        }
        if (i == 0) {
            return argv;
        }
        if (i >= argv.size()) {
            throw new CliException(ExitCode.USAGE, "ns needs a subcommand: " + SUBCOMMANDS
                    + " (see sqlitesuperfs ns --help)");
        }
        List<String> reordered = new ArrayList<>();
        reordered.add(argv.get(i));
        reordered.addAll(argv.subList(0, i));
        reordered.addAll(argv.subList(i + 1, argv.size()));
        return reordered;
    }

    private static Args parse(List<String> argv, Map<String, String> env) {
        Args args = new Args();
        args.subcommand = argv.getFirst();
        if (!OWN_OPTIONS.containsKey(args.subcommand)) {
            throw new CliException(ExitCode.USAGE, "unknown ns subcommand '" + args.subcommand + "'; it is one of "
                    + SUBCOMMANDS + " (see sqlitesuperfs ns --help)");
        }
        args.databaseUrl = env.get("psql_url");
        String quotaText = null;
        String dbGiven = null;
        MountSettings.Options o = new MountSettings.Options(argv.subList(1, argv.size()));
        while (o.hasNext()) {
            String a = o.next();
            boolean common = a.equals("--db") || a.equals("--state-dir") || a.equals("--json") || a.equals("--fleet");
            // "-5M" is a (negative) size given to ns quota, refused as such, not an unknown option
            if (!common && a.startsWith("-") && !a.matches("-[0-9].*")) {
                if (!OWN_OPTIONS.get(args.subcommand).contains(a)) {
                    throw args.wrong("unknown option '" + a + "'");
                }
            }
            switch (a) {
                case "--db" -> dbGiven = args.databaseUrl = o.value(a);
                case "--fleet" -> args.fleetFile = Path.of(o.value(a));
                case "--server" -> args.server = o.value(a);
                case "--to" -> args.to = o.value(a);
                case "--state-dir" -> args.stateDir = Path.of(o.value(a));
                case "--json" -> args.json = true;
                case "--passphrase-file" -> args.passphraseFile = Path.of(o.value(a));
                case "--kdf" -> args.kdf = MountSettings.kdf(o.value(a));
                case "--block-size" -> args.blockSize = MountSettings.blockSize(Sizes.parse(a, o.value(a)));
                case "--quota" -> quotaText = o.value(a);
                case "--uid" -> args.uid = MountSettings.id(a, o.value(a));
                case "--gid" -> args.gid = MountSettings.id(a, o.value(a));
                case "--yes" -> args.yes = true;
                case "--seal-names" -> args.sealNames = true;
                default -> args.positional.add(a);
            }
        }
        int wanted = POSITIONAL.get(args.subcommand);
        if (args.positional.size() < wanted) {
            throw args.wrong(args.positional.isEmpty() ? "missing NAMESPACE" : "missing SIZE (a size, or none)");
        }
        if (args.positional.size() > wanted) {
            throw args.wrong("unexpected '" + args.positional.get(wanted) + "'");
        }
        if (args.fleetFile != null && dbGiven != null) {
            throw args.wrong("--db and --fleet: choose one");
        }
        if (args.server != null && args.fleetFile == null) {
            throw args.wrong("--server names a server of a fleet: give --fleet FILE");
        }
        if (args.subcommand.equals("move") && (args.fleetFile == null || args.to == null)) {
            throw args.wrong("a move goes to --to SERVER of a fleet (--fleet FILE)");
        }
        if (quotaText != null) {
            args.quotaBytes = quota("--quota", quotaText, args.blockSize);
        }
        if (args.subcommand.equals("quota")) {
            // the size's form now, before the database; its size against the block size once that is known
            quota("quota", args.positional.get(1), 1);
        }
        return args;
    }

    /** A quota as given: a size of at least one block, or none (also 0). */
    static long quota(String option, String text, int blockSize) {
        if (text.trim().equalsIgnoreCase("none")) {
            return 0;
        }
        long bytes = Sizes.parse(option, text);
        if (bytes != 0 && bytes < blockSize) {
            throw new CliException(ExitCode.USAGE, option + ": " + text.trim() + " is less than one block ("
                    + blockSize + " bytes) and would let nothing be written; give at least that, or none");
        }
        return bytes;
    }

    @FunctionalInterface
    private interface CatalogWork {
        int run(Catalog catalog);
    }

    /** The database as every command chooses it; with --json the local server's notice goes to stderr. */
    private static int withCatalog(Args args, Map<String, String> env, PrintStream out, PrintStream err,
            CatalogWork work) {
        if (args.fleetFile != null) {
            NamespaceName name = NamespaceName.parse(args.positional.getFirst());
            Fleet.Server server = FleetChoice.read(args.fleetFile).locate(name)
                    .orElseThrow(() -> missing(name));
            try (Catalog catalog = Catalog.open(server.config())) {
                return work.run(catalog);
            }
        }
        try (DatabaseChoice db = DatabaseChoice.of(args.databaseUrl, args.stateDir, env, args.json ? err : out);
                Catalog catalog = Catalog.open(db.config)) {
            return work.run(catalog);
        }
    }

    /**
     * Every server's namespaces, by server, in the fleet file's order. A server that cannot be
     * reached within 10 s is left out with a line on stderr (the JSON names it under
     * "unreachable"), and the exit code is 5: the list is not the whole fleet's.
     */
    private static int listFleet(Args args, PrintStream out, PrintStream err) {
        Map<String, List<Catalog.Entry>> byServer = new java.util.LinkedHashMap<>();
        Map<Fleet.Server, RuntimeException> unreachable = new java.util.LinkedHashMap<>();
        FleetChoice.read(args.fleetFile).withRetryTimeout(java.time.Duration.ofSeconds(10)).listAll(unreachable)
                .forEach((server, entries) -> byServer.put(server.name(), entries));
        unreachable.forEach((server, failure) -> err.println("sqlitesuperfs: " + failure.getMessage()));
        NsReport.list(byServer, unreachable.keySet().stream().map(Fleet.Server::name).toList(), args.json, out);
        return unreachable.isEmpty() ? ExitCode.OK.code() : ExitCode.DATABASE.code();
    }

    /** {@code ns move}: see {@link NsMove}; progress goes to standard error with --json. */
    private static int move(Args args, NamespaceName name, Map<String, String> env, PrintStream out, PrintStream err) {
        Fleet fleet = FleetChoice.read(args.fleetFile);
        fleet.server(args.to);
        Main.protectSecretsInMemory();
        PassphraseSource passphrases = PassphraseSource.current(args.passphraseFile, env);
        Anchors anchors = new AnchorDirectory((args.stateDir != null ? args.stateDir : Main.defaultStateDir(env))
                .resolve("anchors"));
        NsMove.Result r = NsMove.run(fleet, name, args.to, passphrases, anchors, env, args.json ? err : out);
        return NsReport.moved(name, r, args.json, out);
    }

    private static CliException missing(NamespaceName name) {
        return new CliException(ExitCode.NAMESPACE, "namespace " + name + " does not exist");
    }

    private static int setQuota(Catalog catalog, NamespaceName name, String sizeText, boolean json, PrintStream out) {
        Catalog.Entry before = catalog.entry(name).orElseThrow(() -> missing(name));
        long bytes = quota("quota", sizeText, before.blockSize());
        catalog.setQuota(name, bytes);
        return NsReport.quotaSet(before, bytes, json, out);
    }

    /**
     * Creates the namespace as a mount that finds it missing does ({@link SealedNamespace#create}),
     * but with the quota stored and nothing mounted.
     */
    private static int create(Args args, NamespaceName name, Map<String, String> env, PrintStream out,
            PrintStream err) {
        if ((args.uid < 0) != (args.gid < 0)) {
            throw args.wrong("--uid and --gid go together");
        }
        PassphraseSource passphrases = new PassphraseSource(args.passphraseFile, env);
        passphrases.checkAvailable();
        Main.protectSecretsInMemory();
        if (args.fleetFile != null) {
            Fleet fleet = FleetChoice.read(args.fleetFile);
            return fleet.createLocked(name, args.server != null ? fleet.server(args.server) : null, false,
                    server -> createIn(args, name, DatabaseChoice.of(server.config()), server.name(), passphrases, out));
        }
        return createIn(args, name, DatabaseChoice.of(args.databaseUrl, args.stateDir, env, args.json ? err : out), null,
                passphrases, out);
    }

    /** Creates the namespace on {@code database} (closed afterwards); {@code server} names it in a fleet, else null. */
    private static int createIn(Args args, NamespaceName name, DatabaseChoice database, String server,
                                PassphraseSource passphrases, PrintStream out) {
        try (DatabaseChoice db = database;
                NamespaceStore store = NamespaceCommand.openUnmounted(db.config, name, false, "create it")) {
            if (store.meta().isPresent()) {
                throw new CliException(ExitCode.NAMESPACE, "namespace " + name + " already exists");
            }
            int uid = args.uid >= 0 ? args.uid : Libc.geteuid();
            int gid = args.gid >= 0 ? args.gid : Libc.getegid();
            SealedNamespace.NewNamespace spec = new SealedNamespace.NewNamespace(args.blockSize, args.kdf, uid, gid,
                    args.quotaBytes, args.sealNames);
            try (Passphrase passphrase = passphrases.obtain(name.value(), true);
                    SealedNamespace _ = SealedNamespace.create(store, name.value(), spec, passphrase)) {
                return NsReport.created(name, store.meta().orElseThrow(), server, args.json, out);
            }
        }
    }

    /**
     * Drops the namespace after a confirmation: typing its name on a terminal, or --yes. Whether a
     * confirmation can be had at all is checked before the database, as a passphrase is; the
     * namespace is looked at (it exists, nobody has it mounted) before asking.
     */
    private static int drop(Args args, NamespaceName name, Map<String, String> env, PrintStream out,
            PrintStream err) {
        Console console = args.yes ? null : System.console();
        if (!args.yes && (console == null || !console.isTerminal())) {
            throw new CliException(ExitCode.USAGE, "ns drop: no terminal to confirm on; give --yes to drop namespace "
                    + name + " and all its data");
        }
        return withCatalog(args, env, out, err, catalog -> {
            Catalog.Entry entry = catalog.entry(name).orElseThrow(() -> missing(name));
            if (entry.holder() != null) {
                throw new CliException(ExitCode.BUSY, "namespace " + name + " is mounted or in use by another command ("
                        + Catalog.describe(entry.holder()) + "); unmount it first, then drop it");
            }
            if (console != null) {
                String answer = console.readLine("Drop namespace %s (%s, created %s) and all its data, for good?"
                        + " Type its name to confirm: ", name, NsReport.approximateSize(entry),
                        NsReport.time(entry.createdAt()));
                if (answer == null || !answer.trim().equals(name.value())) {
                    throw new CliException(ExitCode.USAGE, "namespace " + name + " was not dropped: the name typed"
                            + " did not match");
                }
            }
            long freed;
            try {
                freed = catalog.drop(name);
                if (args.fleetFile != null) {
                    freed += dropElsewhere(FleetChoice.read(args.fleetFile), name, args.json ? err : out);
                }
            } catch (StoreException.NamespaceBusy e) {
                throw new CliException(ExitCode.BUSY, e.getMessage());
            }
            return NsReport.dropped(name, freed, args.json, out);
        });
    }

    /**
     * With a fleet, what a move left of the dropped namespace on the other servers goes too: the
     * copy of a move that did not finish (dropped like a namespace, under its lock) and the
     * tombstones that said where it had gone. Returns the bytes freed.
     */
    private static long dropElsewhere(Fleet fleet, NamespaceName name, PrintStream progress) {
        long freed = 0;
        for (var e : fleet.survey(name, false).entrySet()) {
            Placement.Copy copy = e.getValue().copy();
            if (copy == Placement.Copy.ABSENT) {
                continue;
            }
            try (Catalog there = Catalog.open(e.getKey().config())) {
                if (copy == Placement.Copy.LEFT) {
                    there.dropTombstone(name);
                } else {
                    freed += there.drop(name);
                }
            }
            progress.println(copy == Placement.Copy.LEFT
                    ? "dropped the tombstone of namespace " + name + " on server " + e.getKey() + " (" + e.getValue() + ")"
                    : "dropped the copy of namespace " + name + " a move left on server " + e.getKey() + " ("
                            + e.getValue() + ")");
        }
        return freed;
    }
}
