package dev.sqlitesuperfs.fuse;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Requests a session has handled, by opcode: what a program's work costs in round trips to the
 * mount (a SQLite WAL commit is a WRITE and an FSYNC, and a SETATTR of times most of the time).
 * A request is counted once the filesystem has done it, just before its reply is written. One
 * uncontended add per request; read for a metrics scrape or a test.
 */
public final class RequestCounts {
    private final AtomicLongArray counts = new AtomicLongArray(Opcode.STATX + 2);

    void count(int opcode) {
        counts.incrementAndGet(opcode > 0 && opcode <= Opcode.STATX ? opcode : Opcode.STATX + 1);
    }

    /** Requests by opcode name (opcodes this code does not know as OTHER); only those seen. */
    public Map<String, Long> byOpcode() {
        Map<String, Long> seen = new TreeMap<>();
        for (int i = 0; i < counts.length(); i++) {
            long n = counts.get(i);
            if (n != 0) {
                seen.merge(i <= Opcode.STATX ? Opcode.name(i) : "OTHER", n, Long::sum);
            }
        }
        return seen;
    }

    /** Requests of one opcode name, 0 if none. */
    public long of(String opcodeName) {
        for (int i = 1; i <= Opcode.STATX; i++) {
            if (Opcode.name(i).equals(opcodeName)) {
                return counts.get(i);
            }
        }
        return 0;
    }
}
