package dev.sqlitesuperfs.localpg;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/** The directory holding {@code initdb}, {@code pg_ctl} and {@code postgres} of one PostgreSQL version. */
record PostgresBinaries(Path binDir) {

    static final Path DEBIAN_ROOT = Path.of("/usr/lib/postgresql");

    private static final List<String> REQUIRED = List.of("initdb", "pg_ctl", "postgres");

    Path initdb() {
        return binDir.resolve("initdb");
    }

    Path pgCtl() {
        return binDir.resolve("pg_ctl");
    }

    /** The newest {@code <root>/<version>/bin} that has every required program. */
    static PostgresBinaries find(Path root) {
        return newest(root).orElseThrow(() -> new LocalPostgresException(
                "no PostgreSQL server binaries (initdb, pg_ctl, postgres) found under " + root
                        + "/*/bin; install them with: apt-get install postgresql"));
    }

    private static Optional<PostgresBinaries> newest(Path root) {
        if (!Files.isDirectory(root)) {
            return Optional.empty();
        }
        try (Stream<Path> versions = Files.list(root)) {
            return versions
                    .map(version -> version.resolve("bin"))
                    .filter(PostgresBinaries::hasEveryProgram)
                    .max(Comparator.comparing(bin -> versionKey(bin.getParent().getFileName().toString())))
                    .map(PostgresBinaries::new);
        } catch (IOException e) {
            throw new LocalPostgresException("cannot list " + root + ": " + e.getMessage(), e);
        }
    }

    private static boolean hasEveryProgram(Path bin) {
        return REQUIRED.stream().allMatch(name -> Files.isExecutable(bin.resolve(name)));
    }

    /** Orders "9.6" before "15" before "16.1"; names that are not versions sort first. */
    private static VersionKey versionKey(String name) {
        String[] parts = name.split("\\.");
        int[] numbers = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            try {
                numbers[i] = Integer.parseInt(parts[i]);
            } catch (NumberFormatException e) {
                return new VersionKey(new int[] {-1});
            }
        }
        return new VersionKey(numbers);
    }

    private record VersionKey(int[] numbers) implements Comparable<VersionKey> {
        @Override
        public int compareTo(VersionKey other) {
            return java.util.Arrays.compare(numbers, other.numbers);
        }
    }
}
