package dev.sqlitesuperfs.cli;

import dev.sqlitesuperfs.store.DatabaseConfig;
import dev.sqlitesuperfs.store.NamespaceName;
import dev.sqlitesuperfs.store.NamespaceStore;
import dev.sqlitesuperfs.store.PgNamespaceStore;
import dev.sqlitesuperfs.store.StoreException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * What every command on one namespace that is not mounted (fsck, passwd, upgrade) is given: the database
 * ({@code --db}, else {@code $psql_url}, else the local PostgreSQL under {@code --state-dir}) and
 * the namespace's name. A command's own options are handed to {@code extra}.
 */
record NamespaceCommand(String databaseUrl, Path stateDir, NamespaceName namespace) {

    /** A command's own options: consumes {@code option} (and its value from {@code values}) or returns false. */
    @FunctionalInterface
    interface ExtraOptions {
        boolean accept(String option, MountSettings.Options values);
    }

    static NamespaceCommand parse(List<String> args, Map<String, String> env, String usage, ExtraOptions extra) {
        String url = env.get("psql_url");
        Path stateDir = null;
        String namespace = null;
        MountSettings.Options o = new MountSettings.Options(args);
        while (o.hasNext()) {
            String a = o.next();
            switch (a) {
                case "--db" -> url = o.value(a);
                case "--state-dir" -> stateDir = Path.of(o.value(a));
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
        return new NamespaceCommand(url, stateDir, NamespaceName.parse(namespace));
    }

    /**
     * Opens {@code name} for writing, as the one process using it: a command that changes a
     * namespace runs only while it is not mounted ({@code then} says what to do after unmounting).
     */
    static NamespaceStore openUnmounted(DatabaseConfig database, NamespaceName name, String then) {
        try {
            return PgNamespaceStore.open(database, name, false);
        } catch (StoreException.NamespaceBusy e) {
            throw new CliException(ExitCode.BUSY, "namespace " + name.value()
                    + " is mounted (or in use by another command); unmount it first, then " + then);
        }
    }
}
