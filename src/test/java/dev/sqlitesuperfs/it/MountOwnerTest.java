package dev.sqlitesuperfs.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.testing.Posix;
import dev.sqlitesuperfs.testing.Shell;
import dev.sqlitesuperfs.testing.TestMount;
import org.junit.jupiter.api.Test;

/** --uid/--gid: that user owns the mount (and a new namespace's root); without --allow-other only they get in. */
class MountOwnerTest {

    @Test
    void theOwnerGetsInAndNobodyElseDoes() {
        try (TestMount mount = TestMount.fresh("--uid", "1234", "--gid", "4321", "-o", "noexec")) {
            String asOwner = Shell.run("setpriv", "--reuid=1234", "--regid=4321", "--clear-groups", "sh", "-c",
                    "echo mine > '" + mount.path("f") + "' && stat -c %u:%g '" + mount.root() + "' '" + mount.path("f") + "'");
            assertThat(asOwner.lines()).containsExactly("1234:4321", "1234:4321");
            assertThat(Shell.run("sh", "-c", "ls '" + mount.root() + "' 2>&1 || echo refused")).contains("refused");
            assertThat(Shell.run("sh", "-c", "grep ' " + mount.root() + " ' /proc/self/mountinfo")).contains("noexec");
            // the kernel shows nothing, not even statfs figures, to those it does not let in
            assertThat(Posix.statfs(mount.root()).bsize()).isZero();
        }
    }
}
