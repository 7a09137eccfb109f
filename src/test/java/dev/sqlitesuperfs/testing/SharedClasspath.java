package dev.sqlitesuperfs.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A copy of the test classpath that any user can read. The Maven repository under /root is not
 * readable by other users, and some tests run the program as an unprivileged user.
 */
final class SharedClasspath {
    private static String classpath;

    private SharedClasspath() {}

    static synchronized String get() {
        if (classpath == null) {
            try {
                Path dir = Files.createTempDirectory("sqlitesuperfs-cp-");
                List<String> entries = new ArrayList<>();
                int i = 0;
                for (String entry : System.getProperty("java.class.path").split(java.io.File.pathSeparator)) {
                    Path source = Path.of(entry);
                    if (!Files.exists(source)) {
                        continue;
                    }
                    Path target = dir.resolve((i++) + "-" + source.getFileName());
                    Shell.run("cp", "-r", source.toString(), target.toString());
                    entries.add(target.toString());
                }
                Shell.run("chmod", "-R", "a+rX", dir.toString());
                classpath = String.join(java.io.File.pathSeparator, entries);
                Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                    try {
                        Shell.run("rm", "-rf", dir.toString());
                    } catch (RuntimeException | AssertionError e) {
                        // best effort
                    }
                }));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return classpath;
    }
}
