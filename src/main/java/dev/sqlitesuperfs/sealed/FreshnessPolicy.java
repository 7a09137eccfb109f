package dev.sqlitesuperfs.sealed;

import dev.sqlitesuperfs.anchor.Anchors;

/**
 * How an opening treats freshness: where the anchors are kept ({@code anchors}; null keeps none,
 * as the admin commands that only read do), and whether a database older than its anchor is
 * accepted ({@code acceptRollback}, after a deliberate restore: the anchor is set back to it), and
 * how often the anchor is written ({@code anchorInterval}: zero before every commit returns, else
 * in the background at most once per interval, see {@link dev.sqlitesuperfs.anchor.BatchedAnchor}).
 */
public record FreshnessPolicy(Anchors anchors, boolean acceptRollback, java.time.Duration anchorInterval) {
    /** No anchor: commits are still sealed, nothing is compared. */
    public static final FreshnessPolicy NONE = new FreshnessPolicy(null, false);

    /** The anchor written before every commit returns. */
    public FreshnessPolicy(Anchors anchors, boolean acceptRollback) {
        this(anchors, acceptRollback, java.time.Duration.ZERO);
    }
}
