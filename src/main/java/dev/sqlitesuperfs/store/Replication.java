package dev.sqlitesuperfs.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Set;

/**
 * How the server a store writes to replicates its commits, as far as it tells its clients: whether
 * a commit waits for a standby (so that a failover to that standby loses no commit this mount
 * acknowledged), only streams to standbys that may lag, or goes nowhere else.
 *
 * @param standbyNames       {@code synchronous_standby_names}: which standbys a commit waits for
 * @param synchronousCommit  {@code synchronous_commit} as the mount's sessions have it
 * @param standbys           standbys streaming from the server now
 * @param synchronous        of those, the ones a commit waits for now ({@code sync_state} sync or quorum)
 * @param hidden             standbys whose state this role may not see (no pg_read_all_stats)
 */
public record Replication(String standbyNames, String synchronousCommit, int standbys, int synchronous, int hidden) {

    /** The settings of {@code synchronous_commit} with which a commit returns only once a standby has it. */
    private static final Set<String> WAITING_COMMITS = Set.of("on", "remote_write", "remote_apply");

    private static final String QUERY = "SELECT current_setting('synchronous_standby_names'),"
            + " current_setting('synchronous_commit'), count(r.pid),"
            + " count(r.pid) FILTER (WHERE r.sync_state IN ('sync', 'quorum')),"
            + " count(r.pid) FILTER (WHERE r.sync_state IS NULL) FROM pg_stat_replication r";

    static Replication read(Connection connection) throws SQLException {
        try (PreparedStatement query = connection.prepareStatement(QUERY); ResultSet rows = query.executeQuery()) {
            rows.next();
            return new Replication(rows.getString(1), rows.getString(2), rows.getInt(3), rows.getInt(4),
                    rows.getInt(5));
        }
    }

    /**
     * Whether each commit waits until a standby has it: synchronous standbys are named, commits
     * wait for them, and one is streaming now (or standbys stream whose state is hidden from this
     * role: they are taken at the server's word).
     */
    public boolean isSynchronous() {
        return !standbyNames.isBlank() && WAITING_COMMITS.contains(synchronousCommit)
                && (synchronous > 0 || hidden > 0);
    }

    /** Standbys stream, but no commit waits for any: a failover may lose the last commits. */
    public boolean isAsynchronousOnly() {
        return standbys > 0 && !isSynchronous();
    }

    /** One clause for a message: what the server says about its standbys. */
    public String describe() {
        if (standbys == 0) {
            return standbyNames.isBlank() ? "no standby streams from it"
                    : "synchronous_standby_names is '" + standbyNames + "' but no standby streams from it now";
        }
        if (standbyNames.isBlank()) {
            return standbys + " standby(s) stream from it, and synchronous_standby_names is empty";
        }
        if (!WAITING_COMMITS.contains(synchronousCommit)) {
            return "synchronous_commit is " + synchronousCommit + ", so commits do not wait for its standbys";
        }
        return standbys + " standby(s) stream from it, " + (synchronous + hidden) + " synchronously";
    }
}
