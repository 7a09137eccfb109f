package dev.sqlitesuperfs.host;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.CodeSource;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loads and initializes, in the background right after a host starts, the classes its mounts
 * run: the filesystem, FUSE, sealing, storage and PostgreSQL driver code. A host's first mount
 * otherwise loads about a thousand classes itself (0.5 s after its key, where later mounts take 30
 * to 80 ms). Initializing them touches nothing outside the process (the most is libsodium being
 * loaded, which the first mount does anyway); the command line's and the host's own classes, whose
 * initialization could act on the process, are not among them.
 */
final class ClassWarmup {
    private static final Logger log = LoggerFactory.getLogger(ClassWarmup.class);
    static final List<String> PACKAGES = List.of("dev/sqlitesuperfs/fs/", "dev/sqlitesuperfs/fuse/",
            "dev/sqlitesuperfs/sealed/", "dev/sqlitesuperfs/store/", "dev/sqlitesuperfs/crypto/",
            "org/postgresql/", "com/zaxxer/hikari/");

    private ClassWarmup() {}

    /** Starts loading on a low-priority daemon thread; returns at once. */
    static void start() {
        Thread t = Thread.ofPlatform().daemon().name("class-warmup").unstarted(ClassWarmup::run);
        t.setPriority(Thread.MIN_PRIORITY);
        t.start();
    }

    private static void run() {
        long start = System.nanoTime();
        List<String> names = classNames();
        int loaded = 0;
        ClassLoader loader = ClassWarmup.class.getClassLoader();
        for (String name : names) {
            try {
                Class.forName(name, true, loader);
                loaded++;
            } catch (Throwable t) {
                // optional parts of the driver (OSGi, JNDI, GSS) need what is not there: not ours to run
                log.trace("warm-up skipped {}: {}", name, t.toString());
            }
        }
        log.debug("loaded {} of {} classes ahead of the first mount in {} ms", loaded, names.size(),
                (System.nanoTime() - start) / 1_000_000);
    }

    /** Classes of {@link #PACKAGES}, from wherever those are loaded: a jar or a directory of classes. */
    static List<String> classNames() {
        Set<Path> locations = new LinkedHashSet<>();
        for (Class<?> c : List.of(ClassWarmup.class, org.postgresql.Driver.class, com.zaxxer.hikari.HikariConfig.class)) {
            CodeSource source = c.getProtectionDomain().getCodeSource();
            if (source == null || source.getLocation() == null) {
                continue;
            }
            try {
                locations.add(Path.of(source.getLocation().toURI()));
            } catch (URISyntaxException | IllegalArgumentException e) {
                log.debug("no warm-up of {}'s classes: {}", c.getPackageName(), e.toString());
            }
        }
        List<String> names = new ArrayList<>();
        for (Path location : locations) {
            try {
                if (Files.isDirectory(location)) {
                    try (Stream<Path> files = Files.walk(location)) {
                        files.map(f -> location.relativize(f).toString().replace(File.separatorChar, '/'))
                                .filter(ClassWarmup::wanted).forEach(entry -> names.add(className(entry)));
                    }
                } else {
                    try (JarFile jar = new JarFile(location.toFile())) {
                        jar.stream().map(JarEntry::getName).filter(ClassWarmup::wanted)
                                .forEach(entry -> names.add(className(entry)));
                    }
                }
            } catch (IOException | UncheckedIOException e) {
                log.debug("no warm-up from {}: {}", location, e.toString());
            }
        }
        return names;
    }

    private static boolean wanted(String entry) {
        return entry.endsWith(".class") && !entry.endsWith("module-info.class") && !entry.endsWith("package-info.class")
                && PACKAGES.stream().anyMatch(entry::startsWith);
    }

    private static String className(String entry) {
        return entry.substring(0, entry.length() - ".class".length()).replace('/', '.');
    }
}
