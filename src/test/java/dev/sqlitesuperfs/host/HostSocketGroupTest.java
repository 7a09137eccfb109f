package dev.sqlitesuperfs.host;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.cli.ExitCode;
import dev.sqlitesuperfs.testing.CliProcess;
import dev.sqlitesuperfs.testing.Shell;
import dev.sqlitesuperfs.testing.TestPostgres;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What a member of {@code --socket-group} who is not root may ask of a host (SECURITY.md, "The
 * host's control socket"): what an ordinary user gets from fusermount3. Mounts on directories it
 * owns, owned by itself; not on others' directories, not with {@code --mkdir}, {@code --state-dir},
 * {@code --anchor-dir}, {@code --anchor-command},
 * another {@code --uid}, or {@code --allow-other} unless /etc/fuse.conf permits it; and it unmounts
 * its own mounts only. Each refusal is one line with exit 12 and mounts nothing.
 */
class HostSocketGroupTest {
    private static final String PASS = "socket group passphrase";
    private static final Duration WAIT = Duration.ofSeconds(180);
    private static final String MEMBER = "4321:100";
    private static final String OTHER_MEMBER = "4322:100";
    private HostScratch scratch;

    @BeforeEach
    void makeDirectory() throws IOException {
        scratch = new HostScratch("sqlitesuperfs-socketgroup-");
    }

    @AfterEach
    void cleanUp() {
        scratch.cleanUp(WAIT);
    }

    @Test
    void aMemberWhoIsNotRootMountsOnlyWhatAnOrdinaryUserMayAndUnmountsOnlyItsOwn() throws Exception {
        CliProcess host = CliProcess.start(Map.of("psql_url", TestPostgres.url()), "serve", "--socket",
                scratch.socket.toString(), "--socket-group", "users");
        scratch.hosts.add(host);
        host.awaitOutput("serving on " + scratch.socket, WAIT);
        String namespace = TestPostgres.freshNamespace();

        Path roots = mountDir("roots", null);
        assertDenied(mountAs(MEMBER, namespace, roots), "is not user 4321");
        Path missing = scratch.dir.resolve("missing");
        assertDenied(mountAs(MEMBER, namespace, missing, "--mkdir"), "--mkdir");
        assertThat(missing).doesNotExist();
        Path own = mountDir("own", "4321:100");
        assertDenied(mountAs(MEMBER, namespace, own, "--state-dir", scratch.dir.resolve("state").toString()),
                "--state-dir");
        assertDenied(mountAs(MEMBER, namespace, own, "--anchor-dir", scratch.dir.resolve("a").toString()),
                "--anchor-dir");
        assertDenied(mountAs(MEMBER, namespace, own, "--anchor-command", "/bin/sh -c id"), "--anchor-command");
        assertDenied(mountAs(MEMBER, namespace, own, "--uid", "0", "--gid", "0"), "--uid/--gid");
        boolean userAllowOther = Files.exists(Path.of("/etc/fuse.conf"))
                && Files.readAllLines(Path.of("/etc/fuse.conf")).stream().map(String::strip)
                        .anyMatch("user_allow_other"::equals);
        if (!userAllowOther) {
            assertDenied(mountAs(MEMBER, namespace, own, "--allow-other"), "--allow-other");
        }
        assertThat(HostScratch.isMounted(own)).as("nothing mounted by a refused request").isFalse();

        CliProcess mounted = mountAs(MEMBER, namespace, own);
        assertThat(mounted.exitCode()).as(mounted.stderr()).isZero();
        // Without --allow-other only the mount's owner may enter it, root included.
        assertThat(Shell.run("setpriv", "--reuid=4321", "--regid=100", "--clear-groups", "--", "stat", "-c", "%u:%g",
                own.toString()).strip()).as("the mount's root is the member's").isEqualTo("4321:100");
        assertThat(new ProcessBuilder("stat", own.toString()).start().waitFor()).as("root may not enter it").isNotZero();

        CliProcess notTheirs = CliProcess.startAs(OTHER_MEMBER, Map.of(), "unmount", own.toString());
        assertThat(notTheirs.waitFor(WAIT)).as(notTheirs.stderr()).isEqualTo(ExitCode.HOST_DENIED.code());
        assertThat(notTheirs.stderr()).contains("mounted for another user");
        assertThat(HostScratch.isMounted(own)).isTrue();

        CliProcess theirs = CliProcess.startAs(MEMBER, Map.of(), "unmount", own.toString());
        assertThat(theirs.waitFor(WAIT)).as(theirs.stderr()).isZero();
        assertThat(HostScratch.isMounted(own)).isFalse();
    }

    private Path mountDir(String name, String owner) throws IOException {
        Path dir = Files.createDirectory(scratch.dir.resolve(name));
        scratch.mountDirs.add(dir);
        if (owner != null) {
            Shell.run("chown", owner, dir.toString());
        }
        return dir;
    }

    private CliProcess mountAs(String user, String namespace, Path dir, String... options) throws InterruptedException {
        List<String> args = new ArrayList<>(List.of("mount", "--host", "--socket", scratch.socket.toString(), "--kdf",
                "interactive"));
        args.addAll(List.of(options));
        args.add(namespace);
        args.add(dir.toString());
        CliProcess mount = CliProcess.startAs(user, Map.of("psql_url", TestPostgres.url(), "encryption_pass", PASS),
                args.toArray(String[]::new));
        mount.waitFor(WAIT);
        return mount;
    }

    private static void assertDenied(CliProcess mount, String why) {
        assertThat(mount.exitCode()).as(mount.stderr()).isEqualTo(ExitCode.HOST_DENIED.code());
        assertThat(mount.stderr().strip()).doesNotContain("\n").contains(why);
    }
}
