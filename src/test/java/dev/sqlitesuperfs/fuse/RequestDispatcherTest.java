package dev.sqlitesuperfs.fuse;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Requests built byte for byte as the kernel sends them, run through the dispatcher against a
 * recording filesystem: the arguments it decoded and the reply bytes it encoded.
 */
class RequestDispatcherTest {
    private static final int MAX_WRITE = 1 << 20;
    private static final Caller CALLER = new Caller(KernelRequest.UID, KernelRequest.GID, KernelRequest.PID);

    private static final long FUSE_POSIX_LOCKS = 1L << 1;
    private static final long FUSE_EXPORT_SUPPORT = 1L << 4;
    private static final long FUSE_DONT_MASK = 1L << 6;
    private static final long FUSE_FLOCK_LOCKS = 1L << 10;
    private static final long FUSE_HANDLE_KILLPRIV = 1L << 19;
    private static final long FUSE_SETXATTR_EXT = 1L << 29;
    private static final long FUSE_INIT_EXT = 1L << 30;
    private static final long FUSE_SECURITY_CTX = 1L << 32;

    private final Arena arena = Arena.ofConfined();
    private final MemorySegment reply = arena.allocate(RequestWorker.replyBufferSize(MAX_WRITE), 8);
    private final DirentWriter dirents = new DirentWriter();
    private RecordingFilesystem fs = new RecordingFilesystem();
    private RequestDispatcher dispatcher;
    private MemorySegment lastRequest;
    private FuseRequest lastDecoded;

    @BeforeEach
    void initialise() {
        dispatcher = new RequestDispatcher(fs, options(true));
        KernelReply init = send(init(7, 38, 128 * 1024, 0xffff_ffffL, 0));
        assertThat(init.error()).isZero();
    }

    @AfterEach
    void release() {
        arena.close();
    }

    static MountOptions options(boolean writebackCache) {
        return new MountOptions(Path.of("/mnt/test"), "test", "test", 0, 0, false, true, false, List.of(),
                MAX_WRITE, 2, writebackCache);
    }

    private static KernelRequest init(int major, int minor, int maxReadahead, long flags, int flags2) {
        KernelRequest request = KernelRequest.of(Opcode.INIT, 0).unique(1)
                .u32(major).u32(minor).u32(maxReadahead).u32((int) flags).u32(flags2);
        for (int i = 0; i < 11; i++) {
            request.u32(0);
        }
        return request;
    }

    private KernelReply send(KernelRequest request) {
        lastRequest = request.build(arena);
        FuseRequest decoded = new FuseRequest().wrap(lastRequest, (int) lastRequest.byteSize());
        lastDecoded = decoded;
        int length = dispatcher.dispatch(decoded, reply, dirents);
        if (length == 0) {
            return null;
        }
        KernelReply parsed = KernelReply.parse(reply, length);
        assertThat(parsed.length()).isEqualTo(length);
        assertThat(parsed.unique()).isEqualTo(request.unique());
        return parsed;
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** fuse_attr at {@code at}, field by field at the offsets of linux/fuse.h. */
    private static void assertAttr(KernelReply r, int at, FileAttr a) {
        assertThat(r.u64(at)).isEqualTo(a.ino());
        assertThat(r.u64(at + 8)).isEqualTo(a.size());
        assertThat(r.u64(at + 16)).isEqualTo(a.blocks());
        assertThat(r.u64(at + 24)).isEqualTo(Math.floorDiv(a.atimeNs(), 1_000_000_000L));
        assertThat(r.u64(at + 32)).isEqualTo(Math.floorDiv(a.mtimeNs(), 1_000_000_000L));
        assertThat(r.u64(at + 40)).isEqualTo(Math.floorDiv(a.ctimeNs(), 1_000_000_000L));
        assertThat(r.u32(at + 48)).isEqualTo((int) Math.floorMod(a.atimeNs(), 1_000_000_000L));
        assertThat(r.u32(at + 52)).isEqualTo((int) Math.floorMod(a.mtimeNs(), 1_000_000_000L));
        assertThat(r.u32(at + 56)).isEqualTo((int) Math.floorMod(a.ctimeNs(), 1_000_000_000L));
        assertThat(r.u32(at + 60)).isEqualTo(a.mode());
        assertThat(r.u32(at + 64)).isEqualTo(a.nlink());
        assertThat(r.u32(at + 68)).isEqualTo(a.uid());
        assertThat(r.u32(at + 72)).isEqualTo(a.gid());
        assertThat(r.u32(at + 76)).isEqualTo(a.rdev());
        assertThat(r.u32(at + 80)).isEqualTo(a.blksize());
        assertThat(r.u32(at + 84)).isZero();
    }

    /** fuse_entry_out at {@code at}. */
    private static void assertEntry(KernelReply r, int at, Entry e) {
        assertThat(r.u64(at)).isEqualTo(e.nodeId());
        assertThat(r.u64(at + 8)).isEqualTo(e.generation());
        assertThat(r.u64(at + 16)).isEqualTo(e.entryTtlNs() / 1_000_000_000L);
        assertThat(r.u64(at + 24)).isEqualTo(e.attrTtlNs() / 1_000_000_000L);
        assertThat(r.u32(at + 32)).isEqualTo((int) (e.entryTtlNs() % 1_000_000_000L));
        assertThat(r.u32(at + 36)).isEqualTo((int) (e.attrTtlNs() % 1_000_000_000L));
        if (e.attr() != null) {
            assertAttr(r, at + 40, e.attr());
        }
    }

    @Nested
    class Init {
        @Test
        void asksForExactlyTheWantedFlagsWhenTheKernelOffersEverything() {
            dispatcher = new RequestDispatcher(fs, options(true));
            KernelReply r = send(init(7, 45, 8 << 20, 0xffff_ffffL, 0xffff_ffff));

            assertThat(r.error()).isZero();
            assertThat(r.bodyLength()).isEqualTo(64);
            assertThat(r.u32(0)).isEqualTo(7);
            assertThat(r.u32(4)).isEqualTo(38);
            assertThat(r.u32(8)).as("max_readahead capped at 1 MiB").isEqualTo(1 << 20);
            long flags = Integer.toUnsignedLong(r.u32(12)) | (Integer.toUnsignedLong(r.u32(32)) << 32);
            assertThat(flags).isEqualTo(KernelConnection.ASYNC_READ | KernelConnection.ATOMIC_O_TRUNC
                    | KernelConnection.BIG_WRITES | KernelConnection.DO_READDIRPLUS
                    | KernelConnection.READDIRPLUS_AUTO | KernelConnection.WRITEBACK_CACHE
                    | KernelConnection.PARALLEL_DIROPS | KernelConnection.MAX_PAGES
                    | KernelConnection.CACHE_SYMLINKS | KernelConnection.HANDLE_KILLPRIV_V2);
            assertThat(flags & (FUSE_POSIX_LOCKS | FUSE_FLOCK_LOCKS | FUSE_EXPORT_SUPPORT | FUSE_DONT_MASK
                    | FUSE_HANDLE_KILLPRIV | FUSE_SETXATTR_EXT | FUSE_SECURITY_CTX))
                    .isZero();
            assertThat(r.u16(16)).as("max_background").isEqualTo(64);
            assertThat(r.u16(18)).as("congestion_threshold").isEqualTo(48);
            assertThat(r.u32(20)).as("max_write").isEqualTo(MAX_WRITE);
            assertThat(r.u32(24)).as("time_gran").isEqualTo(1);
            assertThat(r.u16(28)).as("max_pages").isEqualTo(256);
            assertThat(r.u16(30)).as("map_alignment").isZero();
            assertThat(r.bytes(36, 28)).containsOnly(0);

            assertThat(dispatcher.connection()).isEqualTo(
                    new KernelConnection(7, 38, flags, MAX_WRITE, 1 << 20));
        }

        @Test
        void asksOnlyForWhatTheKernelOffersAndKeepsItsSmallerVersionAndReadahead() {
            dispatcher = new RequestDispatcher(fs, options(true));
            long offered = KernelConnection.ASYNC_READ | KernelConnection.BIG_WRITES | FUSE_POSIX_LOCKS;
            KernelReply r = send(init(7, 31, 64 * 1024, offered, 0));

            assertThat(r.u32(4)).isEqualTo(31);
            assertThat(r.u32(8)).isEqualTo(64 * 1024);
            assertThat(Integer.toUnsignedLong(r.u32(12)))
                    .isEqualTo(KernelConnection.ASYNC_READ | KernelConnection.BIG_WRITES);
            assertThat(r.u16(28)).as("max_pages only with MAX_PAGES").isZero();
        }

        @Test
        void leavesTheWritebackCacheOffWhenNotWanted() {
            dispatcher = new RequestDispatcher(fs, options(false));
            KernelReply r = send(init(7, 38, 0, 0xffff_ffffL, 0));

            assertThat(r.u32(12) & KernelConnection.WRITEBACK_CACHE).isZero();
            assertThat(dispatcher.connection().has(KernelConnection.WRITEBACK_CACHE)).isFalse();
        }

        @Test
        void doesNotAskForReaddirplusWhenTheFilesystemCannotAnswerIt() {
            FuseFilesystem plain = new MemoryFilesystemWithoutReaddirplus();
            dispatcher = new RequestDispatcher(plain, options(true));
            KernelReply r = send(init(7, 38, 0, 0xffff_ffffL, 0));

            assertThat(r.u32(12) & (KernelConnection.DO_READDIRPLUS | KernelConnection.READDIRPLUS_AUTO)).isZero();
        }

        @Test
        void refusesAKernelOlderThanTheOldestSupportedMinor() {
            dispatcher = new RequestDispatcher(fs, options(true));
            KernelReply r = send(init(7, 11, 0, 0xffff, 0));

            assertThat(r.error()).isEqualTo(-71);
            assertThat(dispatcher.connection()).isNull();
            assertThat(dispatcher.initFailure()).contains("7.11").contains("7.12");
        }

        @Test
        void answersANewerMajorWithItsOwnVersionOnlyAndWaitsForTheNextInit() {
            dispatcher = new RequestDispatcher(fs, options(true));
            KernelReply r = send(init(8, 1, 0, 0xffff, 0));

            assertThat(r.error()).isZero();
            assertThat(r.u32(0)).isEqualTo(7);
            assertThat(r.u32(4)).isEqualTo(38);
            assertThat(r.u32(12)).isZero();
            assertThat(dispatcher.connection()).isNull();

            assertThat(send(init(7, 38, 0, 0xffff, 0)).error()).isZero();
            assertThat(dispatcher.connection()).isNotNull();
        }

        @Test
        void refusesRequestsBeforeInit() {
            dispatcher = new RequestDispatcher(fs, options(true));
            KernelReply r = send(KernelRequest.of(Opcode.GETATTR, 1).u32(0).u32(0).u64(0));

            assertThat(r.error()).isEqualTo(-Errno.EIO);
            assertThat(fs.calls).isEmpty();
        }

        @Test
        void refusesASecondInit() {
            assertThat(send(init(7, 38, 0, 0xffff, 0)).error()).isEqualTo(-Errno.EIO);
        }
    }

    @Test
    void lookupPassesTheRawNameAndEncodesTheEntry() {
        byte[] name = {'c', 'a', 'f', (byte) 0xe9, (byte) 0xff};
        KernelReply r = send(KernelRequest.of(Opcode.LOOKUP, 5).name(name));

        assertThat(fs.last().method()).isEqualTo("lookup");
        assertThat(fs.last().arg(0)).isEqualTo(CALLER);
        assertThat(fs.last().arg(1)).isEqualTo(5L);
        assertThat((byte[]) fs.last().arg(2)).isEqualTo(name);
        assertThat(r.error()).isZero();
        assertThat(r.bodyLength()).isEqualTo(128);
        assertEntry(r, 0, fs.entry);
        assertThat(r.u64(16)).isEqualTo(1);
        assertThat(r.u32(32)).isEqualTo(500_000_000);
        assertThat(r.u64(24)).isEqualTo(2);
        assertThat(r.u32(36)).isEqualTo(1);
    }

    @Test
    void preEpochTimesAreSplitWithFloorDivision() {
        KernelReply r = send(KernelRequest.of(Opcode.LOOKUP, 1).name("x"));

        // mtime -1 ns is 1969-12-31T23:59:59.999999999: seconds -1, nanoseconds 999999999.
        assertThat(r.u64(40 + 32)).isEqualTo(-1L);
        assertThat(r.u32(40 + 52)).isEqualTo(999_999_999);
        // ctime -1.5 s: seconds -2, nanoseconds 500000000.
        assertThat(r.u64(40 + 40)).isEqualTo(-2L);
        assertThat(r.u32(40 + 56)).isEqualTo(500_000_000);
    }

    @Test
    void negativeLookupIsACacheableEntryWithNodeIdZero() {
        fs.entry = Entry.negative(2_250_000_000L);
        KernelReply r = send(KernelRequest.of(Opcode.LOOKUP, 1).name("missing"));

        assertThat(r.error()).isZero();
        assertThat(r.u64(0)).isZero();
        assertThat(r.u64(16)).isEqualTo(2);
        assertThat(r.u32(32)).isEqualTo(250_000_000);
        assertThat(r.bytes(40, 88)).containsOnly(0);
    }

    @Test
    void negativeTtlsAreSentAsZero() {
        fs.entry = new Entry(42, 0, RecordingFilesystem.FILE_ATTR, -5, -1_000_000_000L);
        KernelReply r = send(KernelRequest.of(Opcode.LOOKUP, 1).name("x"));

        assertThat(r.u64(16)).isZero();
        assertThat(r.u64(24)).isZero();
        assertThat(r.u32(32)).isZero();
        assertThat(r.u32(36)).isZero();
    }

    @Test
    void forgetReachesTheFilesystemWithoutAReply() {
        assertThat(send(KernelRequest.of(Opcode.FORGET, 99).u64(12))).isNull();
        assertThat(fs.last()).isEqualTo(new RecordingFilesystem.Call("forget", List.of(99L, 12L)));
    }

    @Test
    void batchForgetForgetsEveryNodeWithoutAReply() {
        KernelReply r = send(KernelRequest.of(Opcode.BATCH_FORGET, 0).u32(3).u32(0)
                .u64(10).u64(1).u64(11).u64(2).u64(12).u64(3));

        assertThat(r).isNull();
        assertThat(fs.calls).extracting(RecordingFilesystem.Call::args)
                .containsExactly(List.of(10L, 1L), List.of(11L, 2L), List.of(12L, 3L));
    }

    @Test
    void batchForgetKeepsGoingPastAFailingNode() {
        fs.failure = new IllegalStateException("boom");
        assertThat(send(KernelRequest.of(Opcode.BATCH_FORGET, 0).u32(2).u32(0).u64(10).u64(1).u64(11).u64(2)))
                .isNull();
        assertThat(fs.calls).hasSize(2);
    }

    @Test
    void getattrPassesTheHandleOnlyWhenFlagged() {
        KernelReply r = send(KernelRequest.of(Opcode.GETATTR, 42).u32(1).u32(0).u64(0xabcL));
        assertThat(fs.last().args()).containsExactly(CALLER, 42L, 0xabcL);
        assertThat(r.bodyLength()).isEqualTo(104);
        assertThat(r.u64(0)).isEqualTo(3);
        assertThat(r.u32(8)).isEqualTo(250_000_000);
        assertThat(r.u32(12)).isZero();
        assertAttr(r, 16, fs.attr.attr());

        send(KernelRequest.of(Opcode.GETATTR, 42).u32(0).u32(0).u64(0xabcL));
        assertThat(fs.last().args()).containsExactly(CALLER, 42L, -1L);
    }

    @Test
    void setattrDecodesEveryField() {
        KernelRequest request = KernelRequest.of(Opcode.SETATTR, 42)
                .u32(SetAttr.MODE | SetAttr.SIZE | SetAttr.MTIME | SetAttr.ATIME | SetAttr.CTIME | SetAttr.FH)
                .u32(0)
                .u64(0x77) // fh
                .u64(123_456) // size
                .u64(0x55) // lock_owner
                .u64(1_000) // atime
                .u64(-2) // mtime
                .u64(3_000) // ctime
                .u32(1) // atimensec
                .u32(999_999_999) // mtimensec
                .u32(3) // ctimensec
                .u32(0100600) // mode
                .u32(0) // unused4
                .u32(1234) // uid
                .u32(5678) // gid
                .u32(0); // unused5
        KernelReply r = send(request);

        SetAttr change = (SetAttr) fs.last().arg(2);
        assertThat(change).isEqualTo(new SetAttr(
                SetAttr.MODE | SetAttr.SIZE | SetAttr.MTIME | SetAttr.ATIME | SetAttr.CTIME | SetAttr.FH, 0x77,
                123_456, 1_000_000_000_001L, -1_000_000_001L, 3_000_000_000_003L, 0100600, 1234, 5678));
        assertThat(r.bodyLength()).isEqualTo(104);
    }

    @Test
    void readlinkRepliesWithTheTargetBytes() {
        KernelReply r = send(KernelRequest.of(Opcode.READLINK, 42));
        assertThat(r.bytes(0, r.bodyLength())).isEqualTo(fs.linkTarget);
    }

    @Test
    void symlinkSeparatesNameAndTarget() {
        KernelReply r = send(KernelRequest.of(Opcode.SYMLINK, 3).name("link").name("../some/target"));
        assertThat(fs.last().method()).isEqualTo("symlink");
        assertThat((byte[]) fs.last().arg(2)).isEqualTo(utf8("link"));
        assertThat((byte[]) fs.last().arg(3)).isEqualTo(utf8("../some/target"));
        assertEntry(r, 0, fs.entry);
    }

    @Test
    void mknodDecodesModeRdevAndUmask() {
        send(KernelRequest.of(Opcode.MKNOD, 3).u32(0010644).u32(0x0801).u32(022).u32(0).name("fifo"));
        assertThat(fs.last().args()).containsExactly(CALLER, 3L, utf8("fifo"), 0010644, 0x0801, 022);
    }

    @Test
    void mkdirDecodesModeAndUmask() {
        KernelReply r = send(KernelRequest.of(Opcode.MKDIR, 3).u32(040750).u32(027).name("sub"));
        assertThat(fs.last().method()).isEqualTo("mkdir");
        assertThat(fs.last().arg(1)).isEqualTo(3L);
        assertThat((byte[]) fs.last().arg(2)).isEqualTo(utf8("sub"));
        assertThat(fs.last().arg(3)).isEqualTo(040750);
        assertThat(fs.last().arg(4)).isEqualTo(027);
        assertEntry(r, 0, fs.entry);
    }

    @Test
    void unlinkAndRmdirPassTheNameAndReplyEmpty() {
        KernelReply unlink = send(KernelRequest.of(Opcode.UNLINK, 3).name("gone"));
        assertThat(fs.last().method()).isEqualTo("unlink");
        assertThat((byte[]) fs.last().arg(2)).isEqualTo(utf8("gone"));
        assertThat(unlink.length()).isEqualTo(16);
        assertThat(unlink.error()).isZero();

        KernelReply rmdir = send(KernelRequest.of(Opcode.RMDIR, 3).name("dir"));
        assertThat(fs.last().method()).isEqualTo("rmdir");
        assertThat(rmdir.length()).isEqualTo(16);
    }

    @Test
    void renameAndRename2DecodeBothNamesAndFlags() {
        send(KernelRequest.of(Opcode.RENAME, 3).u64(9).name("old").name("new"));
        assertThat(fs.last().args())
                .containsExactly(CALLER, 3L, utf8("old"), 9L, utf8("new"), 0);

        send(KernelRequest.of(Opcode.RENAME2, 3).u64(9).u32(1).u32(0).name("a").name("bb"));
        assertThat((byte[]) fs.last().arg(2)).isEqualTo(utf8("a"));
        assertThat(fs.last().arg(3)).isEqualTo(9L);
        assertThat((byte[]) fs.last().arg(4)).isEqualTo(utf8("bb"));
        assertThat(fs.last().arg(5)).isEqualTo(1);
    }

    @Test
    void linkTakesTheNodeFromTheBodyAndTheParentFromTheHeader() {
        send(KernelRequest.of(Opcode.LINK, 3).u64(42).name("hard"));
        assertThat(fs.last().method()).isEqualTo("link");
        assertThat(fs.last().arg(1)).isEqualTo(42L);
        assertThat(fs.last().arg(2)).isEqualTo(3L);
        assertThat((byte[]) fs.last().arg(3)).isEqualTo(utf8("hard"));
    }

    @Test
    void openRepliesWithHandleAndFlags() {
        KernelReply r = send(KernelRequest.of(Opcode.OPEN, 42).u32(0102).u32(0));
        assertThat(fs.last().args()).containsExactly(CALLER, 42L, 0102);
        assertThat(r.bodyLength()).isEqualTo(16);
        assertThat(r.u64(0)).isEqualTo(0x1122334455667788L);
        assertThat(r.u32(8)).isEqualTo(OpenResult.KEEP_CACHE);
        assertThat(r.u32(12)).isZero();
    }

    @Test
    void readFillsTheReplyBufferInPlace() {
        KernelReply r = send(KernelRequest.of(Opcode.READ, 42)
                .u64(5).u64(4096).u32(65536).u32(0).u64(0).u32(0).u32(0));

        assertThat(fs.last().args()).containsExactly(CALLER, 42L, 5L, 4096L, 65536,
                reply.address() + 16, 65536L);
        assertThat(r.length()).isEqualTo(16 + fs.readData.length);
        assertThat(r.bytes(0, r.bodyLength())).isEqualTo(fs.readData);
    }

    @Test
    void readNeverAsksForMoreThanTheReplyBufferHolds() {
        send(KernelRequest.of(Opcode.READ, 42).u64(5).u64(0).u32(-1).u32(0).u64(0).u32(0).u32(0));
        assertThat(fs.last().arg(4)).isEqualTo((int) (reply.byteSize() - 16));
    }

    @Test
    void writeHandsOverTheRequestBytesWithoutCopying() {
        byte[] data = new byte[300_000];
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) (i * 31);
        }
        KernelReply r = send(KernelRequest.of(Opcode.WRITE, 42)
                .u64(6).u64(1 << 20).u32(data.length).u32(1).u64(0).u32(02).u32(0).bytes(data));

        RecordingFilesystem.SegmentSeen seen = (RecordingFilesystem.SegmentSeen) fs.last().arg(4);
        assertThat(seen.address()).isEqualTo(lastRequest.address() + 80);
        assertThat(seen.content()).isEqualTo(data);
        assertThat(fs.last().arg(2)).isEqualTo(6L);
        assertThat(fs.last().arg(3)).isEqualTo(1L << 20);
        assertThat(fs.last().arg(5)).isEqualTo(1);
        assertThat(r.bodyLength()).isEqualTo(8);
        assertThat(r.u32(0)).isEqualTo(data.length);
        assertThat(r.u32(4)).isZero();
    }

    @Test
    void writeLongerThanTheRequestIsRefused() {
        KernelReply r = send(KernelRequest.of(Opcode.WRITE, 42)
                .u64(6).u64(0).u32(100).u32(0).u64(0).u32(0).u32(0).bytes(new byte[10]));
        assertThat(r.error()).isEqualTo(-Errno.EIO);
        assertThat(fs.calls).isEmpty();
    }

    @Test
    void statfsRepliesWithKstatfs() {
        KernelReply r = send(KernelRequest.of(Opcode.STATFS, 1));
        assertThat(r.bodyLength()).isEqualTo(80);
        assertThat(r.u64(0)).isEqualTo(100);
        assertThat(r.u64(8)).isEqualTo(50);
        assertThat(r.u64(16)).isEqualTo(40);
        assertThat(r.u64(24)).isEqualTo(1000);
        assertThat(r.u64(32)).isEqualTo(900);
        assertThat(r.u32(40)).isEqualTo(4096);
        assertThat(r.u32(44)).isEqualTo(255);
        assertThat(r.u32(48)).isEqualTo(512);
        assertThat(r.bytes(52, 28)).containsOnly(0);
    }

    @Test
    void releaseFlushFsyncAndFsyncdirDecodeTheirHandles() {
        assertThat(send(KernelRequest.of(Opcode.RELEASE, 42).u64(8).u32(02).u32(1).u64(99)).length())
                .isEqualTo(16);
        assertThat(fs.last().args()).containsExactly(CALLER, 42L, 8L, 02);

        send(KernelRequest.of(Opcode.FLUSH, 42).u64(8).u32(0).u32(0).u64(0xfeedL));
        assertThat(fs.last().args()).containsExactly(CALLER, 42L, 8L, 0xfeedL);

        send(KernelRequest.of(Opcode.FSYNC, 42).u64(8).u32(1).u32(0));
        assertThat(fs.last().args()).containsExactly(CALLER, 42L, 8L, true);
        send(KernelRequest.of(Opcode.FSYNC, 42).u64(8).u32(0).u32(0));
        assertThat(fs.last().args()).containsExactly(CALLER, 42L, 8L, false);

        send(KernelRequest.of(Opcode.FSYNCDIR, 1).u64(3).u32(1).u32(0));
        assertThat(fs.last().method()).isEqualTo("fsyncdir");
        assertThat(fs.last().args()).containsExactly(CALLER, 1L, 3L, true);

        send(KernelRequest.of(Opcode.RELEASEDIR, 1).u64(3).u32(0).u32(0).u64(0));
        assertThat(fs.last().args()).containsExactly(CALLER, 1L, 3L);
    }

    @Test
    void setxattrSeparatesNameAndValue() {
        byte[] value = {0, 1, 2, (byte) 0xff, 0};
        KernelReply r = send(KernelRequest.of(Opcode.SETXATTR, 42).u32(value.length).u32(2)
                .name("user.key").bytes(value));
        assertThat(fs.last().method()).isEqualTo("setxattr");
        assertThat((byte[]) fs.last().arg(2)).isEqualTo(utf8("user.key"));
        assertThat((byte[]) fs.last().arg(3)).isEqualTo(value);
        assertThat(fs.last().arg(4)).isEqualTo(2);
        assertThat(r.length()).isEqualTo(16);
    }

    @Test
    void getxattrAnswersSizeQueriesTooSmallBuffersAndValues() {
        KernelReply size = send(KernelRequest.of(Opcode.GETXATTR, 42).u32(0).u32(0).name("user.key"));
        assertThat((byte[]) fs.last().arg(2)).isEqualTo(utf8("user.key"));
        assertThat(size.bodyLength()).isEqualTo(8);
        assertThat(size.u32(0)).isEqualTo(fs.xattrValue.length);

        KernelReply small = send(KernelRequest.of(Opcode.GETXATTR, 42).u32(fs.xattrValue.length - 1).u32(0)
                .name("user.key"));
        assertThat(small.error()).isEqualTo(-Errno.ERANGE);
        assertThat(small.length()).isEqualTo(16);

        KernelReply value = send(KernelRequest.of(Opcode.GETXATTR, 42).u32(4096).u32(0).name("user.key"));
        assertThat(value.bytes(0, value.bodyLength())).isEqualTo(fs.xattrValue);
    }

    @Test
    void listxattrEncodesNulTerminatedNames() {
        KernelReply size = send(KernelRequest.of(Opcode.LISTXATTR, 42).u32(0).u32(0));
        assertThat(size.u32(0)).isEqualTo("user.a\0user.bb\0".length());

        assertThat(send(KernelRequest.of(Opcode.LISTXATTR, 42).u32(10).u32(0)).error()).isEqualTo(-Errno.ERANGE);

        KernelReply list = send(KernelRequest.of(Opcode.LISTXATTR, 42).u32(4096).u32(0));
        assertThat(new String(list.bytes(0, list.bodyLength()), StandardCharsets.UTF_8))
                .isEqualTo("user.a\0user.bb\0");
    }

    @Test
    void removexattrAndAccessDecode() {
        send(KernelRequest.of(Opcode.REMOVEXATTR, 42).name("user.gone"));
        assertThat((byte[]) fs.last().arg(2)).isEqualTo(utf8("user.gone"));

        send(KernelRequest.of(Opcode.ACCESS, 42).u32(6).u32(0));
        assertThat(fs.last().args()).containsExactly(CALLER, 42L, 6);
    }

    @Test
    void opendirRepliesWithAnOpenOut() {
        KernelReply r = send(KernelRequest.of(Opcode.OPENDIR, 1).u32(0200000).u32(0));
        assertThat(fs.last().args()).containsExactly(CALLER, 1L, 0200000);
        assertThat(r.u64(0)).isEqualTo(fs.open.fh());
    }

    @Test
    void createRepliesWithEntryThenOpenOut() {
        KernelReply r = send(KernelRequest.of(Opcode.CREATE, 3).u32(0101).u32(0100640).u32(022).u32(0)
                .name("new.db"));
        assertThat(fs.last().args())
                .containsExactly(CALLER, 3L, utf8("new.db"), 0100640, 022, 0101);
        assertThat(r.bodyLength()).isEqualTo(144);
        assertEntry(r, 0, fs.entry);
        assertThat(r.u64(128)).isEqualTo(fs.open.fh());
        assertThat(r.u32(136)).isEqualTo(fs.open.openFlags());
    }

    @Test
    void fallocateAndLseekDecode() {
        send(KernelRequest.of(Opcode.FALLOCATE, 42).u64(8).u64(4096).u64(1 << 20).u32(1).u32(0));
        assertThat(fs.last().args()).containsExactly(CALLER, 42L, 8L, 4096L, (long) (1 << 20), 1);

        KernelReply r = send(KernelRequest.of(Opcode.LSEEK, 42).u64(8).u64(100).u32(3).u32(0));
        assertThat(fs.last().args()).containsExactly(CALLER, 42L, 8L, 100L, 3);
        assertThat(r.bodyLength()).isEqualTo(8);
        assertThat(r.u64(0)).isEqualTo(8192);
    }

    @Test
    void anUndeliveredEntryGivesItsLookupBack() {
        KernelReply r = send(KernelRequest.of(Opcode.LOOKUP, 1).name("x"));
        dispatcher.replyNotDelivered(lastDecoded, reply, r.length());
        assertThat(fs.last()).isEqualTo(new RecordingFilesystem.Call("forget", List.of(42L, 1L)));

        fs.calls.clear();
        fs.entry = Entry.negative(1_000);
        r = send(KernelRequest.of(Opcode.LOOKUP, 1).name("x"));
        dispatcher.replyNotDelivered(lastDecoded, reply, r.length());
        assertThat(fs.calls).extracting(RecordingFilesystem.Call::method).containsExactly("lookup");

        fs.failure = new FuseException(Errno.ENOENT);
        r = send(KernelRequest.of(Opcode.MKDIR, 1).u32(040755).u32(0).name("d"));
        dispatcher.replyNotDelivered(lastDecoded, reply, r.length());
        assertThat(fs.calls).extracting(RecordingFilesystem.Call::method).containsExactly("lookup", "mkdir");

        fs.failure = null;
        fs.calls.clear();
        r = send(KernelRequest.of(Opcode.GETATTR, 42).u32(0).u32(0).u64(0));
        dispatcher.replyNotDelivered(lastDecoded, reply, r.length());
        assertThat(fs.calls).extracting(RecordingFilesystem.Call::method).containsExactly("getattr");
    }

    @Nested
    class Directories {
        private final Entry child = new Entry(50, 1, new FileAttr(50, 0, 0, 0, 0, 0, 040755, 2, 0, 0, 0, 4096),
                1_000_000_000L, 1_000_000_000L);

        @Test
        void readdirWritesAlignedDirents() {
            fs.directory = List.of(
                    new RecordingFilesystem.DirRecord(".", 1, 040755, 1, null),
                    new RecordingFilesystem.DirRecord("file.txt", 42, 0100644, 2, null),
                    new RecordingFilesystem.DirRecord("l", 43, 0120777, 3, null));
            KernelReply r = send(readRequest(Opcode.READDIR, 4096));

            assertThat(fs.calls.getFirst().args()).containsExactly(CALLER, 1L, 9L, 0L);
            // 24 + 1 -> 32, 24 + 8 -> 32, 24 + 1 -> 32
            assertThat(r.bodyLength()).isEqualTo(96);
            assertDirent(r, 0, 1, 1, ".", 4);
            assertDirent(r, 32, 42, 2, "file.txt", 8);
            assertDirent(r, 64, 43, 3, "l", 10);
            assertThat(r.bytes(24 + 1, 7)).containsOnly(0);
        }

        @Test
        void readdirStopsAtTheFirstRecordThatDoesNotFit() {
            fs.directory = List.of(
                    new RecordingFilesystem.DirRecord("aaaaaaaa", 10, 0100644, 1, null),
                    new RecordingFilesystem.DirRecord("bbbbbbbbb", 11, 0100644, 2, null),
                    new RecordingFilesystem.DirRecord("c", 12, 0100644, 3, null));
            KernelReply r = send(readRequest(Opcode.READDIR, 70));

            // 32 fits, the next needs 40 (72 > 70), and the small one after it is refused too.
            assertThat(fs.calls.get(1).args()).containsExactly(true, false, false);
            assertThat(r.bodyLength()).isEqualTo(32);
        }

        @Test
        void readdirplusWritesEntryAndDirentPerRecord() {
            fs.directory = List.of(
                    new RecordingFilesystem.DirRecord("sub", 0, 0, 5, child),
                    new RecordingFilesystem.DirRecord("x", 0, 0, 6, Entry.negative(0)));
            KernelReply r = send(readRequest(Opcode.READDIRPLUS, 4096));

            // 152 + 3 -> 160, 152 + 1 -> 160
            assertThat(r.bodyLength()).isEqualTo(320);
            assertEntry(r, 0, child);
            assertDirent(r, 128, 50, 5, "sub", 4);
            assertThat(r.u64(160)).isZero();
            assertDirent(r, 160 + 128, 0, 6, "x", 0);
        }

        @Test
        void readdirplusRefusesWhatDoesNotFit() {
            fs.directory = List.of(
                    new RecordingFilesystem.DirRecord("sub", 0, 0, 5, child),
                    new RecordingFilesystem.DirRecord("sub2", 0, 0, 6, child));
            KernelReply r = send(readRequest(Opcode.READDIRPLUS, 319));

            assertThat(fs.calls.get(1).args()).containsExactly(true, false);
            assertThat(r.bodyLength()).isEqualTo(160);
        }

        @Test
        void entriesGatheredBeforeAFailureAreStillSent() {
            fs.directory = List.of(new RecordingFilesystem.DirRecord("sub", 0, 0, 5, child));
            fs.failAfterDirectory = new IllegalStateException("storage went away");
            KernelReply r = send(readRequest(Opcode.READDIRPLUS, 4096));

            assertThat(r.error()).isZero();
            assertThat(r.bodyLength()).isEqualTo(160);
        }

        @Test
        void aFailureBeforeAnyEntryIsTheReply() {
            fs.failAfterDirectory = new FuseException(Errno.ENOTDIR);
            assertThat(send(readRequest(Opcode.READDIR, 4096)).error()).isEqualTo(-Errno.ENOTDIR);
        }

        @Test
        void recordsWithOffsetZeroOrBadNamesAreFilesystemBugs() {
            fs.directory = List.of(new RecordingFilesystem.DirRecord("a/b", 1, 0100644, 1, null));
            assertThat(send(readRequest(Opcode.READDIR, 4096)).error()).isEqualTo(-Errno.EIO);

            fs.calls.clear();
            fs.directory = List.of(new RecordingFilesystem.DirRecord("a", 1, 0100644, 0, null));
            assertThat(send(readRequest(Opcode.READDIR, 4096)).error()).isEqualTo(-Errno.EIO);
        }

        @Test
        void undeliveredReaddirplusGivesBackTheLookupsOfItsEntriesButNotOfDots() {
            fs.directory = List.of(
                    new RecordingFilesystem.DirRecord(".", 0, 0, 1, child),
                    new RecordingFilesystem.DirRecord("..", 0, 0, 2, child),
                    new RecordingFilesystem.DirRecord("sub", 0, 0, 5, child),
                    new RecordingFilesystem.DirRecord("..x", 0, 0, 6, new Entry(51, 0, child.attr(), 0, 0)),
                    new RecordingFilesystem.DirRecord("neg", 0, 0, 7, Entry.negative(0)));
            KernelReply r = send(readRequest(Opcode.READDIRPLUS, 4096));
            fs.calls.clear();

            dispatcher.replyNotDelivered(lastDecoded, reply, r.length());

            assertThat(fs.calls).containsExactly(
                    new RecordingFilesystem.Call("forget", List.of(50L, 1L)),
                    new RecordingFilesystem.Call("forget", List.of(51L, 1L)));
        }

        private KernelRequest readRequest(int opcode, int size) {
            return KernelRequest.of(opcode, 1).u64(9).u64(0).u32(size).u32(0).u64(0).u32(0).u32(0);
        }

        private void assertDirent(KernelReply r, int at, long ino, long off, String name, int type) {
            assertThat(r.u64(at)).isEqualTo(ino);
            assertThat(r.u64(at + 8)).isEqualTo(off);
            assertThat(r.u32(at + 16)).isEqualTo(name.length());
            assertThat(r.u32(at + 20)).isEqualTo(type);
            assertThat(new String(r.bytes(at + 24, name.length()), StandardCharsets.UTF_8)).isEqualTo(name);
        }
    }

    @Nested
    class Errors {
        @Test
        void fuseExceptionBecomesItsNegatedErrno() {
            fs.failure = new FuseException(Errno.ENOENT);
            KernelReply r = send(KernelRequest.of(Opcode.LOOKUP, 1).name("nope"));
            assertThat(r.length()).isEqualTo(16);
            assertThat(r.error()).isEqualTo(-Errno.ENOENT);
        }

        @Test
        void unexpectedExceptionsBecomeEio() {
            fs.failure = new IllegalStateException("bug");
            assertThat(send(KernelRequest.of(Opcode.STATFS, 1)).error()).isEqualTo(-Errno.EIO);
        }

        /**
         * The EIO answer does not depend on logging the failure: a mount whose logging broke (a
         * class it needs gone) left the request unanswered and its worker thread dead.
         */
        @Test
        void anUnexpectedExceptionIsAnsweredEvenWhenLoggingItFails() {
            ch.qos.logback.classic.Logger logger = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory
                    .getLogger(RequestDispatcher.class);
            ch.qos.logback.core.AppenderBase<ch.qos.logback.classic.spi.ILoggingEvent> broken =
                    new ch.qos.logback.core.AppenderBase<>() {
                        @Override
                        protected void append(ch.qos.logback.classic.spi.ILoggingEvent event) {
                            throw new NoClassDefFoundError("ch/qos/logback/classic/spi/ThrowableProxy");
                        }
                    };
            broken.start();
            logger.addAppender(broken);
            try {
                fs.failure = new IllegalStateException("bug");
                assertThat(send(KernelRequest.of(Opcode.STATFS, 1)).error()).isEqualTo(-Errno.EIO);
            } finally {
                logger.detachAppender(broken);
            }
        }

        @Test
        void errnosTheKernelWouldRejectBecomeEio() {
            fs.failure = new FuseException(600);
            assertThat(send(KernelRequest.of(Opcode.STATFS, 1)).error()).isEqualTo(-Errno.EIO);
        }

        @Test
        void aNegativeEntryForANewNameIsABug() {
            fs.entry = Entry.negative(0);
            assertThat(send(KernelRequest.of(Opcode.MKDIR, 1).u32(040755).u32(0).name("d")).error())
                    .isEqualTo(-Errno.EIO);
        }

        @Test
        void aReadReturningMoreThanAskedIsABug() {
            fs.readResult = 11;
            assertThat(send(KernelRequest.of(Opcode.READ, 42).u64(0).u64(0).u32(10).u32(0).u64(0).u32(0).u32(0))
                    .error()).isEqualTo(-Errno.EIO);
        }

        @Test
        void aNameWithoutItsNulIsMalformed() {
            assertThat(send(KernelRequest.of(Opcode.LOOKUP, 1).bytes(utf8("abc"))).error()).isEqualTo(-Errno.EIO);
            assertThat(fs.calls).isEmpty();
        }

        @Test
        void aBodyShorterThanItsStructIsMalformed() {
            assertThat(send(KernelRequest.of(Opcode.READ, 42).u64(1).u64(0)).error()).isEqualTo(-Errno.EIO);
            assertThat(fs.calls).isEmpty();
        }

        @Test
        void defaultsAnswerEnosysOrEopnotsupp() {
            dispatcher = new RequestDispatcher(new MemoryFilesystemWithoutReaddirplus(), options(true));
            send(init(7, 38, 0, 0xffff, 0));
            assertThat(send(KernelRequest.of(Opcode.READLINK, 1)).error()).isEqualTo(-Errno.ENOSYS);
            assertThat(send(KernelRequest.of(Opcode.GETXATTR, 1).u32(0).u32(0).name("user.x")).error())
                    .isEqualTo(-Errno.EOPNOTSUPP);
        }

        @Test
        void posixLocksReachAFilesystemThatTakesThem() {
            RecordingFilesystem locking = new RecordingFilesystem() {
                @Override
                public boolean posixLocks() {
                    return true;
                }

                @Override
                public FileLock getlk(Caller caller, long ino, long fh, long owner, FileLock lock) {
                    record("getlk", caller, ino, fh, owner, lock);
                    return new FileLock(100, 199, FileLock.READ, 4321);
                }

                @Override
                public void setlk(Caller caller, long ino, long fh, long owner, FileLock lock, boolean wait) {
                    record("setlk", caller, ino, fh, owner, lock, wait);
                }
            };
            fs = locking;
            dispatcher = new RequestDispatcher(fs, options(true));
            KernelReply init = send(init(7, 38, 128 * 1024, 0xffff_ffffL, 0));
            assertThat(init.u32(12) & KernelConnection.POSIX_LOCKS).as("POSIX_LOCKS agreed").isNotZero();

            KernelReply test = send(KernelRequest.of(Opcode.GETLK, 5).u64(9).u64(0xabcdL).u64(120).u64(127)
                    .u32(FileLock.WRITE).u32(77).u32(0).u32(0));
            assertThat(test.error()).isZero();
            assertThat(test.u64(0)).isEqualTo(100);
            assertThat(test.u64(8)).isEqualTo(199);
            assertThat(test.u32(16)).isEqualTo(FileLock.READ);
            assertThat(test.u32(20)).isEqualTo(4321);
            assertThat(fs.calls.getLast().arg(4)).isEqualTo(new FileLock(120, 127, FileLock.WRITE, 77));

            KernelReply take = send(KernelRequest.of(Opcode.SETLKW, 5).u64(9).u64(0xabcdL).u64(0)
                    .u64(FileLock.TO_END).u32(FileLock.UNLOCK).u32(77).u32(0).u32(0));
            assertThat(take.error()).isZero();
            assertThat(fs.calls.getLast().method()).isEqualTo("setlk");
            assertThat(fs.calls.getLast().arg(3)).isEqualTo(0xabcdL);
            assertThat(fs.calls.getLast().arg(4)).isEqualTo(new FileLock(0, FileLock.TO_END, FileLock.UNLOCK, 77));
            assertThat(fs.calls.getLast().arg(5)).isEqualTo(true);

            KernelReply flock = send(KernelRequest.of(Opcode.SETLK, 5).u64(9).u64(1).u64(0).u64(0)
                    .u32(FileLock.READ).u32(77).u32(1).u32(0));
            assertThat(flock.error()).as("flock(2) locks stay in the kernel").isEqualTo(-Errno.ENOSYS);
        }

        @ParameterizedTest
        @ValueSource(ints = {Opcode.GETLK, Opcode.SETLK, Opcode.SETLKW, Opcode.BMAP, Opcode.IOCTL, Opcode.POLL,
                Opcode.COPY_FILE_RANGE, Opcode.SETUPMAPPING, Opcode.REMOVEMAPPING, Opcode.SYNCFS, Opcode.TMPFILE,
                Opcode.STATX, 7, 19, 4096, 9999})
        void operationsOutsideTheContractAreEnosys(int opcode) {
            KernelReply r = send(KernelRequest.of(opcode, 1).u64(0).u64(0).u64(0).u64(0));
            assertThat(r.error()).isEqualTo(-Errno.ENOSYS);
            assertThat(fs.calls).isEmpty();
        }

        @Test
        void interruptIsIgnoredAndDestroyIsAcknowledged() {
            assertThat(send(KernelRequest.of(Opcode.INTERRUPT, 0).u64(5))).isNull();
            KernelReply destroy = send(KernelRequest.of(Opcode.DESTROY, 0));
            assertThat(destroy.length()).isEqualTo(16);
            assertThat(destroy.error()).isZero();
            assertThat(fs.calls).isEmpty();
        }
    }

    /** A filesystem that leaves every optional operation at its default. */
    static final class MemoryFilesystemWithoutReaddirplus implements FuseFilesystem {
        @Override
        public Entry lookup(Caller caller, long parent, byte[] name) {
            throw new FuseException(Errno.ENOENT);
        }

        @Override
        public void forget(long ino, long nlookup) {}

        @Override
        public AttrReply getattr(Caller caller, long ino, long fh) {
            throw new FuseException(Errno.ENOENT);
        }

        @Override
        public AttrReply setattr(Caller caller, long ino, SetAttr change) {
            throw new FuseException(Errno.ENOENT);
        }

        @Override
        public OpenResult open(Caller caller, long ino, int flags, boolean killSuidGid) {
            throw new FuseException(Errno.ENOENT);
        }

        @Override
        public int read(Caller caller, long ino, long fh, long offset, int size, MemorySegment dest) {
            return 0;
        }

        @Override
        public int write(Caller caller, long ino, long fh, long offset, MemorySegment data, int writeFlags) {
            return 0;
        }

        @Override
        public void release(Caller caller, long ino, long fh, int flags) {}

        @Override
        public void readdir(Caller caller, long ino, long fh, long offset, DirSink sink) {}

        @Override
        public StatFs statfs(Caller caller, long ino) {
            return new StatFs(0, 0, 0, 0, 0, 4096, 255, 4096);
        }
    }
}
