package dev.sqlitesuperfs.metrics;

import dev.sqlitesuperfs.fs.FsMetrics;
import dev.sqlitesuperfs.store.StoreMetrics;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * What a host exposes at its metrics endpoint: per namespace (label {@code namespace}) its
 * filesystem's and writer's counters; per host its connections, memory budget and request
 * workers. README's "Metrics" lists every family; the names here are the contract.
 */
public final class HostMetrics {
    /** One mounted namespace's counters; {@code requests}: FUSE requests handled, by opcode name. */
    public record Namespace(String name, FsMetrics fs, StoreMetrics store, Map<String, Long> requests) {}

    /**
     * The host's shared resources at the moment of a scrape.
     *
     * @param dbConnections PostgreSQL connections open, over all servers
     * @param dbConnectionsMax the configured bound on them
     * @param memoryBudgetBytes the block cache's and unstored data's bounds together
     * @param memoryUsedBytes cached plus unstored bytes
     * @param workersBusy request workers serving a request now
     * @param workers request workers in all
     */
    public record Host(long dbConnections, long dbConnectionsMax, long memoryBudgetBytes, long memoryUsedBytes,
            long workersBusy, long workers) {}

    private HostMetrics() {}

    /** The text of one scrape. */
    public static String render(Host host, List<Namespace> namespaces) {
        PrometheusText t = new PrometheusText();
        gauge(t, "sqlitesuperfs_host_db_connections", "PostgreSQL connections open, all servers", host.dbConnections());
        gauge(t, "sqlitesuperfs_host_db_connections_max", "Configured bound on PostgreSQL connections", host.dbConnectionsMax());
        gauge(t, "sqlitesuperfs_host_memory_budget_bytes", "Bound on cached plus unstored bytes", host.memoryBudgetBytes());
        gauge(t, "sqlitesuperfs_host_memory_used_bytes", "Cached plus unstored bytes", host.memoryUsedBytes());
        gauge(t, "sqlitesuperfs_host_request_workers_busy", "Request workers serving a request", host.workersBusy());
        gauge(t, "sqlitesuperfs_host_request_workers", "Request workers in all", host.workers());
        gauge(t, "sqlitesuperfs_host_namespaces", "Namespaces mounted", namespaces.size());

        counter(t, namespaces, "sqlitesuperfs_commits_total", "Commits callers waited for (fsync, fsyncdir, namespace changes) that succeeded",
                n -> (double) n.store().commits());
        counter(t, namespaces, "sqlitesuperfs_pg_transactions_total", "PostgreSQL transactions committed (a group of commits is one)",
                n -> (double) n.store().transactions());
        counter(t, namespaces, "sqlitesuperfs_pg_shared_transactions_total",
                "Of those, transactions shared with other namespaces (cross-tenant group commit)",
                n -> (double) n.store().sharedTransactions());
        perNamespace(t, namespaces, "sqlitesuperfs_commit_queue_depth", "gauge", "Commits waiting for the namespace's writer",
                n -> (double) n.store().queueDepth());
        counter(t, namespaces, "sqlitesuperfs_read_bytes_total", "Bytes read by programs", n -> (double) n.fs().bytesRead());
        counter(t, namespaces, "sqlitesuperfs_written_bytes_total", "Bytes written by programs", n -> (double) n.fs().bytesWritten());
        counter(t, namespaces, "sqlitesuperfs_cache_hits_total", "Block lookups answered by the cache", n -> (double) n.fs().cacheHits());
        counter(t, namespaces, "sqlitesuperfs_cache_misses_total", "Block lookups the cache could not answer",
                n -> (double) n.fs().cacheMisses());
        counter(t, namespaces, "sqlitesuperfs_tamper_events_total", "Requests refused because stored data failed authentication",
                n -> (double) n.fs().tamperEvents());

        t.family("sqlitesuperfs_fuse_requests_total", "counter", "Requests the kernel sent, by opcode");
        for (Namespace n : namespaces) {
            for (Map.Entry<String, Long> e : n.requests().entrySet()) {
                t.sample("sqlitesuperfs_fuse_requests_total", e.getValue(), "namespace", n.name(), "op", e.getKey());
            }
        }

        t.family("sqlitesuperfs_errors_total", "counter", "Requests answered with an error, by errno");
        for (Namespace n : namespaces) {
            for (Map.Entry<Integer, Long> e : n.fs().errors().entrySet()) {
                t.sample("sqlitesuperfs_errors_total", e.getValue(), "namespace", n.name(), "errno", ErrnoNames.of(e.getKey()));
            }
        }

        t.family("sqlitesuperfs_fsync_seconds", "histogram", "Time from an fsync's arrival to its answer");
        for (Namespace n : namespaces) {
            long[] buckets = n.fs().fsyncBuckets();
            long cumulative = 0;
            for (int i = 0; i < buckets.length; i++) {
                cumulative += buckets[i];
                String le = i < FsMetrics.FSYNC_BUCKETS.length ? PrometheusText.number(FsMetrics.FSYNC_BUCKETS[i]) : "+Inf";
                t.sample("sqlitesuperfs_fsync_seconds_bucket", cumulative, "namespace", n.name(), "le", le);
            }
            t.sample("sqlitesuperfs_fsync_seconds_sum", n.fs().fsyncSeconds(), "namespace", n.name());
            t.sample("sqlitesuperfs_fsync_seconds_count", cumulative, "namespace", n.name());
        }
        return t.toString();
    }

    private static void gauge(PrometheusText t, String name, String help, double value) {
        t.family(name, "gauge", help).sample(name, value);
    }

    private static void counter(PrometheusText t, List<Namespace> namespaces, String name, String help,
            Function<Namespace, Double> value) {
        perNamespace(t, namespaces, name, "counter", help, value);
    }

    private static void perNamespace(PrometheusText t, List<Namespace> namespaces, String name, String type, String help,
            Function<Namespace, Double> value) {
        t.family(name, type, help);
        for (Namespace n : namespaces) {
            t.sample(name, value.apply(n), "namespace", n.name());
        }
    }
}
