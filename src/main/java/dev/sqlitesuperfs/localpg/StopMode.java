package dev.sqlitesuperfs.localpg;

/** How {@link LocalPostgres#stopServer(StopMode)} stops the server (the modes of {@code pg_ctl stop -m}). */
public enum StopMode {
    /** Disconnect clients, roll back their transactions, shut down cleanly. */
    FAST("fast"),
    /** Quit at once without a shutdown checkpoint, like a crash; the next start recovers from WAL. */
    IMMEDIATE("immediate");

    final String pgCtlName;

    StopMode(String pgCtlName) {
        this.pgCtlName = pgCtlName;
    }
}
