package dev.sqlitesuperfs.cli;

import dev.sqlitesuperfs.sealed.SealedNamespace;
import dev.sqlitesuperfs.store.DatabaseConfig;
import dev.sqlitesuperfs.store.NamespaceName;
import dev.sqlitesuperfs.store.NamespaceStore;
import dev.sqlitesuperfs.store.PgNamespaceStore;
import dev.sqlitesuperfs.store.StoreException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * What every command on one namespace that is not mounted (fsck, passwd, upgrade) shares: its
 * options, and the way it opens the namespace. Options: the database ({@code --db}, or the server
 * of {@code --fleet} that holds the namespace, else
 * {@code $psql_url}, else the local PostgreSQL under {@code --state-dir}), where the current
 * passphrase comes from ({@code --passphrase-file}, else {@code $encryption_pass}, else the
 * terminal) and the namespace's name; a command's own options are handed to {@code extra}.
 * Opening: {@link #run} connects (or starts the local PostgreSQL), opens the store as the one
 * process using the namespace, and hands it to the command, which goes on through
 * {@link SealedNamespace} with {@link #passphrases}; the passphrase is asked for only if that
 * needs it.
 */
record NamespaceCommand(String databaseUrl, Path fleetFile, Path stateDir, NamespaceName namespace,
                        Path passphraseFile) {

    /** A command's own options: consumes {@code option} (and its value from {@code values}) or returns false. */
    @FunctionalInterface
    interface ExtraOptions {
        boolean accept(String option, MountSettings.Options values);
    }

    /** What a command does with its namespace's store, opened by {@link #run}. */
    @FunctionalInterface
    interface Work {
        int run(NamespaceStore store);
    }

    static NamespaceCommand parse(List<String> args, Map<String, String> env, String usage, ExtraOptions extra) {
        String url = env.get("psql_url");
        String urlGiven = null;
        Path fleetFile = null;
        Path stateDir = null;
        Path passphraseFile = null;
        String namespace = null;
        MountSettings.Options o = new MountSettings.Options(args);
        while (o.hasNext()) {
            String a = o.next();
            switch (a) {
                case "--db" -> url = urlGiven = o.value(a);
                case "--fleet" -> fleetFile = Path.of(o.value(a));
                case "--state-dir" -> stateDir = Path.of(o.value(a));
                case "--passphrase-file" -> passphraseFile = Path.of(o.value(a));
                default -> {
                    if (extra.accept(a, o)) {
                        continue;
                    }
                    if (a.startsWith("-") || namespace != null) {
                        throw new CliException(ExitCode.USAGE, usage);
                    }
                    namespace = a;
                }
            }
        }
        if (namespace == null) {
            throw new CliException(ExitCode.USAGE, usage);
        }
        if (fleetFile != null && urlGiven != null) {
            throw new CliException(ExitCode.USAGE, "--db and --fleet: choose one; " + usage);
        }
        return new NamespaceCommand(fleetFile != null ? null : url, fleetFile, stateDir, NamespaceName.parse(namespace),
                passphraseFile);
    }

    /** The namespace's current passphrase, from {@code --passphrase-file}, {@code $encryption_pass} or the terminal. */
    PassphraseSource passphrases(Map<String, String> env) {
        return PassphraseSource.current(passphraseFile, env);
    }

    /**
     * Runs {@code work} on the namespace's store, opened (read-only if {@code readOnly}) on the
     * database the options name, and closes both afterwards. The process is first made to keep
     * what it holds out of core dumps, as {@code work} may open the key.
     *
     * @param then what to do after unmounting, for the refusal of a mounted namespace
     */
    int run(Map<String, String> env, PrintStream out, boolean readOnly, String then, Work work) {
        Main.protectSecretsInMemory();
        try (DatabaseChoice db = fleetFile != null ? DatabaseChoice.of(located().config())
                : DatabaseChoice.of(databaseUrl, stateDir, env, out);
                NamespaceStore store = openUnmounted(db.config, namespace, readOnly, then)) {
            return work.run(store);
        }
    }

    /** The server of the fleet that holds the namespace. */
    private dev.sqlitesuperfs.fleet.Fleet.Server located() {
        return FleetChoice.read(fleetFile).locate(namespace).orElseThrow(() -> new CliException(ExitCode.NAMESPACE,
                "namespace " + namespace + " is on no server of the fleet"));
    }

    /**
     * Opens {@code name}'s store as the one process using it: a command on a namespace runs only
     * while it is not mounted ({@code then} says what to do after unmounting). A read-only store
     * takes the namespace's lock too: a mounted namespace's state in memory may be ahead of storage.
     */
    static NamespaceStore openUnmounted(DatabaseConfig database, NamespaceName name, boolean readOnly, String then) {
        try {
            return PgNamespaceStore.open(database, name, readOnly);
        } catch (StoreException.NamespaceBusy e) {
            throw new CliException(ExitCode.BUSY, "namespace " + name.value()
                    + " is mounted (or in use by another command); unmount it first, then " + then);
        }
    }
}
