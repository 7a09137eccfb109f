/**
 * Metrics for the operator of a host: each namespace's counters ({@code fs.FsMetrics},
 * {@code store.StoreMetrics}) and the host's shared resources, written in Prometheus's text
 * format ({@link dev.sqlitesuperfs.metrics.PrometheusText}, {@link dev.sqlitesuperfs.metrics.HostMetrics})
 * and served over HTTP ({@link dev.sqlitesuperfs.metrics.MetricsServer}). Reads counters only; changes nothing.
 */
package dev.sqlitesuperfs.metrics;
