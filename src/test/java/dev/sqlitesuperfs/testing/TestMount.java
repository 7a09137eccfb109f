package dev.sqlitesuperfs.testing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.cli.Fsck;
import dev.sqlitesuperfs.cli.MountSettings;
import dev.sqlitesuperfs.cli.NamespaceMount;
import dev.sqlitesuperfs.cli.PassphraseSource;
import dev.sqlitesuperfs.cli.Upgrade;
import dev.sqlitesuperfs.fs.Filesystem;
import dev.sqlitesuperfs.sealed.TestKeys;
import dev.sqlitesuperfs.store.DatabaseConfig;
import dev.sqlitesuperfs.store.FormatThree;
import dev.sqlitesuperfs.store.NamespaceName;
import dev.sqlitesuperfs.store.NamespaceStore;
import dev.sqlitesuperfs.store.PgNamespaceStore;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A namespace mounted in this JVM on a temporary directory, on the test PostgreSQL. Real kernel
 * mount, real FUSE requests: the test's own file operations go through the kernel to the mount's
 * request threads. {@link #close()} unmounts and then checks the stored namespace for consistency.
 */
public final class TestMount implements AutoCloseable, BeforeAllCallback, AfterAllCallback {
    public static final String PASSPHRASE = "correct horse battery staple";

    private final String namespace;
    private final Path dir;
    private final List<String> extraArgs;
    private final DatabaseConfig database;
    /** This namespace's freshness anchors: its own directory, so that tests never share one. */
    private final Path anchors;
    private NamespaceMount mount;

    private TestMount(String namespace, Path dir, List<String> extraArgs) {
        this(namespace, dir, extraArgs, TestPostgres.config(), null);
    }

    private TestMount(String namespace, Path dir, List<String> extraArgs, DatabaseConfig database, Path anchors) {
        this.namespace = namespace;
        this.dir = dir;
        this.extraArgs = extraArgs;
        this.database = database;
        try {
            // in the run's state directory, removed when the run ends
            this.anchors = anchors != null ? anchors
                    : Files.createTempDirectory(CliProcess.TestState.DIR, "anchors-").resolve("a");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A fresh namespace, mounted, stored in {@code database} rather than the test server's default one. */
    public static TestMount freshIn(DatabaseConfig database, String... extraArgs) {
        try {
            TestMount m = new TestMount(TestPostgres.freshNamespace(), Files.createTempDirectory("sqlitesuperfs-mnt-"),
                    List.of(extraArgs), database, null);
            m.mount();
            return m;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * A fresh namespace mounted for a whole test class:
     * {@code @RegisterExtension static final TestMount mount = TestMount.perClass();}
     */
    public static TestMount perClass(String... extraArgs) {
        try {
            return new TestMount(TestPostgres.freshNamespace(), Files.createTempDirectory("sqlitesuperfs-mnt-"),
                    List.of(extraArgs));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void beforeAll(ExtensionContext context) {
        mount();
    }

    @Override
    public void afterAll(ExtensionContext context) {
        close();
    }

    /** A fresh namespace, mounted. {@code extraArgs} are mount options, e.g. "--block-size", "8192". */
    public static TestMount fresh(String... extraArgs) {
        try {
            Path dir = Files.createTempDirectory("sqlitesuperfs-mnt-");
            TestMount m = new TestMount(TestPostgres.freshNamespace(), dir, List.of(extraArgs));
            m.mount();
            return m;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The same namespace mounted again on another directory (the first must be closed). */
    public TestMount sameNamespaceElsewhere(String... extraArgs) {
        return sameNamespaceIn(database, extraArgs);
    }

    /** The same namespace, with this one's anchor, mounted from {@code other} (another server of it). */
    public TestMount sameNamespaceIn(DatabaseConfig other, String... extraArgs) {
        try {
            TestMount m = new TestMount(namespace, Files.createTempDirectory("sqlitesuperfs-mnt-"), List.of(extraArgs),
                    other, anchors);
            m.mount();
            return m;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void mount() {
        mount(List.of());
    }

    private void mount(List<String> moreArgs) {
        List<String> args = new ArrayList<>(List.of("--kdf", "interactive", "--db-timeout", "30"));
        args.addAll(moreArgs);
        if (!extraArgs.contains("--anchor-dir") && !extraArgs.contains("--anchor-command")
                && !extraArgs.contains("--no-anchor")) {
            args.addAll(List.of("--anchor-dir", anchors.toString()));
        }
        args.addAll(extraArgs);
        args.add(namespace);
        args.add(dir.toString());
        MountSettings settings = MountSettings.parse(args, Map.of());
        // as the command line does: --db-timeout is the database's retry timeout
        mount = NamespaceMount.open(settings, database.withRetryTimeout(settings.databaseTimeout()),
                new PassphraseSource(null, Map.of("encryption_pass", PASSPHRASE)), OptionalLong::empty, 0, 0);
    }

    public String namespace() {
        return namespace;
    }

    /** The directory of this namespace's freshness anchor (unless the mount options name another). */
    public Path anchors() {
        return anchors;
    }

    /** Forgets this machine's freshness anchor, as a machine that never mounted the namespace. */
    public void forgetAnchor() {
        try (var files = Files.list(anchors)) {
            for (Path f : files.toList()) {
                Files.delete(f);
            }
        } catch (java.nio.file.NoSuchFileException e) {
            // nothing recorded yet
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public Path root() {
        return dir;
    }

    public Path path(String relative) {
        return dir.resolve(relative);
    }

    /** FUSE requests the kernel sent this mount so far, by opcode. */
    public dev.sqlitesuperfs.fuse.RequestCounts requestCounts() {
        return mount.requestCounts();
    }

    public Filesystem fs() {
        return mount.filesystem();
    }

    /** Unmounts (storing everything) and mounts the same namespace again on the same directory. */
    public void remount() {
        mount.close();
        mount();
    }

    /** Unmounts without the consistency check; for tests that inspect storage in between. */
    public void unmount() {
        if (mount != null) {
            mount.close();
            mount = null;
        }
    }

    public void mountAgain() {
        mount();
    }

    /**
     * Mounts again, taking the namespace as it is found (--accept-rollback): for tests of damage
     * that also puts inodes back, which the namespace's commit seal alone would refuse whole.
     */
    public void mountAgainAcceptingRollback() {
        mount(List.of("--accept-rollback"));
    }

    /**
     * Makes the (unmounted) namespace look as format 1 left it: no key check, no metadata
     * checksum, no authenticators. What a namespace written by the first version has.
     */
    public void downgradeToFormatOne() {
        String ns = "\"" + namespace + "\"";
        TestPostgres.execute("ALTER TABLE " + ns + ".meta DROP COLUMN key_check, DROP COLUMN meta_checksum,"
                + " DROP COLUMN commit_seal, DROP COLUMN seal_names");
        TestPostgres.execute("ALTER TABLE " + ns + ".blocks DROP COLUMN tag");
        TestPostgres.execute("DROP TABLE " + ns + ".block_groups");
        TestPostgres.execute("ALTER TABLE " + ns + ".inodes DROP COLUMN auth");
        TestPostgres.execute("ALTER TABLE " + ns + ".dirents DROP COLUMN mac");
        TestPostgres.execute("UPDATE " + ns + ".meta SET format_version = 1");
        forgetAnchor(); // an older version kept none
    }

    /**
     * Makes the (unmounted) namespace look as format 3 left it: entry MACs that are also digest
     * terms. What every namespace made before format 4 has.
     */
    public void downgradeToFormatThree() {
        try (NamespaceStore store = PgNamespaceStore.open(database, NamespaceName.parse(namespace), true);
             TestKeys keys = TestKeys.open(store, PASSPHRASE, namespace)) {
            FormatThree.downgrade(namespace, keys.sealer());
        }
        forgetAnchor(); // an older version kept none
    }

    /** {@code sqlitesuperfs upgrade} of the (unmounted) namespace; whether there was anything to do. */
    public boolean upgrade() {
        return 0 != Upgrade.authenticate(database, NamespaceName.parse(namespace),
                new PassphraseSource(null, Map.of("encryption_pass", PASSPHRASE)));
    }

    /**
     * {@code sqlitesuperfs fsck --verify} of the (unmounted) namespace: its consistency problems,
     * then every row that does not match its authenticators, and its commit number against this
     * mount's anchor.
     */
    public List<String> verify() {
        return Fsck.problems(database, NamespaceName.parse(namespace),
                new PassphraseSource(null, Map.of("encryption_pass", PASSPHRASE)),
                new dev.sqlitesuperfs.anchor.AnchorDirectory(anchors));
    }

    /** The stored namespace's consistency problems; the namespace must not be mounted. */
    public List<String> check() {
        try (NamespaceStore store = PgNamespaceStore.open(database, NamespaceName.parse(namespace), true)) {
            return store.check();
        }
    }

    @Override
    public void close() {
        // a read-only mount changed nothing, and its namespace's writer may still hold it
        boolean wasMounted = mount != null && !extraArgs.contains("--read-only");
        unmount();
        if (wasMounted) {
            assertThat(check()).as("consistency of namespace %s after unmount", namespace).isEmpty();
        }
        try {
            Files.deleteIfExists(dir);
        } catch (IOException e) {
            // A directory still busy is left for the OS's temp cleanup; the mount itself is gone.
        }
    }
}
