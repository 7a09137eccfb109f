package dev.sqlitesuperfs.cli;

import dev.sqlitesuperfs.store.NamespaceName;
import dev.sqlitesuperfs.store.NamespaceStore;
import dev.sqlitesuperfs.store.PgNamespaceStore;
import java.io.PrintStream;
import java.util.List;
import java.util.Map;

/**
 * {@code sqlitesuperfs fsck NAMESPACE}: checks the stored namespace for consistency (link
 * counts, sizes, orphans, reachability). Needs no passphrase: it reads metadata only. Refuses a
 * mounted namespace, whose state in memory may be ahead of storage.
 */
final class Fsck {
    private Fsck() {}

    static int run(List<String> args, Map<String, String> env, PrintStream out) {
        NamespaceCommand command = NamespaceCommand.parse(args, env,
                "usage: sqlitesuperfs fsck [--db URL] [--state-dir D] NAMESPACE", (option, values) -> false);
        NamespaceName name = command.namespace();
        try (DatabaseChoice db = DatabaseChoice.of(command.databaseUrl(), command.stateDir(), env, out);
                NamespaceStore store = PgNamespaceStore.open(db.config, name, true)) {
            if (store.meta().isEmpty()) {
                throw new CliException(ExitCode.NAMESPACE, "namespace " + name.value() + " does not exist");
            }
            List<String> problems = store.check();
            for (String p : problems) {
                out.println(p);
            }
            out.println(problems.isEmpty() ? "namespace " + name.value() + ": clean"
                    : "namespace " + name.value() + ": " + problems.size() + " problem(s)");
            return problems.isEmpty() ? ExitCode.OK.code() : ExitCode.INCONSISTENT.code();
        }
    }
}
