package dev.sqlitesuperfs.sys;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LibcTest {
    private static final int ENOENT = 2;
    private static final int EBADF = 9;
    private static final int EINVAL = 22;

    @TempDir
    Path dir;

    @Test
    void failedCallCarriesErrnoAndNamesTheCall() {
        Path missing = dir.resolve("missing");
        assertThatThrownBy(() -> Libc.open(missing.toString(), Libc.O_RDONLY))
                .isInstanceOfSatisfying(SysException.class, e -> {
                    assertThat(e.errno()).isEqualTo(ENOENT);
                    assertThat(e.call()).isEqualTo("open(" + missing + ")");
                    assertThat(e).hasMessage("open(" + missing + "): No such file or directory (errno 2)");
                });
    }

    @Test
    void readsAndWritesThroughDescriptors() throws IOException {
        Path file = dir.resolve("data");
        Files.writeString(file, "hello descriptors");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(64);
            int fd = Libc.open(file.toString(), Libc.O_RDWR | Libc.O_CLOEXEC);
            try {
                long n = Libc.read(fd, buffer, buffer.byteSize());
                assertThat(new String(buffer.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8))
                        .isEqualTo("hello descriptors");
                MemorySegment more = arena.allocateFrom("!", StandardCharsets.UTF_8);
                assertThat(Libc.write(fd, more, 1)).isEqualTo(1);
            } finally {
                Libc.close(fd);
            }
        }
        assertThat(Files.readString(file)).isEqualTo("hello descriptors!");
    }

    @Test
    void closingAnUnknownDescriptorFailsWithEbadf() {
        assertThatThrownBy(() -> Libc.close(987_654))
                .isInstanceOfSatisfying(SysException.class, e -> assertThat(e.errno()).isEqualTo(EBADF));
    }

    @Test
    void readRefusesACountLargerThanTheBuffer() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(8);
            assertThatThrownBy(() -> Libc.read(0, buffer, 9)).isInstanceOf(IndexOutOfBoundsException.class);
        }
    }

    @Test
    void umountOfAPlainDirectoryIsEinval() {
        assertThatThrownBy(() -> Libc.umount2(dir, 0))
                .isInstanceOfSatisfying(SysException.class, e -> {
                    assertThat(e.errno()).isEqualTo(EINVAL);
                    assertThat(e.getMessage()).startsWith("umount2(" + dir + "): Invalid argument");
                });
    }

    @Test
    void mountOfAnUnknownFilesystemTypeFails() {
        assertThatThrownBy(() -> Libc.mount("none", dir, "no-such-fs-type", Libc.MS_NOSUID, ""))
                .isInstanceOfSatisfying(SysException.class, e -> assertThat(e.errno()).isEqualTo(19));
    }

    @Test
    void syncfsWorksOnADirectoryAndFailsOnABadDescriptor() throws IOException {
        int fd = Libc.open(dir.toString(), Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC);
        try {
            Libc.syncfs(fd);
        } finally {
            Libc.close(fd);
        }
        assertThatThrownBy(() -> Libc.syncfs(987_654))
                .isInstanceOfSatisfying(SysException.class, e -> assertThat(e.errno()).isEqualTo(EBADF));
    }

    @Test
    void identityMatchesTheIdCommand() throws Exception {
        assertThat(Libc.getuid()).isEqualTo(Integer.parseInt(run("id", "-ru")));
        assertThat(Libc.geteuid()).isEqualTo(Integer.parseInt(run("id", "-u")));
        assertThat(Libc.getgid()).isEqualTo(Integer.parseInt(run("id", "-rg")));
        assertThat(Libc.getegid()).isEqualTo(Integer.parseInt(run("id", "-g")));
    }

    @Test
    void spawnedChildInheritsTheListedDescriptorAndReportsItsExitCode() throws Exception {
        int[] pair = Libc.socketpair(Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, 0);
        try {
            Path stderr = dir.resolve("stderr");
            int pid = Libc.spawn(
                    List.of("bash", "-c", "printf inherited >&" + pair[1] + "; echo complaint >&2; exit 7"),
                    Map.of("PATH", System.getenv("PATH")), new int[] {pair[1]}, stderr);
            int status = Libc.waitpid(pid);
            assertThat(Libc.exitCode(status)).isEqualTo(7);
            assertThat(Files.readString(stderr)).isEqualTo("complaint\n");
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment buffer = arena.allocate(64);
                long n = Libc.read(pair[0], buffer, buffer.byteSize());
                assertThat(new String(buffer.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8))
                        .isEqualTo("inherited");
            }
        } finally {
            Libc.close(pair[0]);
            Libc.close(pair[1]);
        }
    }

    @Test
    void closeOnExecDescriptorsNotListedStayClosedInTheChild() throws Exception {
        int[] pair = Libc.socketpair(Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, 0);
        try {
            int pid = Libc.spawn(List.of("sh", "-c", "test -e /proc/self/fd/" + pair[1]),
                    Map.of("PATH", System.getenv("PATH")), new int[0], null);
            assertThat(Libc.exitCode(Libc.waitpid(pid))).isEqualTo(1);
        } finally {
            Libc.close(pair[0]);
            Libc.close(pair[1]);
        }
    }

    @Test
    void spawningAMissingProgramFailsWithEnoent() {
        assertThatThrownBy(() -> Libc.spawn(List.of("no-such-program-sqlitesuperfs"),
                Map.of("PATH", System.getenv("PATH")), new int[0], null))
                .isInstanceOfSatisfying(SysException.class, e -> {
                    assertThat(e.errno()).isEqualTo(ENOENT);
                    assertThat(e.call()).isEqualTo("posix_spawnp(no-such-program-sqlitesuperfs)");
                });
    }

    @Test
    void receiveFdReportsAPeerThatClosedWithoutSending() throws Exception {
        int[] pair = Libc.socketpair(Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, 0);
        Libc.close(pair[1]);
        try {
            assertThat(Libc.receiveFd(pair[0])).isEqualTo(-1);
        } finally {
            Libc.close(pair[0]);
        }
    }

    @Test
    void receiveFdTakesADescriptorSentByAnotherProcess() throws Exception {
        int[] pair = Libc.socketpair(Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, 0);
        Path secret = dir.resolve("passed");
        Files.writeString(secret, "passed along");
        try {
            // Python's socket.send_fds does sendmsg with SCM_RIGHTS, as fusermount3 does.
            int pid = Libc.spawn(List.of("python3", "-c",
                    "import os, socket, sys\n"
                            + "s = socket.socket(fileno=" + pair[1] + ")\n"
                            + "fd = os.open(sys.argv[1], os.O_RDONLY)\n"
                            + "socket.send_fds(s, [b'x'], [fd])\n",
                    secret.toString()), System.getenv(), new int[] {pair[1]}, null);
            int fd = Libc.receiveFd(pair[0]);
            assertThat(Libc.exitCode(Libc.waitpid(pid))).isZero();
            assertThat(fd).isGreaterThan(2);
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment buffer = arena.allocate(64);
                long n = Libc.read(fd, buffer, buffer.byteSize());
                assertThat(new String(buffer.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8))
                        .isEqualTo("passed along");
            } finally {
                Libc.close(fd);
            }
        } finally {
            Libc.close(pair[0]);
            Libc.close(pair[1]);
        }
    }

    @Test
    void coreDumpLimitCanBeLoweredAndRestored() throws Exception {
        Libc.ResourceLimit before = Libc.getrlimit(Libc.RLIMIT_CORE);
        try {
            Libc.setrlimit(Libc.RLIMIT_CORE, new Libc.ResourceLimit(0, before.hard()));
            assertThat(Libc.getrlimit(Libc.RLIMIT_CORE).soft()).isZero();
            assertThat(Files.readAllLines(Path.of("/proc/self/limits")))
                    .anySatisfy(line -> assertThat(line).matches("Max core file size\\s+0\\s.*"));
        } finally {
            Libc.setrlimit(Libc.RLIMIT_CORE, before);
        }
        assertThat(Libc.getrlimit(Libc.RLIMIT_CORE)).isEqualTo(before);
    }

    @Test
    void dumpableFlagCanBeClearedAndRestored() throws Exception {
        int before = Libc.prctl(Libc.PR_GET_DUMPABLE, 0);
        try {
            Libc.prctl(Libc.PR_SET_DUMPABLE, 0);
            assertThat(Libc.prctl(Libc.PR_GET_DUMPABLE, 0)).isZero();
        } finally {
            Libc.prctl(Libc.PR_SET_DUMPABLE, before);
        }
        assertThat(Libc.prctl(Libc.PR_GET_DUMPABLE, 0)).isEqualTo(before);
    }

    @Test
    void prctlRejectsAnUnknownOption() {
        assertThatThrownBy(() -> Libc.prctl(-1, 0))
                .isInstanceOfSatisfying(SysException.class, e -> assertThat(e.errno()).isEqualTo(EINVAL));
    }

    @Test
    void strerrorDescribesErrnos() {
        assertThat(Libc.strerror(1)).isEqualTo("Operation not permitted");
        assertThat(Libc.strerror(13)).isEqualTo("Permission denied");
    }

    @Test
    void exitCodeDecodesNormalExitsAndSignals() {
        assertThat(Libc.exitCode(3 << 8)).isEqualTo(3);
        assertThat(Libc.exitCode(9)).isEqualTo(137);
    }

    private static String run(String... command) throws Exception {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assertThat(process.waitFor()).isZero();
        return out;
    }
}
