package dev.sqlitesuperfs.localpg;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** What a running server wrote into {@code postmaster.pid}: its process id and port. */
record PostmasterPid(long pid, int port) {

    static PostmasterPid read(Path dataDir) {
        Path file = dataDir.resolve("postmaster.pid");
        try {
            List<String> lines = Files.readAllLines(file);
            // Line 1 is the pid, line 4 the port (see PostgreSQL's pidfile.h).
            if (lines.size() < 4) {
                throw new LocalPostgresException(file + " is incomplete; is the server still starting?");
            }
            return new PostmasterPid(Long.parseLong(lines.get(0).strip()), Integer.parseInt(lines.get(3).strip()));
        } catch (IOException | NumberFormatException e) {
            throw new LocalPostgresException("cannot read the server's port from " + file + ": " + e.getMessage(), e);
        }
    }
}
