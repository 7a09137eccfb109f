package dev.sqlitesuperfs.fuse;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Mounting, serving, unmounting and closing, each way they can happen, against the real kernel. */
@Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class FuseSessionLifecycleTest {
    @TempDir
    Path tmp;

    private Path mnt;

    @BeforeEach
    void createMountPoint() throws IOException {
        mnt = Files.createDirectory(tmp.resolve("mnt"));
    }

    @AfterEach
    void cleanUp() throws Exception {
        TestMounts.forceUnmount(mnt);
    }

    private static MountMethod method(boolean viaFusermount) {
        return viaFusermount ? MountMethod.fusermount(MountMethod.FUSERMOUNT3) : MountMethod.SYSCALLS;
    }

    private static void assertNoRequestThreads() {
        assertThat(Thread.getAllStackTraces().keySet())
                .noneMatch(t -> t.getName().startsWith("fuse-" + TestMounts.FS_NAME));
    }

    @ParameterizedTest(name = "via fusermount3: {0}")
    @ValueSource(booleans = {false, true})
    void mountServeAndClose(boolean viaFusermount) throws Exception {
        MemoryFilesystem fs = new MemoryFilesystem();
        FuseSession session = FuseSession.mount(TestMounts.options(mnt), fs, method(viaFusermount));
        try {
            assertThat(TestMounts.isMounted(mnt)).isTrue();
            session.start();
            Files.writeString(mnt.resolve("f.txt"), "through " + (viaFusermount ? "fusermount3" : "mount(2)"));
            TestMounts.Result cat = TestMounts.run("cat", mnt.resolve("f.txt").toString());
            assertThat(cat.output()).startsWith("through ");
            assertThat(MountTable.read()).anySatisfy(m -> {
                assertThat(m.mountPoint()).isEqualTo(session.mountPoint());
                assertThat(m.fsType()).isEqualTo("fuse." + TestMounts.SUBTYPE);
                assertThat(m.source()).isEqualTo(TestMounts.FS_NAME);
            });
        } finally {
            session.close();
        }
        assertThat(session.awaitTermination(Duration.ofSeconds(30))).isTrue();
        assertThat(TestMounts.isMounted(mnt)).isFalse();
        assertThat(fs.destroyCalls.get()).isEqualTo(1);
        assertNoRequestThreads();

        session.close();
        assertThat(fs.destroyCalls.get()).as("close is idempotent").isEqualTo(1);
    }

    @ParameterizedTest(name = "via fusermount3: {0}")
    @ValueSource(booleans = {false, true})
    void umountFromOutsideEndsTheSession(boolean viaFusermount) throws Exception {
        MemoryFilesystem fs = new MemoryFilesystem();
        try (FuseSession session = FuseSession.mount(TestMounts.options(mnt), fs, method(viaFusermount))) {
            session.start();
            Files.writeString(mnt.resolve("f.txt"), "x");

            TestMounts.Result umount = TestMounts.run("umount", mnt.toString());
            assertThat(umount.exitCode()).as(umount.output()).isZero();

            assertThat(session.awaitTermination(Duration.ofSeconds(30))).isTrue();
            assertNoRequestThreads();
            assertThat(fs.destroyCalls.get()).as("destroy belongs to close()").isZero();
        }
        assertThat(fs.destroyCalls.get()).isEqualTo(1);
    }

    @ParameterizedTest(name = "via fusermount3: {0}")
    @ValueSource(booleans = {false, true})
    void closeDetachesABusyMountAndCutsOffItsUsers(boolean viaFusermount) throws Exception {
        MemoryFilesystem fs = new MemoryFilesystem();
        FuseSession session = FuseSession.mount(TestMounts.options(mnt), fs, method(viaFusermount));
        session.start();
        Files.writeString(mnt.resolve("held.txt"), "held open");
        FileChannel held = FileChannel.open(mnt.resolve("held.txt"), StandardOpenOption.READ);
        session.close();

        assertThat(session.awaitTermination(Duration.ofSeconds(1))).isTrue();
        assertThat(TestMounts.isMounted(mnt)).isFalse();
        assertNoRequestThreads();
        assertThat(fs.destroyCalls.get()).isEqualTo(1);
        // fsync always goes to the filesystem, where a read could be answered from the page cache.
        assertThatThrownBy(() -> held.force(true))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("Transport endpoint is not connected");
        // close(2) sends FLUSH, which fails the same way; the descriptor is closed regardless.
        assertThatThrownBy(held::close)
                .isInstanceOf(IOException.class)
                .hasMessageContaining("Transport endpoint is not connected");
        assertThat(held.isOpen()).isFalse();
    }

    @Test
    void unmountOfABusyMountDetachesItAndServesItsUsersUntilTheyLeave() throws Exception {
        MemoryFilesystem fs = new MemoryFilesystem();
        try (FuseSession session = FuseSession.mount(TestMounts.options(mnt), fs)) {
            session.start();
            Files.writeString(mnt.resolve("held.txt"), "still readable");
            FileChannel held = FileChannel.open(mnt.resolve("held.txt"), StandardOpenOption.READ);
            try {
                session.unmount();
                assertThat(TestMounts.isMounted(mnt)).isFalse();
                assertThat(session.awaitTermination(Duration.ofMillis(200))).isFalse();

                ByteBuffer buffer = ByteBuffer.allocate(100);
                held.read(buffer, 6);
                held.force(true);
                assertThat(new String(buffer.array(), 0, buffer.position(), StandardCharsets.UTF_8))
                        .isEqualTo("readable");
            } finally {
                held.close();
            }
            assertThat(session.awaitTermination(Duration.ofSeconds(30))).isTrue();
            assertNoRequestThreads();
        }
        assertThat(fs.destroyCalls.get()).isEqualTo(1);
    }

    @Test
    void closeWithoutStartUnmountsAndDestroys() throws Exception {
        MemoryFilesystem fs = new MemoryFilesystem();
        FuseSession session = FuseSession.mount(TestMounts.options(mnt), fs);
        assertThat(TestMounts.isMounted(mnt)).isTrue();
        session.close();

        assertThat(TestMounts.isMounted(mnt)).isFalse();
        assertThat(fs.initCalls.get()).isZero();
        assertThat(fs.destroyCalls.get()).isEqualTo(1);
        assertThatThrownBy(session::start).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void startTwiceIsRefused() throws Exception {
        try (FuseSession session = FuseSession.mount(TestMounts.options(mnt), new MemoryFilesystem())) {
            session.start();
            assertThatThrownBy(session::start).isInstanceOf(IllegalStateException.class);
        }
    }

    @Test
    void aFailingInitPropagatesAndTheSessionStillCloses() throws Exception {
        MemoryFilesystem fs = new MemoryFilesystem() {
            @Override
            public void init(KernelConnection kernel, KernelChannel channel) {
                throw new IllegalStateException("cannot start");
            }
        };
        FuseSession session = FuseSession.mount(TestMounts.options(mnt), fs);
        try {
            assertThatThrownBy(session::start).hasMessage("cannot start");
            assertThat(session.awaitTermination(Duration.ZERO)).isTrue();
        } finally {
            session.close();
        }
        assertThat(TestMounts.isMounted(mnt)).isFalse();
        assertThat(fs.destroyCalls.get()).isEqualTo(1);
    }

    @Test
    void syncKernelCachesRefusesAGoneMount() throws Exception {
        try (FuseSession session = FuseSession.mount(TestMounts.options(mnt), new MemoryFilesystem())) {
            session.start();
            session.syncKernelCaches();
            session.unmount();
            assertThatThrownBy(session::syncKernelCaches).isInstanceOf(IllegalStateException.class);
        }
    }

    @Test
    void aMissingMountPointIsAMountException() {
        Path missing = tmp.resolve("missing");
        assertThatThrownBy(() -> FuseSession.mount(TestMounts.options(missing), new MemoryFilesystem()))
                .isInstanceOf(MountException.class)
                .hasMessage("cannot mount " + missing + ": the mount point does not exist");
    }

    @Test
    void aFileAsMountPointIsAMountException() throws IOException {
        Path file = Files.createFile(tmp.resolve("file"));
        assertThatThrownBy(() -> FuseSession.mount(TestMounts.options(file), new MemoryFilesystem()))
                .isInstanceOf(MountException.class)
                .hasMessage("cannot mount " + file + ": the mount point is not a directory");
    }

    @Test
    void aDeadMountAsMountPointIsAMountExceptionSayingSo() throws Exception {
        // A server that mounted and died without unmounting: its /dev/fuse descriptor closed with
        // the process, so the kernel connection is aborted and the mount answers ENOTCONN.
        TestMounts.Result dead = TestMounts.run("python3", "-c", """
                import ctypes, os, sys
                fd = os.open('/dev/fuse', os.O_RDWR)
                libc = ctypes.CDLL(None, use_errno=True)
                data = 'fd=%d,rootmode=40000,user_id=0,group_id=0' % fd
                if libc.mount(b'dead', sys.argv[1].encode(), b'fuse.memtest', 6, data.encode()) != 0:
                    sys.exit(os.strerror(ctypes.get_errno()))
                """, mnt.toString());
        assertThat(dead.exitCode()).as(dead.output()).isZero();
        assertThat(TestMounts.isMounted(mnt)).isTrue();

        assertThatThrownBy(() -> FuseSession.mount(TestMounts.options(mnt), new MemoryFilesystem()))
                .isInstanceOf(MountException.class)
                .hasMessage("cannot mount " + mnt + ": " + mnt + ": Transport endpoint is not connected");
    }

    @Test
    void aMissingFuseDeviceIsAMountException() {
        Path device = tmp.resolve("no-fuse-device");
        assertThatThrownBy(() -> FuseSession.mount(TestMounts.options(mnt), new MemoryFilesystem(),
                MountMethod.syscalls(device.toString())))
                .isInstanceOf(MountException.class)
                .hasMessage("cannot mount " + mnt + ": " + device + " is missing (is the fuse kernel module loaded?)");
        assertThat(TestMounts.isMounted(mnt)).isFalse();
    }

    @Test
    void aMissingFusermountIsAMountException() {
        assertThatThrownBy(() -> FuseSession.mount(TestMounts.options(mnt), new MemoryFilesystem(),
                MountMethod.fusermount("fusermount3-not-installed")))
                .isInstanceOf(MountException.class)
                .hasMessage("cannot mount " + mnt + ": fusermount3-not-installed not found on PATH");
        assertThat(TestMounts.isMounted(mnt)).isFalse();
    }

    @Test
    void fusermountComplaintsBecomeTheMessage() {
        MountOptions bad = withExtraOption("no_such_option=1");
        assertThatThrownBy(() -> FuseSession.mount(bad, new MemoryFilesystem(),
                MountMethod.fusermount(MountMethod.FUSERMOUNT3)))
                .isInstanceOf(MountException.class)
                .hasMessageStartingWith("cannot mount ")
                .hasMessageContaining("fusermount3 failed: fusermount3: ");
        assertThat(TestMounts.isMounted(mnt)).isFalse();
    }

    @Test
    void mountSyscallErrorsNameTheCallAndTheErrno() {
        MountOptions bad = withExtraOption("no_such_option=1");
        assertThatThrownBy(() -> FuseSession.mount(bad, new MemoryFilesystem(), MountMethod.SYSCALLS))
                .isInstanceOf(MountException.class)
                .hasMessageMatching("mount\\(.*/mnt\\): Invalid argument \\(errno 22\\)");
        assertThat(TestMounts.isMounted(mnt)).isFalse();
    }

    @Test
    void fusermountCannotMountForAnotherOwner() {
        MountOptions other = new MountOptions(mnt, TestMounts.FS_NAME, TestMounts.SUBTYPE, 1234, 1234, false,
                true, false, List.of(), 1 << 20, 2, true);
        assertThatThrownBy(() -> FuseSession.mount(other, new MemoryFilesystem(),
                MountMethod.fusermount(MountMethod.FUSERMOUNT3)))
                .isInstanceOf(MountException.class)
                .hasMessageContaining("not uid 1234");
    }

    private MountOptions withExtraOption(String option) {
        MountOptions base = TestMounts.options(mnt);
        return new MountOptions(base.mountPoint(), base.fsName(), base.subtype(), base.ownerUid(), base.ownerGid(),
                base.allowOther(), base.defaultPermissions(), base.readOnly(), List.of(option), base.maxWrite(),
                base.threads(), base.writebackCache());
    }
}
