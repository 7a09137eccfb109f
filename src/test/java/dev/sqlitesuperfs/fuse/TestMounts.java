package dev.sqlitesuperfs.fuse;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

/** Mount options and clean-up for tests that mount for real. */
final class TestMounts {
    static final String FS_NAME = "memfs-test";
    static final String SUBTYPE = "memtest";

    private TestMounts() {}

    static MountOptions options(Path mountPoint) {
        return new MountOptions(mountPoint, FS_NAME, SUBTYPE, 0, 0, false, true, false, List.of(),
                MountOptions.MAX_WRITE_LIMIT, 4, true);
    }

    static boolean isMounted(Path mountPoint) {
        Path path = mountPoint.toAbsolutePath().normalize();
        return MountTable.read().stream().anyMatch(m -> m.mountPoint().equals(path));
    }

    /**
     * The last line of defence: a mount left behind breaks the machine for every later test, so
     * whatever is still mounted on {@code mountPoint} is lazily unmounted.
     */
    static void forceUnmount(Path mountPoint) throws IOException, InterruptedException {
        for (int attempt = 0; attempt < 10 && isMounted(mountPoint); attempt++) {
            run("umount", "-l", mountPoint.toAbsolutePath().normalize().toString());
        }
    }

    /** Runs a command; returns its exit code and output (stdout and stderr together). */
    static Result run(String... command) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile())).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        return new Result(process.waitFor(), output);
    }

    record Result(int exitCode, String output) {}
}
