package dev.sqlitesuperfs.fuse;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Replays requests a real kernel sent (recorded by {@link KernelRequestRecorder} while it ran a fixed
 * script) through the dispatcher, and checks that every one decodes to the arguments the script
 * implies. This pins the decoder to what kernels actually send, not only to our reading of fuse.h.
 */
class KernelFixtureTest {
    private static final String FIXTURE = "kernel-requests.txt";
    private static final int O_ACCMODE = 03;
    private static final int O_CREAT = 0100;
    private static final int O_EXCL = 0200;
    private static final int S_IFIFO = 0010000;

    private static List<Recorded> requests;

    private final Arena arena = Arena.ofConfined();
    private final MemorySegment reply = arena.allocate(RequestWorker.replyBufferSize(1 << 20), 8);
    private final RecordingFilesystem fs = new RecordingFilesystem();
    private final RequestDispatcher dispatcher = new RequestDispatcher(fs,
            RequestDispatcherTest.options(true));
    private final List<Replayed> replayed = new ArrayList<>();

    record Recorded(String name, byte[] bytes) {}

    record Replayed(Recorded request, KernelReply reply, List<RecordingFilesystem.Call> calls) {}

    @BeforeAll
    static void load() throws IOException {
        requests = new ArrayList<>();
        try (InputStream in = KernelFixtureTest.class.getResourceAsStream(FIXTURE);
                BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            String line;
            while ((line = reader.readLine()) != null) {
                if (!line.startsWith("#") && !line.isBlank()) {
                    String[] parts = line.split(" ");
                    requests.add(new Recorded(parts[0], HexFormat.of().parseHex(parts[1])));
                }
            }
        }
    }

    @BeforeEach
    void replayAll() {
        for (Recorded recorded : requests) {
            MemorySegment request = arena.allocate(recorded.bytes().length, 8);
            request.copyFrom(MemorySegment.ofArray(recorded.bytes()));
            int before = fs.calls.size();
            int length = dispatcher.dispatch(new FuseRequest().wrap(request, recorded.bytes().length), reply,
                    new DirentWriter());
            KernelReply parsed = length == 0 ? null : KernelReply.parse(reply, length);
            replayed.add(new Replayed(recorded, parsed,
                    List.copyOf(fs.calls.subList(before, fs.calls.size()))));
        }
    }

    @AfterEach
    void release() {
        arena.close();
    }

    private List<RecordingFilesystem.Call> calls(String method, Predicate<RecordingFilesystem.Call> matching) {
        return fs.calls.stream().filter(c -> c.method().equals(method)).filter(matching).toList();
    }

    private RecordingFilesystem.Call onlyCall(String method, Predicate<RecordingFilesystem.Call> matching) {
        List<RecordingFilesystem.Call> found = calls(method, matching);
        assertThat(found).as(method).hasSize(1);
        return found.getFirst();
    }

    private static Predicate<RecordingFilesystem.Call> named(int argument, String name) {
        return c -> new String((byte[]) c.arg(argument), StandardCharsets.UTF_8).equals(name);
    }

    private static String text(Object bytes) {
        return new String((byte[]) bytes, StandardCharsets.UTF_8);
    }

    @Test
    void theFixtureHoldsARealSessionFromInitOn() {
        assertThat(requests).hasSizeGreaterThan(50);
        assertThat(requests.getFirst().name()).isEqualTo("INIT");
        for (Recorded r : requests) {
            java.nio.ByteBuffer header = java.nio.ByteBuffer.wrap(r.bytes()).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            assertThat(header.getInt(0)).as("len of %s", r.name()).isEqualTo(r.bytes().length);
            assertThat(Opcode.name(header.getInt(4))).isEqualTo(r.name());
        }
    }

    @Test
    void everyRequestDecodesAndGetsTheReplyItsKindExpects() {
        for (Replayed r : replayed) {
            String name = r.request().name();
            if (name.equals("FORGET") || name.equals("BATCH_FORGET")) {
                assertThat(r.reply()).as(name).isNull();
                continue;
            }
            assertThat(r.reply()).as(name).isNotNull();
            if (name.equals("STATX")) {
                assertThat(r.reply().error()).as("STATX is not in the contract").isEqualTo(-Errno.ENOSYS);
            } else if (!name.equals("INIT")) {
                assertThat(r.reply().error()).as("%s decoded and answered", name).isNotEqualTo(-Errno.EIO);
                assertThat(r.calls()).as("%s reached the filesystem", name).isNotEmpty();
            }
        }
    }

    @Test
    void initWithARealKernelOffer() {
        Replayed init = replayed.getFirst();
        java.nio.ByteBuffer offer = java.nio.ByteBuffer.wrap(init.request().bytes())
                .order(java.nio.ByteOrder.LITTLE_ENDIAN);
        assertThat(offer.getInt(44)).as("kernel minor").isGreaterThanOrEqualTo(38);

        assertThat(init.reply().u32(0)).isEqualTo(7);
        assertThat(init.reply().u32(4)).isEqualTo(38);
        assertThat(Integer.toUnsignedLong(init.reply().u32(12))).isEqualTo(InitNegotiation.wantedFlags(
                RequestDispatcherTest.options(true)));
        assertThat(dispatcher.connection().minor()).isEqualTo(38);
    }

    @Test
    void directoryAndFileCreation() {
        RecordingFilesystem.Call mkdir = onlyCall("mkdir", named(2, "fixture-dir"));
        assertThat((int) mkdir.arg(3) & 07777).isEqualTo(0750);
        assertThat(mkdir.arg(4)).isEqualTo(022);

        RecordingFilesystem.Call create = onlyCall("create", named(2, "file.txt"));
        assertThat((int) create.arg(3)).isEqualTo(0100644);
        assertThat(create.arg(4)).isEqualTo(022);
        assertThat((int) create.arg(5) & (O_CREAT | O_EXCL)).isEqualTo(O_CREAT | O_EXCL);

        RecordingFilesystem.Call mknod = onlyCall("mknod", named(2, "fixture-fifo"));
        assertThat(mknod.arg(3)).isEqualTo(S_IFIFO | 0640);
        assertThat(mknod.arg(4)).isEqualTo(0);

        RecordingFilesystem.Call symlink = onlyCall("symlink", named(2, "fixture-link"));
        assertThat(text(symlink.arg(3))).isEqualTo("fixture-dir/file.txt");
    }

    @Test
    void writeReadAndTheirHandles() {
        RecordingFilesystem.Call write = onlyCall("write", c -> true);
        RecordingFilesystem.SegmentSeen data = (RecordingFilesystem.SegmentSeen) write.arg(4);
        assertThat(new String(data.content(), StandardCharsets.UTF_8)).isEqualTo("fixture bytes");
        assertThat(write.arg(3)).isEqualTo(0L);

        assertThat(calls("read", c -> true)).isNotEmpty().allSatisfy(read -> {
            assertThat(read.arg(3)).isEqualTo(0L);
            assertThat((int) read.arg(4)).isPositive();
        });

        assertThat(calls("getattr", c -> (long) c.arg(2) != -1)).as("fstat passes its handle").isNotEmpty();
        assertThat(calls("getattr", c -> (long) c.arg(2) == -1)).isNotEmpty();
        assertThat(calls("fsync", c -> c.arg(3).equals(false))).isNotEmpty();
        assertThat(calls("flush", c -> (long) c.arg(3) != 0)).as("flush carries the lock owner").isNotEmpty();
        assertThat(calls("release", c -> true)).hasSize(
                (int) requests.stream().filter(r -> r.name().equals("RELEASE")).count());
    }

    @Test
    void attributeChanges() {
        List<SetAttr> changes = calls("setattr", c -> true).stream().map(c -> (SetAttr) c.arg(2)).toList();
        assertThat(changes).anySatisfy(c -> {
            assertThat(c.has(SetAttr.MODE)).isTrue();
            assertThat(c.mode() & 07777).isEqualTo(0600);
        });
        assertThat(changes).anySatisfy(c -> {
            assertThat(c.has(SetAttr.SIZE)).isTrue();
            assertThat(c.size()).isEqualTo(5);
        });
        // The writeback cache flushes times it kept: mtime and ctime through the open handle.
        assertThat(changes).anySatisfy(c -> {
            assertThat(c.has(SetAttr.MTIME) && c.has(SetAttr.CTIME) && c.has(SetAttr.FH)).isTrue();
            assertThat(c.mtimeNs()).isGreaterThan(1_600_000_000_000_000_000L);
        });
    }

    @Test
    void linksAndRenames() {
        RecordingFilesystem.Call link = onlyCall("link", named(3, "fixture-hard"));
        assertThat((long) link.arg(1)).isNotEqualTo(link.arg(2));

        RecordingFilesystem.Call rename = onlyCall("rename", named(2, "fixture-hard"));
        assertThat(text(rename.arg(4))).isEqualTo("fixture-renamed");
        assertThat(rename.arg(5)).isEqualTo(0);

        RecordingFilesystem.Call noReplace = onlyCall("rename", named(2, "fixture-renamed"));
        assertThat(text(noReplace.arg(4))).isEqualTo("fixture-noreplace");
        assertThat(noReplace.arg(5)).as("RENAME_NOREPLACE").isEqualTo(1);

        assertThat(calls("readlink", c -> true)).hasSize(1);
        assertThat(calls("unlink", c -> true)).extracting(c -> text(c.arg(2)))
                .containsExactlyInAnyOrder("fixture-fifo", "fixture-noreplace", "fixture-link", "file.txt");
        assertThat(onlyCall("rmdir", c -> true).arg(2)).satisfies(n -> assertThat(text(n)).isEqualTo("fixture-dir"));
    }

    @Test
    void extendedAttributes() {
        RecordingFilesystem.Call set = onlyCall("setxattr", named(2, "user.fixture"));
        assertThat(text(set.arg(3))).isEqualTo("xattr value");
        assertThat(set.arg(4)).isEqualTo(0);

        Replayed sizeQuery = replayed.stream()
                .filter(r -> r.request().name().equals("GETXATTR"))
                .filter(r -> r.calls().stream().anyMatch(named(2, "user.fixture")))
                .findFirst().orElseThrow();
        assertThat(sizeQuery.reply().bodyLength()).isEqualTo(8);
        assertThat(sizeQuery.reply().u32(0)).isEqualTo(fs.xattrValue.length);

        assertThat(calls("getxattr", named(2, "security.selinux"))).isNotEmpty();
        assertThat(calls("listxattr", c -> true)).hasSize(1);
        assertThat(calls("removexattr", named(2, "user.fixture"))).hasSize(1);
    }

    @Test
    void directoriesStatfsAllocationAndSeeking() {
        assertThat(calls("opendir", c -> true)).hasSize(2);
        assertThat(calls("readdirplus", c -> true)).isNotEmpty().allSatisfy(c -> assertThat(c.arg(1)).isIn(1L, 2L));
        assertThat(calls("releasedir", c -> true)).hasSize(2);
        assertThat(calls("statfs", c -> true)).hasSize(1);

        RecordingFilesystem.Call fallocate = onlyCall("fallocate", c -> true);
        assertThat(fallocate.args().subList(3, 6)).containsExactly(0L, 8192L, 0);

        RecordingFilesystem.Call lseek = onlyCall("lseek", c -> true);
        assertThat(lseek.args().subList(3, 5)).containsExactly(0L, 3);
    }

    @Test
    void forgetsGiveLookupsBack() {
        List<RecordingFilesystem.Call> forgets = calls("forget", c -> true);
        long single = requests.stream().filter(r -> r.name().equals("FORGET")).count();
        assertThat(forgets).hasSizeGreaterThan((int) single);
        assertThat(forgets).allSatisfy(c -> {
            assertThat((long) c.arg(0)).isGreaterThan(1);
            assertThat((long) c.arg(1)).isPositive();
        });
    }
}
