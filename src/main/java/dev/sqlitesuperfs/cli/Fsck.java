package dev.sqlitesuperfs.cli;

import dev.sqlitesuperfs.anchor.AnchorCommand;
import dev.sqlitesuperfs.anchor.AnchorDirectory;
import dev.sqlitesuperfs.anchor.Anchors;
import dev.sqlitesuperfs.sealed.FreshnessPolicy;
import dev.sqlitesuperfs.sealed.SealedNamespace;
import dev.sqlitesuperfs.store.DatabaseConfig;
import dev.sqlitesuperfs.store.NamespaceName;
import dev.sqlitesuperfs.store.NamespaceStore;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * {@code sqlitesuperfs fsck NAMESPACE}: checks the stored namespace for consistency (link
 * counts, sizes, orphans, reachability). Needs no passphrase: it reads metadata only. With
 * {@code --verify} it also opens the key and checks every row against the authenticators, as a
 * mount's reads would (see {@link SealedNamespace#audit}), which reads every block. Refuses a
 * mounted namespace, whose state in memory may be ahead of storage.
 */
public final class Fsck {
    static final String USAGE = "usage: sqlitesuperfs fsck [--db URL | --fleet FILE] [--state-dir D] [--verify [--passphrase-file F]"
            + " [--anchor-dir D | --anchor-command CMD]] NAMESPACE";

    private Fsck() {}

    private static final class Options implements NamespaceCommand.ExtraOptions {
        boolean verify;
        Path anchorDir;
        String anchorCommand;

        @Override
        public boolean accept(String option, MountSettings.Options values) {
            if (option.equals("--verify")) {
                verify = true;
                return true;
            }
            if (option.equals("--anchor-dir")) {
                anchorDir = Path.of(values.value(option));
                return true;
            }
            if (option.equals("--anchor-command")) {
                anchorCommand = values.value(option);
                return true;
            }
            return false;
        }
    }

    static int run(List<String> args, Map<String, String> env, PrintStream out) {
        Options options = new Options();
        NamespaceCommand command = NamespaceCommand.parse(args, env, USAGE, options);
        if (command.passphraseFile() != null && !options.verify) {
            throw new CliException(ExitCode.USAGE, "--passphrase-file is for --verify; " + USAGE);
        }
        NamespaceName name = command.namespace();
        if ((options.anchorDir != null || options.anchorCommand != null) && !options.verify) {
            throw new CliException(ExitCode.USAGE, (options.anchorDir != null ? "--anchor-dir" : "--anchor-command")
                    + " is for --verify; " + USAGE);
        }
        if (options.anchorDir != null && options.anchorCommand != null) {
            throw new CliException(ExitCode.USAGE, "--anchor-dir and --anchor-command: choose one; " + USAGE);
        }
        if (options.anchorCommand != null && options.anchorCommand.isBlank()) {
            throw new CliException(ExitCode.USAGE, "--anchor-command needs a program; " + USAGE);
        }
        PassphraseSource passphrases = options.verify ? command.passphrases(env) : null;
        // this machine's anchor, as a mount with the same options would use it
        Anchors anchors = options.anchorCommand != null
                ? new AnchorCommand(options.anchorCommand, DatabaseConfig.DEFAULT_RETRY_TIMEOUT)
                : new AnchorDirectory(options.anchorDir != null ? options.anchorDir
                        : (command.stateDir() != null ? command.stateDir() : Main.defaultStateDir(env))
                                .resolve("anchors"));
        return command.run(env, out, true, "check it", store -> {
            List<String> problems = problems(store, name, passphrases, anchors);
            for (String p : problems) {
                out.println(p);
            }
            out.println(problems.isEmpty()
                    ? "namespace " + name.value() + ": clean" + (options.verify ? ", every row authentic" : "")
                    : "namespace " + name.value() + ": " + problems.size() + " problem(s)");
            return problems.isEmpty() ? ExitCode.OK.code() : ExitCode.INCONSISTENT.code();
        });
    }

    /**
     * The problems of namespace {@code name}, which must not be mounted: its consistency, and
     * with {@code passphrases} (null: not) its authenticity.
     */
    public static List<String> problems(DatabaseConfig database, NamespaceName name, PassphraseSource passphrases,
                                        Anchors anchors) {
        try (NamespaceStore store = NamespaceCommand.openUnmounted(database, name, true, "check it")) {
            return problems(store, name, passphrases, anchors);
        }
    }

    /** With {@code passphrases}, the commit number is also compared with {@code anchors} (null: none). */
    static List<String> problems(NamespaceStore store, NamespaceName name, PassphraseSource passphrases,
                                         Anchors anchors) {
        List<String> problems = new ArrayList<>(SealedNamespace.check(store, name.value()));
        if (passphrases != null) {
            problems.addAll(SealedNamespace.audit(store, name.value(), passphrases.prompt(name.value()),
                    new FreshnessPolicy(anchors, false)));
        }
        return problems;
    }
}
