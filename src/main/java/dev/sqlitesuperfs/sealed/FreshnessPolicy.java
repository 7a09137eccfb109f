package dev.sqlitesuperfs.sealed;

import dev.sqlitesuperfs.anchor.Anchors;

/**
 * How an opening treats freshness: where the anchors are kept ({@code anchors}; null keeps none,
 * as the admin commands that only read do), and whether a database older than its anchor is
 * accepted ({@code acceptRollback}, after a deliberate restore: the anchor is set back to it).
 */
public record FreshnessPolicy(Anchors anchors, boolean acceptRollback) {
    /** No anchor: commits are still sealed, nothing is compared. */
    public static final FreshnessPolicy NONE = new FreshnessPolicy(null, false);
}
