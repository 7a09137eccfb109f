package dev.sqlitesuperfs.cli;

import dev.sqlitesuperfs.sealed.SealedNamespace;
import dev.sqlitesuperfs.store.DatabaseConfig;
import dev.sqlitesuperfs.store.NamespaceName;
import dev.sqlitesuperfs.store.NamespaceStore;
import dev.sqlitesuperfs.store.PgNamespaceStore;
import java.io.PrintStream;
import java.util.List;
import java.util.Map;

/**
 * {@code sqlitesuperfs upgrade NAMESPACE}: brings a namespace written by an older version to the
 * current format, whose metadata is authenticated: every inode gets a sealed authenticator of its
 * attributes and of the digests of its blocks, entries and attributes as stored now, in one
 * transaction (see {@link SealedNamespace#upgrade}).
 *
 * <p>A command of its own rather than part of mounting, because it vouches for whatever the
 * database holds at that moment: a mount that did it on its own could be shown a namespace made
 * to look old by someone who changed it, and would seal their changes as authentic.
 */
public final class Upgrade {
    static final String USAGE = "usage: sqlitesuperfs upgrade [--db URL | --fleet FILE] [--state-dir D] [--passphrase-file F] NAMESPACE";

    private Upgrade() {}

    static int run(List<String> args, Map<String, String> env, PrintStream out) {
        NamespaceCommand command = NamespaceCommand.parse(args, env, USAGE, (option, values) -> false);
        NamespaceName name = command.namespace();
        return command.run(env, out, false, "upgrade it", store -> {
            long started = System.nanoTime();
            int from = SealedNamespace.upgrade(store, name.value(), command.passphrases(env).prompt(name.value()),
                    step -> {
                        out.printf(java.util.Locale.ROOT, "  %6.1f s  %s%n", (System.nanoTime() - started) / 1e9, step);
                        out.flush();
                    });
            out.println(from == 0 ? "namespace " + name.value() + " is already in the current format"
                    : from >= 3 ? "upgraded namespace " + name.value() + " from format " + from + ": checked, and resealed"
                            + " as format " + PgNamespaceStore.FORMAT_VERSION
                    : "upgraded namespace " + name.value() + ": its metadata is authenticated from now on");
            return ExitCode.OK.code();
        });
    }

    /**
     * Upgrades namespace {@code name} of {@code database} if its format is older than the current
     * one; returns the format it had, or 0 if it needed no upgrade. The namespace must not be
     * mounted.
     */
    public static int authenticate(DatabaseConfig database, NamespaceName name, PassphraseSource passphrases) {
        try (NamespaceStore store = NamespaceCommand.openUnmounted(database, name, false, "upgrade it")) {
            return SealedNamespace.upgrade(store, name.value(), passphrases.prompt(name.value()));
        }
    }
}
