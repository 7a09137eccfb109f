package dev.sqlitesuperfs.cli;

import dev.sqlitesuperfs.crypto.KdfStrength;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;

/**
 * Everything {@code sqlitesuperfs mount} was asked, after parsing and validation. Defaults are
 * chosen here and nowhere else.
 *
 * @param databaseUrl    from --db or the psql_url environment variable; null = local PostgreSQL
 *                       (or the server of the fleet that holds the namespace)
 * @param fleetFile      from --fleet: the namespace is on whichever server of that fleet holds it
 *                       (FleetChoice), created on the least loaded one; null = no fleet
 * @param passphraseFile from --passphrase-file; null = environment or terminal
 * @param blockSize      from --block-size; 0 = not given (4096 for a new namespace, else the namespace's)
 * @param ownerUid       -1 = the calling user
 * @param ownerGid       -1 = the calling user's group
 * @param allowNonEmpty  from -o nonempty: mount over a directory that has entries (they are hidden
 *                       until the unmount); refused otherwise
 * @param orderedJournals from --ordered-journals: SQLite rollback journals are kept in order in
 *                       memory instead of stored at each fsync (fs.JournalOrdering)
 * @param anchorDir      from --anchor-dir (default: anchors/ in the default state directory): where
 *                       this machine keeps each namespace's freshness anchor; null with --no-anchor
 *                       or --anchor-command
 * @param anchorCommand  from --anchor-command: the program that keeps the anchors instead (see
 *                       anchor.AnchorCommand); null = a directory
 * @param anchorInterval from --anchor-interval: zero (the default) writes the anchor before each
 *                       commit returns; more writes it in the background at most that often
 * @param acceptRollback from --accept-rollback: a database older than its anchor is mounted and
 *                       the anchor set back to it (after a deliberate restore)
 * @param requireSyncStandby from --require-sync-standby: refuse to mount unless the server's
 *                       commits wait for a synchronous standby
 * @param sealNames      from --seal-names: a new namespace stores its names and symlink targets
 *                       sealed; an existing namespace must already do so
 * @param hostSocket     from --host (and --socket): the control socket of the host that is to serve
 *                       the mount; null = a standalone mount served by this process
 * @param hostOptions    the options as given, without the positional arguments and those that only
 *                       the client uses (--host, --socket, --passphrase-file), --state-dir made
 *                       absolute: what {@code mount --host} hands to the host, which parses them
 *                       again with {@link #parse}, so that both take exactly the same options
 */
public record MountSettings(
        String namespace,
        Path mountPoint,
        String databaseUrl,
        Path fleetFile,
        Path passphraseFile,
        int blockSize,
        long cacheBytes,
        long writeBufferBytes,
        boolean allowOther,
        int ownerUid,
        int ownerGid,
        boolean readOnly,
        boolean createMountPoint,
        List<String> fuseOptions,
        String logLevel,
        Path stateDir,
        KdfStrength kdfStrength,
        long quotaBytes,
        Duration cacheTtl,
        Duration databaseTimeout,
        Duration writebackDelay,
        int threads,
        boolean allowNonEmpty,
        boolean orderedJournals,
        Path anchorDir,
        String anchorCommand,
        Duration anchorInterval,
        boolean acceptRollback,
        boolean sealNames,
        boolean requireSyncStandby,
        Path hostSocket,
        List<String> hostOptions) {
    /** Names the default state directory (local PostgreSQL, anchors) in place of the built-in one. */
    public static final String STATE_DIR_VARIABLE = "SQLITESUPERFS_STATE_DIR";

    public static final int DEFAULT_BLOCK_SIZE = 4096;
    public static final long DEFAULT_CACHE_BYTES = 256L << 20;
    public static final long DEFAULT_WRITE_BUFFER_BYTES = 64L << 20;
    /** Where a host listens unless told otherwise (serve, mount --host, status: --socket). */
    public static final Path DEFAULT_HOST_SOCKET = Path.of("/run/sqlitesuperfs/host.sock");

    static final String USAGE = """
            usage: sqlitesuperfs mount [options] NAMESPACE DIR
                   sqlitesuperfs mount --host [--socket PATH] [options] NAMESPACE DIR
              Mounts the namespace NAMESPACE (a PostgreSQL schema) on directory DIR and serves it in
              the foreground until unmounted (Ctrl-C, SIGTERM, `sqlitesuperfs unmount DIR`, umount).
              A namespace that does not exist yet is created, encrypted with the given passphrase.
              With --host, a running `sqlitesuperfs serve` mounts and serves it instead: this
              command reads the passphrase, hands it to the host and returns once the mount serves.

            options (a value follows its option, or is attached to it: --cache-size=1G):
              --db URL               PostgreSQL to use (postgresql://user:pass@host:port/db?sslmode=...
                                     or jdbc:postgresql://...); default: $psql_url, else a local
                                     PostgreSQL started for this mount (data kept under --state-dir)
              --fleet FILE           the namespace is on one of the servers a fleet file lists (one
                                     "NAME URL" per line): the one that holds it, found by asking
                                     each; a new one is created on the server holding the fewest
              --passphrase-file F    read the passphrase from file F (default: $encryption_pass, else
                                     a prompt on the terminal)
              --block-size N         block size of a new namespace: 4K..1M, a power of two (default
                                     4096); for an existing namespace it must match
              --cache-size S         plaintext block cache (default 256M)
              --write-buffer S       written data kept in memory before it is stored (default 64M)
              --quota S              capacity shown by df and enforced on writes (default: none)
              --allow-other          let every user use the mount (needs user_allow_other in
                                     /etc/fuse.conf when not root)
              --uid U --gid G        the mount's owner: the only user allowed in without
                                     --allow-other, and the owner of a new namespace's root
              --read-only            mount read-only, beside the namespace's writer if any,
                                     following its commits (takes no lock)
              --mkdir                create DIR (and its parents) if it does not exist
              -o OPTS                extra kernel mount options, comma separated; -o nonempty
                                     allows a DIR that is not empty (its entries are hidden while
                                     mounted)
              --cache-ttl SECONDS    how long the kernel may cache names and attributes (default 600)
              --db-timeout SECONDS   how long to retry an unreachable database before calls fail
                                     (changes with EIO, reads with ETIMEDOUT; default 60)
              --require-sync-standby refuse to mount unless each commit waits for a synchronous
                                     standby, which a failover can then promote without losing
                                     a commit (README, "Failover")
              --writeback-delay SECONDS  longest time written data stays only in memory (default 5)
              --ordered-journals     SQLite rollback journals (files named *-journal) are kept in
                                     order in memory instead of stored at each fsync, so that a
                                     DELETE or TRUNCATE commit costs 1 PostgreSQL transaction, not
                                     4; SQLite's commits stay durable (README, "Ordered journals")
              --anchor-dir D         where this machine records the newest commit of each namespace
                                     it mounts, so that a database rolled back behind it is refused
                                     (default: anchors/ in the --state-dir default; SECURITY.md)
              --anchor-command CMD   have program CMD keep that record instead (no shell; README,
                                     "Freshness anchor": scripts/anchor/anchor-file.py is one)
              --anchor-interval MS   write that record in the background at most every MS
                                     milliseconds instead of before each commit returns (default
                                     0); a rollback of the last MS ms of commits before a crash
                                     then goes unnoticed (SECURITY.md)
              --no-anchor            keep no such record (a rollback then goes unnoticed)
              --accept-rollback      mount a database older than its record (after restoring it on
                                     purpose) and set the record back to it
              --kdf STRENGTH         passphrase hashing of a new namespace: interactive, moderate
                                     (default) or sensitive
              --seal-names           a new namespace stores its file names and symlink targets
                                     sealed, so PostgreSQL sees neither (README, "Sealed names");
                                     an existing namespace must have been created so
              --state-dir D          where the local PostgreSQL keeps its data (default
                                     $SQLITESUPERFS_STATE_DIR, else /var/lib/sqlitesuperfs as
                                     root, ~/.local/state/sqlitesuperfs otherwise)
              --threads N            request threads (default 16)
              --log-level L          error, warn, info (default), debug, trace; also
                                     $SQLITESUPERFS_LOG_LEVEL (with --host: this command's; the
                                     mount logs at the host's level)
              --host                 have the host listening on the control socket mount it (the
                                     host sets the cache and database timeout for all its mounts:
                                     --cache-size and --db-timeout are refused)
              --socket PATH          the host's control socket (default /run/sqlitesuperfs/host.sock)
            """;

    /** Parses the arguments after {@code mount}. */
    public static MountSettings parse(List<String> args, Map<String, String> env) {
        String db = env.get("psql_url");
        String dbGiven = null;
        Path fleet = null;
        Path passFile = null;
        int blockSize = 0;
        long cache = DEFAULT_CACHE_BYTES;
        long writeBuffer = DEFAULT_WRITE_BUFFER_BYTES;
        boolean allowOther = false;
        int uid = -1;
        int gid = -1;
        boolean readOnly = false;
        boolean mkdir = false;
        List<String> fuseOptions = new ArrayList<>();
        String logLevel = env.getOrDefault("SQLITESUPERFS_LOG_LEVEL", "info");
        Path stateDir = null;
        KdfStrength kdf = KdfStrength.MODERATE;
        long quota = 0;
        Duration ttl = Duration.ofSeconds(600);
        Duration dbTimeout = Duration.ofSeconds(60);
        Duration writeback = Duration.ofSeconds(5);
        int threads = 16;
        boolean allowNonEmpty = false;
        boolean orderedJournals = false;
        Path anchorDir = null;
        String anchorCommand = null;
        Duration anchorInterval = Duration.ZERO;
        boolean noAnchor = false;
        boolean acceptRollback = false;
        boolean sealNames = false;
        boolean requireSyncStandby = false;
        List<String> positional = new ArrayList<>();
        String cacheGiven = null;
        String writeBufferGiven = null;
        boolean viaHost = false;
        Path socket = null;
        List<String> hostOptions = new ArrayList<>();

        Options o = new Options(args);
        while (o.hasNext()) {
            int from = o.position();
            String a = o.next();
            boolean forHost = !CLIENT_ONLY.contains(a);
            switch (a) {
                case "--db" -> db = dbGiven = o.value(a);
                case "--fleet" -> fleet = Path.of(o.value(a));
                case "--passphrase-file" -> passFile = Path.of(o.value(a));
                case "--block-size" -> blockSize = blockSize(Sizes.parse(a, o.value(a)));
                case "--cache-size" -> {
                    cacheGiven = o.value(a);
                    cache = Sizes.parseSaturating(a, cacheGiven);
                }
                case "--write-buffer" -> {
                    writeBufferGiven = o.value(a);
                    writeBuffer = atLeast(a, Sizes.parseSaturating(a, writeBufferGiven), 1 << 20);
                }
                case "--quota" -> quota = Sizes.parse(a, o.value(a));
                case "--allow-other" -> allowOther = true;
                case "--uid" -> uid = id(a, o.value(a));
                case "--gid" -> gid = id(a, o.value(a));
                case "--read-only" -> readOnly = true;
                case "--mkdir" -> mkdir = true;
                case "-o" -> fuseOptions.addAll(fuseOptions(o.value(a)));
                case "--log-level" -> logLevel = o.value(a);
                case "--state-dir" -> stateDir = Path.of(o.value(a));
                case "--kdf" -> kdf = kdf(o.value(a));
                case "--cache-ttl" -> ttl = Duration.ofSeconds(number(a, o.value(a), 0, 86_400));
                case "--db-timeout" -> dbTimeout = Duration.ofSeconds(number(a, o.value(a), 1, 86_400));
                case "--writeback-delay" -> writeback = Duration.ofSeconds(number(a, o.value(a), 1, 3600));
                case "--ordered-journals" -> orderedJournals = true;
                case "--anchor-dir" -> anchorDir = Path.of(o.value(a));
                case "--anchor-command" -> anchorCommand = o.value(a);
                case "--anchor-interval" -> anchorInterval = Duration.ofMillis(number(a, o.value(a), 0, 60_000));
                case "--no-anchor" -> noAnchor = true;
                case "--accept-rollback" -> acceptRollback = true;
                case "--seal-names" -> sealNames = true;
                case "--require-sync-standby" -> requireSyncStandby = true;
                case "--threads" -> threads = (int) number(a, o.value(a), 1, 256);
                case "--host" -> viaHost = true;
                case "--socket" -> socket = Path.of(o.value(a));
                default -> {
                    if (a.startsWith("-") && !a.equals("-")) {
                        throw new CliException(ExitCode.USAGE, "unknown option " + a + " (see sqlitesuperfs mount --help)");
                    }
                    positional.add(a);
                    forHost = false;
                }
            }
            if (forHost) {
                // the host runs elsewhere: a relative --state-dir means the one seen from here
                hostOptions.addAll(a.equals("--state-dir") ? List.of(a, stateDir.toAbsolutePath().toString())
                        : a.equals("--anchor-dir") ? List.of(a, anchorDir.toAbsolutePath().toString())
                        : a.equals("--fleet") ? List.of(a, fleet.toAbsolutePath().toString())
                        : separated(args.subList(from, o.position())));
            }
        }
        if (noAnchor && (anchorDir != null || anchorCommand != null || acceptRollback || !anchorInterval.isZero())) {
            throw new CliException(ExitCode.USAGE, "--no-anchor keeps no record: --anchor-dir, --anchor-command,"
                    + " --anchor-interval and --accept-rollback go without it");
        }
        if (anchorCommand != null && anchorDir != null) {
            throw new CliException(ExitCode.USAGE, "--anchor-dir and --anchor-command: choose one");
        }
        if (anchorCommand != null && anchorCommand.isBlank()) {
            throw new CliException(ExitCode.USAGE, "--anchor-command needs a program");
        }
        if (!noAnchor && anchorDir == null && anchorCommand == null) {
            anchorDir = (stateDir != null ? stateDir : Main.defaultStateDir(env)).resolve("anchors");
        }
        if (socket != null && !viaHost) {
            throw new CliException(ExitCode.USAGE, "--socket goes with --host");
        }
        checkHeapFits(cache, cacheGiven, writeBuffer, writeBufferGiven, MachineMemory.mib());
        if (positional.size() != 2) {
            throw new CliException(ExitCode.USAGE, "mount needs NAMESPACE and DIR (see sqlitesuperfs mount --help)");
        }
        if ((uid < 0) != (gid < 0)) {
            throw new CliException(ExitCode.USAGE, "--uid and --gid go together");
        }
        for (String opt : fuseOptions) {
            switch (opt) {
                case "allow_other" -> allowOther = true;
                case "ro" -> readOnly = true;
                case "rw", "default_permissions" -> { }
                case "nonempty" -> allowNonEmpty = true;
                default -> {
                    if (opt.startsWith("fd=") || opt.startsWith("rootmode=") || opt.startsWith("user_id=")
                            || opt.startsWith("group_id=")) {
                        throw new CliException(ExitCode.USAGE, "-o " + opt + ": set by sqlitesuperfs itself");
                    }
                }
            }
        }
        fuseOptions.removeIf(opt -> opt.equals("allow_other") || opt.equals("ro") || opt.equals("rw")
                || opt.equals("default_permissions") || opt.equals("nonempty"));
        if (db != null && db.isBlank()) {
            db = null;
        }
        if (fleet != null) {
            if (dbGiven != null) {
                throw new CliException(ExitCode.USAGE, "--db and --fleet: choose one");
            }
            db = null;
        }
        if (sealNames && readOnly) {
            throw new CliException(ExitCode.USAGE, "--seal-names chooses how a new namespace stores its names, and"
                    + " --read-only creates none");
        }
        return new MountSettings(positional.get(0), Path.of(positional.get(1)), db,
                fleet == null ? null : fleet.toAbsolutePath(), passFile, blockSize, cache,
                writeBuffer, allowOther, uid, gid, readOnly, mkdir, fuseOptions, logLevel, stateDir, kdf, quota, ttl,
                dbTimeout, writeback, threads, allowNonEmpty, orderedJournals,
                anchorDir == null ? null : anchorDir.toAbsolutePath(), anchorCommand, anchorInterval, acceptRollback,
                sealNames, requireSyncStandby, viaHost ? (socket != null ? socket : DEFAULT_HOST_SOCKET) : null,
                List.copyOf(hostOptions));
    }

    /** Options read by the client of a host and never handed to it. */
    /** An option as given, "--name=value" written as "--name", "value", so that both spellings parse alike. */
    private static List<String> separated(List<String> given) {
        String first = given.getFirst();
        int eq = first.indexOf('=');
        return given.size() == 1 && first.startsWith("--") && eq > 2
                ? List.of(first.substring(0, eq), first.substring(eq + 1)) : given;
    }

    private static final Set<String> CLIENT_ONLY = Set.of("--host", "--socket",
            "--passphrase-file");

    /**
     * The Java heap a mount with these sizes needs, in MiB: the block cache, the written data not
     * yet stored and a sealed copy of what is being stored, and 192 MiB for everything else. The
     * launcher gives the JVM exactly this as -Xmx (scripts/prereqs.sh, mount_heap_option).
     */
    static long heapMib(long cacheBytes, long writeBufferBytes) {
        return mibRoundedUp(cacheBytes) + 2 * mibRoundedUp(writeBufferBytes) + 192;
    }

    private static long mibRoundedUp(long bytes) {
        return bytes / (1 << 20) + (bytes % (1 << 20) == 0 ? 0 : 1);
    }

    /**
     * Refuses a --cache-size or --write-buffer whose heap ({@link #heapMib}) would not fit in the
     * machine's memory: the launcher could not start the JVM with it, and a JVM started otherwise
     * would run out of memory as the mount is used. Only sizes that were asked for are checked
     * (the defaults on a very small machine start and run as long as they are not used to the
     * full); the option named is the one that asks for more. The launcher's check
     * (mount_heap_option in scripts/prereqs.sh) says the same in the same words.
     *
     * @param cacheGiven       the --cache-size text given, or null
     * @param writeBufferGiven the --write-buffer text given, or null
     * @param machineMib       the machine's memory ({@link MachineMemory}); empty: no check
     */
    static void checkHeapFits(long cacheBytes, String cacheGiven, long writeBufferBytes, String writeBufferGiven,
            OptionalLong machineMib) {
        if (machineMib.isEmpty() || (cacheGiven == null && writeBufferGiven == null)) {
            return;
        }
        long heap = heapMib(cacheBytes, writeBufferBytes);
        if (heap <= machineMib.getAsLong()) {
            return;
        }
        boolean blameBuffer = cacheGiven == null
                || (writeBufferGiven != null && 2 * mibRoundedUp(writeBufferBytes) > mibRoundedUp(cacheBytes));
        String option = blameBuffer ? "--write-buffer " + writeBufferGiven.trim() : "--cache-size " + cacheGiven.trim();
        // a size beyond a long (Sizes.parseSaturating) has no number worth showing
        String total = cacheBytes == Long.MAX_VALUE || writeBufferBytes == Long.MAX_VALUE ? "" : " = " + heap + " MiB";
        throw new CliException(ExitCode.USAGE, option + " is too large: the mount's Java heap (cache + 2 x write buffer"
                + " + 192 MiB" + total + ") must fit in this machine's memory (" + machineMib.getAsLong() + " MiB)");
    }

    static int blockSize(long size) {
        if (size < 4096 || size > (1 << 20) || Long.bitCount(size) != 1) {
            throw new CliException(ExitCode.USAGE,
                    "--block-size must be a power of two from 4096 (4K) to 1048576 (1M), got " + size);
        }
        return (int) size;
    }

    private static long atLeast(String option, long value, long min) {
        if (value < min) {
            throw new CliException(ExitCode.USAGE, option + " must be at least " + min + " bytes");
        }
        return value;
    }

    static int id(String option, String text) {
        long v = number(option, text, 0, 0xFFFF_FFFEL);
        return (int) v;
    }

    private static long number(String option, String text, long min, long max) {
        try {
            long v = Long.parseLong(text.trim());
            if (v < min || v > max) {
                throw new NumberFormatException();
            }
            return v;
        } catch (NumberFormatException e) {
            throw new CliException(ExitCode.USAGE, option + " needs a whole number from " + min + " to " + max
                    + ", got '" + text + "'");
        }
    }

    static KdfStrength kdf(String text) {
        try {
            return KdfStrength.valueOf(text.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new CliException(ExitCode.USAGE, "--kdf must be interactive, moderate or sensitive, got '" + text + "'");
        }
    }

    private static List<String> fuseOptions(String text) {
        List<String> list = new ArrayList<>();
        for (String part : text.split(",")) {
            String p = part.trim();
            if (!p.isEmpty()) {
                if (p.contains("\n") || p.contains("\0")) {
                    throw new CliException(ExitCode.USAGE, "-o: invalid option text");
                }
                list.add(p);
            }
        }
        return list;
    }

    /**
     * The arguments, one option at a time; a value follows its option as the next argument or,
     * as GNU tools allow, after "=" in the same one ({@code --cache-size=1G}).
     */
    static final class Options {
        private final List<String> args;
        private int i;
        private String option;
        private String attached;

        Options(List<String> args) {
            this.args = args;
        }

        boolean hasNext() {
            if (attached != null) {
                throw new CliException(ExitCode.USAGE, option + " takes no value");
            }
            return i < args.size();
        }

        /** Index of the next argument to be read. */
        int position() {
            return i;
        }

        String next() {
            String a = args.get(i++);
            int eq = a.indexOf('=');
            if (a.startsWith("--") && eq > 2) {
                attached = a.substring(eq + 1);
                a = a.substring(0, eq);
            }
            option = a;
            return a;
        }

        String value(String option) {
            if (attached != null) {
                String v = attached;
                attached = null;
                return v;
            }
            if (i >= args.size()) {
                throw new CliException(ExitCode.USAGE, option + " needs a value");
            }
            return args.get(i++);
        }
    }
}
