package dev.sqlitesuperfs.cli;

import dev.sqlitesuperfs.store.Catalog;
import dev.sqlitesuperfs.store.NamespaceMeta;
import dev.sqlitesuperfs.store.NamespaceName;
import java.io.PrintStream;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * What the {@code ns} subcommands print: a table or a few lines for people, one JSON document with
 * {@code --json} for scripts. JSON names are snake_case, sizes are bytes, times ISO 8601 in UTC, an
 * absent quota or an unknown figure is null. Each method returns the exit code (0).
 */
final class NsReport {

    /** Said under the list, and in its JSON, so nobody takes the list's figures for exact ones. */
    static final String APPROXIMATE = "blocks and size (~) are PostgreSQL's statistics of live block rows,"
            + " updated by every commit within about a second; `ns usage NAMESPACE` counts exactly";

    private static final DateTimeFormatter HUMAN_TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm");

    private NsReport() {}

    static int list(List<Catalog.Entry> entries, boolean json, PrintStream out) {
        Map<String, List<Catalog.Entry>> one = new LinkedHashMap<>();
        one.put(null, entries);
        return list(one, List.of(), json, out);
    }

    /**
     * The namespaces of each server of a fleet, by the server's name, or of one server (the one
     * key null): with a fleet, a column (a JSON field) says which server holds each, and
     * {@code unreachable} names the servers left out.
     */
    static int list(Map<String, List<Catalog.Entry>> byServer, List<String> unreachable, boolean json,
                    PrintStream out) {
        boolean fleet = !byServer.containsKey(null);
        List<Map.Entry<String, Catalog.Entry>> entries = new ArrayList<>();
        byServer.forEach((server, list) -> list.forEach(e -> entries.add(Map.entry(server == null ? "" : server, e))));
        long mounted = entries.stream().filter(e -> e.getValue().holder() != null).count();
        if (json) {
            Json.Obj document = Json.object()
                    .put("namespaces", entries.stream().map(e -> {
                        Json.Obj o = entryJson(e.getValue());
                        return fleet ? o.put("server", e.getKey()) : o;
                    }).toList())
                    .put("count", entries.size())
                    .put("mounted", mounted)
                    .put("approximate", APPROXIMATE);
            if (fleet) {
                document.put("unreachable", unreachable);
            }
            out.println(document);
            return ExitCode.OK.code();
        }
        int width = Math.max(4, entries.stream().mapToInt(e -> e.getValue().name().length()).max().orElse(0));
        int serverWidth = Math.max(6, byServer.keySet().stream().mapToInt(k -> k == null ? 0 : k.length()).max()
                .orElse(0));
        String row = (fleet ? "%-" + serverWidth + "s  " : "%s") + "%-" + width
                + "s  %6s  %6s  %9s  %10s  %10s  %-16s  %s%n";
        // One write for the whole table: printing 10,000 rows one by one to an auto-flushing
        // stream cost more than a second (a write per row).
        StringBuilder table = new StringBuilder();
        java.util.Formatter rows = new java.util.Formatter(table);
        rows.format(row, fleet ? "SERVER" : "", "NAME", "FORMAT", "BLOCK", "~BLOCKS", "~SIZE", "QUOTA", "CREATED (UTC)",
                "MOUNTED BY");
        for (Map.Entry<String, Catalog.Entry> listed : entries) {
            Catalog.Entry e = listed.getValue();
            rows.format(row, listed.getKey(), e.name(), e.formatVersion(), size(e.blockSize()),
                    e.approximateBlocks() < 0 ? "?" : Long.toString(e.approximateBlocks()), approximateSize(e),
                    quota(e.quotaBytes()), time(e.createdAt()),
                    (e.moving() ? "(a copy of a move under way) " : "")
                            + (e.holder() == null ? "-" : Catalog.describe(e.holder()))
                            + (e.followers() == 0 ? "" : "; " + e.followers() + " follower(s)"));
        }
        table.append(entries.size()).append(" namespace(s), ").append(mounted).append(" mounted");
        if (fleet) {
            table.append(", on ").append(byServer.size()).append(" server(s): ");
            table.append(String.join(", ", byServer.entrySet().stream()
                    .map(e -> e.getKey() + " " + e.getValue().size()).toList()));
            if (!unreachable.isEmpty()) {
                table.append(" (not reached: ").append(String.join(", ", unreachable)).append(")");
            }
        }
        table.append("; ").append(APPROXIMATE).append(System.lineSeparator());
        out.print(table);
        out.flush();
        return ExitCode.OK.code();
    }

    static int info(Catalog.Info info, boolean json, PrintStream out) {
        Catalog.Entry e = info.entry();
        NamespaceMeta m = info.meta();
        if (json) {
            out.println(Json.object()
                    .put("name", e.name())
                    .put("uuid", m.uuid().toString())
                    .put("format", m.formatVersion())
                    .put("block_size", m.blockSize())
                    .put("names_sealed", m.sealNames())
                    .put("quota_bytes", m.quotaBytes() == 0 ? null : m.quotaBytes())
                    .put("created_at", iso(e.createdAt()))
                    .put("kdf", Json.object()
                            .put("algorithm", m.kdfAlgorithm())
                            .put("ops_limit", m.kdfOpsLimit())
                            .put("mem_limit_bytes", m.kdfMemLimit()))
                    .put("key_check", m.keyCheck() != null)
                    .put("mounts", info.mountEpoch())
                    .put("last_commit", info.lastCommit())
                    .put("mounted", holderJson(e.holder()))
                    .put("read_by", info.readers().stream().map(NsReport::holderJson).toList()));
            return ExitCode.OK.code();
        }
        out.println("namespace:      " + e.name());
        out.println("uuid:           " + m.uuid());
        out.println("format:         " + m.formatVersion());
        out.println("block size:     " + m.blockSize() + " bytes");
        out.println("names:          " + (m.sealNames() ? "sealed" : "stored as they are"));
        out.println("quota:          " + quota(m.quotaBytes()));
        out.println("created:        " + time(e.createdAt()) + " UTC");
        out.println("key derivation: " + m.kdfAlgorithm() + ", " + m.kdfOpsLimit() + " passes, "
                + size(m.kdfMemLimit()) + (m.keyCheck() != null ? ", with a key check" : ", no key check yet"));
        out.println("mounts so far:  " + info.mountEpoch());
        out.println("last commit:    " + (info.lastCommit() == 0 ? "none yet" : "number " + info.lastCommit()
                + " (as stored; a mount or fsck --verify checks it with the key)"));
        out.println("mounted by:     " + (e.holder() == null ? "nobody" : Catalog.describe(e.holder())
                + " since " + time(e.holder().since()) + " UTC"));
        out.println("read by:        " + (info.readers().isEmpty() ? "nobody (no follower)" : info.readers().stream()
                .map(r -> Catalog.describe(r) + " since " + time(r.since()) + " UTC")
                .collect(Collectors.joining("; "))));
        return ExitCode.OK.code();
    }

    static int usage(NamespaceName name, Catalog.ExactUsage u, boolean json, PrintStream out) {
        Double percent = u.quotaBytes() == 0 ? null : 100.0 * u.usedBytes() / u.quotaBytes();
        if (json) {
            out.println(Json.object()
                    .put("name", name.value())
                    .put("inodes", u.inodes())
                    .put("blocks", u.blockRows())
                    .put("block_size", u.blockSize())
                    .put("used_bytes", u.usedBytes())
                    .put("sealed_bytes", u.sealedBytes())
                    .put("disk_bytes", u.diskBytes())
                    .put("quota_bytes", u.quotaBytes() == 0 ? null : u.quotaBytes())
                    .put("quota_used_percent", percent == null ? null : Math.round(percent * 10) / 10.0));
            return ExitCode.OK.code();
        }
        out.println("namespace:  " + name);
        out.println("inodes:     " + u.inodes());
        out.println("blocks:     " + u.blockRows() + " of " + u.blockSize() + " bytes = " + size(u.usedBytes())
                + " (what the quota counts)");
        out.println("stored:     " + size(u.sealedBytes()) + " sealed block data, " + size(u.diskBytes())
                + " on disk with tables and indexes");
        out.println("quota:      " + (percent == null ? "none"
                : size(u.quotaBytes()) + ", " + String.format(Locale.ROOT, "%.1f", percent) + "% used"));
        return ExitCode.OK.code();
    }

    /** @param server the fleet's server it was made on; null without a fleet */
    static int created(NamespaceName name, NamespaceMeta meta, String server, boolean json, PrintStream out) {
        if (json) {
            Json.Obj document = Json.object()
                    .put("created", name.value());
            if (server != null) {
                document.put("server", server);
            }
            out.println(document
                    .put("uuid", meta.uuid().toString())
                    .put("block_size", meta.blockSize())
                    .put("names_sealed", meta.sealNames())
                    .put("quota_bytes", meta.quotaBytes() == 0 ? null : meta.quotaBytes()));
        } else {
            out.println("created namespace " + name + (server != null ? " on server " + server : "") + " (block size "
                    + meta.blockSize() + ", quota " + quota(meta.quotaBytes()) + (meta.sealNames() ? ", names sealed" : "")
                    + ")");
        }
        return ExitCode.OK.code();
    }

    static int moved(NamespaceName name, NsMove.Result r, boolean json, PrintStream out) {
        if (json) {
            out.println(Json.object()
                    .put("moved", name.value())
                    .put("from", r.from())
                    .put("to", r.to())
                    .put("already_there", r.already())
                    .put("rows", r.rows())
                    .put("bytes", r.bytes())
                    .put("seconds", Math.round(r.seconds() * 1000) / 1000.0)
                    .put("freed_bytes", r.freedBytes()));
        } else if (r.already()) {
            out.println("namespace " + name + ": nothing to move");
        } else {
            out.println("moved namespace " + name + " from server " + r.from() + " to server " + r.to()
                    + String.format(Locale.ROOT, " in %.1f s", r.seconds()));
        }
        return ExitCode.OK.code();
    }

    static int dropped(NamespaceName name, long freedBytes, boolean json, PrintStream out) {
        if (json) {
            out.println(Json.object().put("dropped", name.value()).put("freed_bytes", freedBytes));
        } else {
            out.println("dropped namespace " + name + "; " + size(freedBytes) + " on disk freed");
        }
        return ExitCode.OK.code();
    }

    static int quotaSet(Catalog.Entry before, long bytes, boolean json, PrintStream out) {
        boolean mounted = before.holder() != null;
        if (json) {
            out.println(Json.object()
                    .put("name", before.name())
                    .put("quota_bytes", bytes == 0 ? null : bytes)
                    .put("previous_quota_bytes", before.quotaBytes() == 0 ? null : before.quotaBytes())
                    .put("mounted", mounted));
        } else {
            out.println("namespace " + before.name() + ": quota " + quota(bytes) + " (was " + quota(before.quotaBytes())
                    + ")" + (mounted ? "; it is mounted now, and the mount keeps the quota it started with until"
                    + " it is mounted again" : ""));
        }
        return ExitCode.OK.code();
    }

    private static Json.Obj entryJson(Catalog.Entry e) {
        long blocks = e.approximateBlocks();
        return Json.object()
                .put("name", e.name())
                .put("uuid", e.uuid().toString())
                .put("format", e.formatVersion())
                .put("block_size", e.blockSize())
                .put("approximate_blocks", blocks < 0 ? null : blocks)
                .put("approximate_bytes", blocks < 0 ? null : blocks * e.blockSize())
                .put("quota_bytes", e.quotaBytes() == 0 ? null : e.quotaBytes())
                .put("created_at", iso(e.createdAt()))
                .put("mounted", holderJson(e.holder()))
                .put("followers", e.followers())
                .put("moving", e.moving());
    }

    private static Json.Obj holderJson(Catalog.Holder h) {
        return h == null ? null : Json.object()
                .put("pid", h.pid())
                .put("application_name", h.applicationName())
                .put("client_address", h.clientAddress())
                .put("since", iso(h.since()));
    }

    /** "~1.2 MiB", or "?" without statistics. */
    static String approximateSize(Catalog.Entry e) {
        return e.approximateBlocks() < 0 ? "?" : "~" + size(e.approximateBlocks() * e.blockSize());
    }

    static String quota(long bytes) {
        return bytes == 0 ? "none" : size(bytes);
    }

    /** Bytes in binary units, one decimal where it is not whole: 512 B, 4 KiB, 1.5 MiB. */
    static String size(long bytes) {
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
        int unit = 0;
        double value = bytes;
        while (value >= 1024 && unit < units.length - 1) {
            value /= 1024;
            unit++;
        }
        String number = value == Math.floor(value) ? Long.toString((long) value)
                : String.format(Locale.ROOT, "%.1f", value);
        return number + " " + units[unit];
    }

    static String time(OffsetDateTime t) {
        return t == null ? "-" : t.withOffsetSameInstant(ZoneOffset.UTC).format(HUMAN_TIME);
    }

    private static String iso(OffsetDateTime t) {
        return t == null ? null : t.withOffsetSameInstant(ZoneOffset.UTC).toString();
    }
}
