package dev.sqlitesuperfs.host;

import dev.sqlitesuperfs.cli.ExitCode;
import dev.sqlitesuperfs.fs.FsMetrics;
import java.nio.file.Path;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One line of {@code sqlitesuperfs status}: a namespace the host serves, or one of its
 * configuration that failed to mount at start. As JSON ({@link #toJson}), the members are
 * {@code namespace}, {@code directory}, {@code state} ("mounted" or "failed"), {@code origin}; for
 * a mounted one {@code mounted_since} (ISO 8601, UTC), {@code read_only}, {@code owner_uid} and
 * its figures ({@link #figuresOf}); for a failed one {@code exit_code} and {@code error}.
 */
record NamespaceStatus(String namespace, Path directory, String state, String origin, Map<String, Object> details) {

    static final String MOUNTED = "mounted";
    static final String FAILED = "failed";

    static NamespaceStatus mounted(HostedMount hosted) {
        Map<String, Object> details = new LinkedHashMap<>();
        details.put("mounted_since", hosted.since().toString());
        details.put("read_only", hosted.readOnly());
        details.put("owner_uid", (long) hosted.ownerUid());
        details.putAll(figuresOf(hosted));
        return new NamespaceStatus(hosted.namespace(), hosted.directory(), MOUNTED, hosted.origin(), details);
    }

    static NamespaceStatus failed(String namespace, Path directory, String origin, ExitCode code, String message) {
        Map<String, Object> details = new LinkedHashMap<>();
        details.put("failed_at", Instant.now().toString());
        details.put("exit_code", (long) code.code());
        details.put("error", message);
        return new NamespaceStatus(namespace, directory, FAILED, origin, details);
    }

    /**
     * The figures a mount's filesystem exposes, each a number under its own name: inodes held in
     * memory, plaintext bytes it has in the host's block cache, bytes written and not stored yet,
     * and its filesystem's counters since it was mounted ({@link FsMetrics}: bytes read and
     * written, cache hits and misses, tamper events). {@code status} prints whatever is here.
     */
    static Map<String, Object> figuresOf(HostedMount hosted) {
        Map<String, Object> figures = new LinkedHashMap<>();
        figures.put("inodes_in_memory", (long) hosted.mount().filesystem().inodesInMemory());
        figures.put("cached_bytes", hosted.mount().filesystem().cachedBytes());
        figures.put("unstored_bytes", hosted.mount().filesystem().unstoredBytes());
        FsMetrics counted = hosted.mount().filesystem().metrics();
        figures.put("bytes_read", counted.bytesRead());
        figures.put("bytes_written", counted.bytesWritten());
        figures.put("cache_hits", counted.cacheHits());
        figures.put("cache_misses", counted.cacheMisses());
        figures.put("tamper_events", counted.tamperEvents());
        return figures;
    }

    Map<String, Object> toJson() {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("namespace", namespace);
        json.put("directory", directory.toString());
        json.put("state", state);
        json.put("origin", origin);
        json.putAll(details);
        return json;
    }
}
