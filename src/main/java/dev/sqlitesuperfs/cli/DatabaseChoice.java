package dev.sqlitesuperfs.cli;

import dev.sqlitesuperfs.localpg.LocalPostgres;
import dev.sqlitesuperfs.store.DatabaseConfig;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Map;

/** The database a command uses: the given URL, or the local PostgreSQL (started if needed). */
final class DatabaseChoice implements AutoCloseable {
    final DatabaseConfig config;
    final LocalPostgres local;

    private DatabaseChoice(DatabaseConfig config, LocalPostgres local) {
        this.config = config;
        this.local = local;
    }

    /** A server named by a fleet. */
    static DatabaseChoice of(DatabaseConfig config) {
        return new DatabaseChoice(config, null);
    }

    static DatabaseChoice of(String url, Path stateDir, Map<String, String> env, PrintStream out) {
        if (url != null) {
            return new DatabaseChoice(DatabaseConfig.parse(url), null);
        }
        LocalPostgres local = LocalPostgres.start(stateDir != null ? stateDir : Main.defaultStateDir(env));
        out.println("using local PostgreSQL with data in " + local.dataDirectory());
        out.flush();
        return new DatabaseChoice(local.config(), local);
    }

    /** Stops the local PostgreSQL when this was its last user. */
    @Override
    public void close() {
        if (local != null) {
            local.release();
        }
    }
}
