package dev.sqlitesuperfs.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalLong;

/**
 * The memory of this machine, or of the cgroup the process runs in when that has a lower limit
 * (a container): what a mount's heap must fit in. Read from the same two files as the launcher's
 * {@code machine_mib} (scripts/prereqs.sh), so that both refuse the same sizes with the same numbers.
 */
final class MachineMemory {
    private static final Path MEMINFO = Path.of("/proc/meminfo");
    private static final Path CGROUP_LIMIT = Path.of("/sys/fs/cgroup/memory.max");

    private MachineMemory() {}

    /** In MiB (rounded down), or empty if /proc/meminfo cannot be read. */
    static OptionalLong mib() {
        long kib;
        try {
            kib = Files.readAllLines(MEMINFO).stream()
                    .filter(line -> line.startsWith("MemTotal:"))
                    .map(line -> line.substring("MemTotal:".length()).trim().split("\\s+")[0])
                    .mapToLong(Long::parseLong)
                    .findFirst().orElse(-1);
        } catch (IOException | NumberFormatException e) {
            return OptionalLong.empty();
        }
        if (kib < 0) {
            return OptionalLong.empty();
        }
        long mib = kib / 1024;
        try {
            String limit = Files.readString(CGROUP_LIMIT).trim();
            if (limit.matches("[0-9]{1,18}")) {
                mib = Math.min(mib, Long.parseLong(limit) / (1 << 20));
            }
        } catch (IOException e) {
            // no cgroup v2 limit visible: the machine's memory it is
        }
        return OptionalLong.of(mib);
    }
}
