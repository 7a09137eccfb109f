package dev.sqlitesuperfs.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.testing.ChildJava;
import dev.sqlitesuperfs.testing.Posix;
import dev.sqlitesuperfs.testing.PosixProbe;
import dev.sqlitesuperfs.testing.Shell;
import dev.sqlitesuperfs.testing.TestMount;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Permission checks for an unprivileged user (uid/gid 65534, no supplementary groups) on a mount
 * with --allow-other: the same tree is built by root on the mount and on a local ext4 directory,
 * the same system calls are made as that user on both, and every answer must be the one written
 * here, which ext4 confirms.
 */
class PermissionTest {
    private static final int NOBODY = 65534;
    private static final int OTHER = 1000;
    private static final int SETGID_GROUP = 1234;
    private static final String EACCES = "13";
    private static final String EPERM = "1";

    @RegisterExtension
    static final TestMount mount = TestMount.perClass("--allow-other");

    /** One call and the answer expected from it; {B} stands for the tree's base directory. */
    private record Step(String call, String expected) {}

    private static final List<Step> SCRIPT = List.of(
            // owner, group and other classes: only the first class that matches counts
            new Step("read {B}/own-r", "0"),
            new Step("write {B}/own-r", EACCES),
            new Step("write {B}/own-w", "0"),
            new Step("read {B}/own-w", EACCES),
            new Step("read {B}/own-none", EACCES),
            new Step("read {B}/grp-r", "0"),
            new Step("write {B}/grp-r", EACCES),
            new Step("read {B}/grp-none", EACCES),
            new Step("read {B}/oth-r", "0"),
            new Step("write {B}/oth-r", EACCES),
            new Step("read {B}/oth-none", EACCES),
            new Step("access {B}/own-r r", "0"),
            new Step("access {B}/own-r w", EACCES),
            new Step("access {B}/own-r x", EACCES),
            new Step("access {B}/grp-r r", "0"),
            new Step("access {B}/oth-none r", EACCES),
            new Step("access {B}/oth-rw rw", "0"),
            new Step("access {B}/exec-ok rx", "0"),
            new Step("access {B}/exec-no x", EACCES),
            new Step("exec {B}/exec-ok", "0"),
            new Step("exec {B}/exec-no", EACCES),
            // directories: search (x), list (r), change (w)
            new Step("stat {B}/nosearch/f", EACCES),
            new Step("read {B}/nosearch/f", EACCES),
            new Step("opendir {B}/nosearch", "0"),
            new Step("create {B}/nosearch/new 644", EACCES),
            new Step("opendir {B}/noread", EACCES),
            new Step("read {B}/noread/f", "0"),
            new Step("create {B}/nowrite/new 644", EACCES),
            new Step("mkdir {B}/nowrite/d 755", EACCES),
            new Step("unlink {B}/nowrite/f", EACCES),
            new Step("rename {B}/nowrite/f {B}/writable/moved", EACCES),
            new Step("create {B}/writable/mine 644", "0"),
            new Step("unlink {B}/writable/f", "0"),
            new Step("mkdir {B}/writable/d 755", "0"),
            new Step("rmdir {B}/writable/d", "0"),
            // sticky directory: others' entries stay
            new Step("unlink {B}/sticky/theirs", EPERM),
            new Step("rename {B}/sticky/theirs {B}/writable/stolen", EPERM),
            new Step("create {B}/sticky/mine 644", "0"),
            new Step("unlink {B}/sticky/mine", "0"),
            new Step("unlink {B}/sticky/given", "0"),
            // ownership: only the owner changes modes, nobody gives files away
            new Step("chmod {B}/oth-r 666", EPERM),
            new Step("chown {B}/oth-r 65534 65534", EPERM),
            new Step("chmod {B}/own-r 600", "0"),
            new Step("chown {B}/own-r 1000 65534", EPERM),
            new Step("chown {B}/own-r 65534 1000", EPERM),
            new Step("chown {B}/own-r 65534 65534", "0"),
            new Step("truncate {B}/oth-r", EACCES),
            new Step("truncate {B}/oth-rw", "0"),
            new Step("touch-now {B}/oth-rw", "0"),
            new Step("touch-past {B}/oth-rw", EPERM),
            new Step("touch-now {B}/oth-r", EACCES),
            new Step("touch-past {B}/own-r", "0"),
            // writing or truncating drops set-user-ID, and set-group-ID with group execute, or
            // without it when the writer is not in the file's group
            new Step("append {B}/suid-sgid", "0"),
            new Step("stat {B}/suid-sgid", "100777 1000 1000"),
            new Step("append {B}/sgid-noexec", "0"),
            new Step("stat {B}/sgid-noexec", "100666 1000 1000"),
            new Step("truncate {B}/sgid-noexec-truncated", "0"),
            new Step("stat {B}/sgid-noexec-truncated", "100666 1000 1000"),
            new Step("truncate {B}/suid-truncated", "0"),
            new Step("stat {B}/suid-truncated", "100666 1000 1000"),
            new Step("append {B}/own-suid", "0"),
            new Step("stat {B}/own-suid", "100755 65534 65534"),
            // a setgid directory hands its group down, and its setgid bit to subdirectories
            new Step("create {B}/setgid/f 644", "0"),
            new Step("stat {B}/setgid/f", "100644 65534 1234"),
            new Step("mkdir {B}/setgid/d 755", "0"),
            new Step("stat {B}/setgid/d", "42755 65534 1234"),
            new Step("create {B}/setgid/g 2755", "0"),
            new Step("stat {B}/setgid/g", "100755 65534 1234"),
            new Step("mkdir {B}/writable/plain 755", "0"),
            new Step("stat {B}/writable/plain", "40755 65534 65534"));

    @Test
    void theMountIsCheckedByTheKernelAndOpenToOthers() {
        String options = Shell.run("sh", "-c", "grep ' " + mount.root() + " ' /proc/self/mountinfo");
        assertThat(options).contains("default_permissions").contains("allow_other");
    }

    @Test
    void anUnprivilegedUserGetsTheAnswersExt4Gives() throws IOException {
        Path local = Files.createTempDirectory(Path.of("target").toAbsolutePath(), "permissions-ext4-");
        Path onMount = mount.path("permissions");
        Files.createDirectory(onMount);
        try {
            build(local);
            build(onMount);
            List<String> expected = SCRIPT.stream().map(s -> s.call() + " -> " + s.expected()).toList();
            assertThat(runAsNobody(local)).as("ext4, the reference").containsExactlyElementsOf(expected);
            assertThat(runAsNobody(onMount)).as("the mount").containsExactlyElementsOf(expected);
        } finally {
            Shell.run("rm", "-rf", local.toString());
        }
    }

    private static List<String> runAsNobody(Path base) {
        List<String> answers = new ArrayList<>();
        try (ChildJava probe = ChildJava.start(NOBODY + ":" + NOBODY, PosixProbe.class)) {
            for (Step step : SCRIPT) {
                answers.add(step.call() + " -> " + probe.ask(step.call().replace("{B}", base.toString())));
            }
            assertThat(probe.finish()).isZero();
        }
        return answers;
    }

    /** The tree the script runs on, made by root. */
    private static void build(Path base) throws IOException {
        Posix.chmod(base, 0755);
        file(base.resolve("own-r"), NOBODY, NOBODY, 0400);
        file(base.resolve("own-w"), NOBODY, NOBODY, 0200);
        file(base.resolve("own-none"), NOBODY, OTHER, 0077);
        file(base.resolve("grp-r"), OTHER, NOBODY, 0040);
        file(base.resolve("grp-none"), OTHER, NOBODY, 0704);
        file(base.resolve("oth-r"), OTHER, OTHER, 0004);
        file(base.resolve("oth-rw"), OTHER, OTHER, 0666);
        file(base.resolve("oth-none"), OTHER, OTHER, 0770);
        file(base.resolve("suid-sgid"), OTHER, OTHER, 06777);
        file(base.resolve("suid-truncated"), OTHER, OTHER, 04666);
        file(base.resolve("sgid-noexec"), OTHER, OTHER, 02666);
        file(base.resolve("sgid-noexec-truncated"), OTHER, OTHER, 02666);
        file(base.resolve("own-suid"), NOBODY, NOBODY, 04755);
        Files.writeString(base.resolve("exec-ok"), "#!/bin/sh\nexit 0\n");
        owned(base.resolve("exec-ok"), NOBODY, NOBODY, 0500);
        Files.writeString(base.resolve("exec-no"), "#!/bin/sh\nexit 0\n");
        owned(base.resolve("exec-no"), NOBODY, NOBODY, 0644);
        directoryWithFile(base.resolve("nosearch"), 0776);
        directoryWithFile(base.resolve("noread"), 0711);
        directoryWithFile(base.resolve("nowrite"), 0755);
        directoryWithFile(base.resolve("writable"), 0777);
        Files.createDirectory(base.resolve("sticky"));
        owned(base.resolve("sticky"), OTHER, OTHER, 01777);
        file(base.resolve("sticky/theirs"), OTHER, OTHER, 0666);
        file(base.resolve("sticky/given"), NOBODY, NOBODY, 0644);
        Files.createDirectory(base.resolve("setgid"));
        owned(base.resolve("setgid"), OTHER, SETGID_GROUP, 02777);
    }

    private static void directoryWithFile(Path dir, int mode) throws IOException {
        Files.createDirectory(dir);
        file(dir.resolve("f"), OTHER, OTHER, 0666);
        owned(dir, OTHER, OTHER, mode);
    }

    private static void file(Path f, int uid, int gid, int mode) throws IOException {
        Files.writeString(f, "content\n");
        owned(f, uid, gid, mode);
    }

    private static void owned(Path p, int uid, int gid, int mode) {
        Posix.lchown(p, uid, gid);
        Posix.chmod(p, mode);
    }
}
