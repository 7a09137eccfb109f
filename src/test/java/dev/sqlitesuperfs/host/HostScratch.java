package dev.sqlitesuperfs.host;

import dev.sqlitesuperfs.testing.CliProcess;
import dev.sqlitesuperfs.testing.Shell;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * What a host test leaves behind, cleaned up after it: a temporary directory (mode 755, so that
 * other users' mounts can be made in it) with the control socket's path, the hosts the test
 * started (stopped with SIGTERM) and the mount directories (unmounted lazily if still mounted).
 */
final class HostScratch {
    final Path dir;
    final Path socket;
    final List<CliProcess> hosts = new ArrayList<>();
    final List<Path> mountDirs = new ArrayList<>();

    HostScratch(String prefix) throws IOException {
        dir = Files.createTempDirectory(prefix);
        Shell.run("chmod", "755", dir.toString());
        socket = dir.resolve("host.sock");
    }

    /** Whether {@code dir} is a mount point now (this process's view of the mount table). */
    static boolean isMounted(Path dir) {
        return Shell.run("cat", "/proc/self/mountinfo").contains(" " + dir + " ");
    }

    /** Stops every host still running (waiting up to {@code wait} each) and removes everything. */
    void cleanUp(Duration wait) {
        for (CliProcess host : hosts) {
            if (host.isAlive()) {
                host.signal("TERM");
                host.waitFor(wait);
            }
            host.close();
        }
        for (Path m : mountDirs) {
            Shell.unmountLazilyIfMounted(m);
        }
        Shell.run("rm", "-rf", dir.toString());
    }
}
