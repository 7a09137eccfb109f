package dev.sqlitesuperfs.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.follow.WriterFollower;
import dev.sqlitesuperfs.testing.LogCapture;
import dev.sqlitesuperfs.testing.Posix;
import dev.sqlitesuperfs.testing.TestMount;
import dev.sqlitesuperfs.testing.TestPostgres;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * A read-only mount beside the namespace's writer follows its commits: new contents, new and
 * removed names, also through a file it keeps open; each read of one request sees one commit
 * whole; what it serves never goes back to an older commit.
 */
class FollowerTest {
    private static final int FILE_BYTES = 64 * 1024;
    private static final long DEADLINE_NANOS = 30_000_000_000L;

    @Test
    void followsTheWritersCommitsWholeAndInOrder() throws Exception {
        try (TestMount writer = TestMount.fresh()) {
            writeVersion(writer.path("data"), 1);
            writeDurably(writer.path("name-1"), "1");
            try (TestMount follower = writer.sameNamespaceElsewhere("--read-only");
                 FileChannel kept = FileChannel.open(follower.path("data"), StandardOpenOption.READ)) {
                assertThat(versionOf(kept)).isEqualTo(1);
                int seen = 1;
                int changes = 0;
                for (int v = 2; v <= 40; v++) {
                    writeVersion(writer.path("data"), v);
                    if (v % 10 == 0) {
                        // a name comes, another goes, in one commit each
                        writeDurably(writer.path("name-" + v), Integer.toString(v));
                        syncDirectory(writer.root());
                        Files.delete(writer.path("name-" + (v == 10 ? 1 : v - 10)));
                    }
                    // read while the writer goes on: every read one commit's version, never an older one
                    int now = versionOf(kept);
                    assertThat(now).isBetween(seen, v);
                    if (now != seen) {
                        changes++;
                    }
                    seen = now;
                }
                // the last commit arrives, through the file kept open and through a fresh open
                long deadline = System.nanoTime() + DEADLINE_NANOS;
                while (versionOf(kept) != 40 && System.nanoTime() < deadline) {
                    Thread.sleep(20);
                }
                assertThat(versionOf(kept)).isEqualTo(40);
                try (FileChannel fresh = FileChannel.open(follower.path("data"), StandardOpenOption.READ)) {
                    assertThat(versionOf(fresh)).isEqualTo(40);
                }
                while (!namesAt(follower).equals("data name-40") && System.nanoTime() < deadline) {
                    Thread.sleep(20);
                }
                assertThat(namesAt(follower)).isEqualTo("data name-40");
                assertThat(Files.readString(follower.path("name-40"))).isEqualTo("40");
                assertThat(Files.exists(follower.path("name-30"))).isFalse();
                assertThat(changes).as("versions seen change while the writer writes").isPositive();
            }
        }
    }

    /**
     * The kernel caches a follower's names like any mount's (an entry, or that a name does not
     * exist, for the cache TTL), and forgets them when the writer changes their directory: a name
     * seen, then removed by the writer, goes; a name found missing, then created, comes; a name
     * renamed within a subdirectory follows.
     */
    @Test
    void namesTheKernelCachedFollowTheWriter() throws Exception {
        try (TestMount writer = TestMount.fresh()) {
            writeDurably(writer.path("gone"), "1");
            Files.createDirectory(writer.path("sub"));
            writeDurably(writer.path("sub").resolve("old"), "2");
            syncDirectory(writer.path("sub"));
            syncDirectory(writer.root());
            try (TestMount follower = writer.sameNamespaceElsewhere("--read-only")) {
                assertThat(Files.exists(follower.path("gone"))).isTrue();
                assertThat(Files.exists(follower.path("sub").resolve("old"))).isTrue();
                assertThat(Files.exists(follower.path("new"))).isFalse();
                assertThat(Files.exists(follower.path("sub").resolve("renamed"))).isFalse();

                Files.delete(writer.path("gone"));
                writeDurably(writer.path("new"), "3");
                Files.move(writer.path("sub").resolve("old"), writer.path("sub").resolve("renamed"));
                syncDirectory(writer.path("sub"));
                syncDirectory(writer.root());

                long deadline = System.nanoTime() + DEADLINE_NANOS;
                while (!namesFollowed(follower) && System.nanoTime() < deadline) {
                    Thread.sleep(20);
                }
                assertThat(Files.exists(follower.path("gone"))).as("a removed name").isFalse();
                assertThat(Files.readString(follower.path("new"))).as("a created name").isEqualTo("3");
                assertThat(Files.exists(follower.path("sub").resolve("old"))).as("a renamed name's old one").isFalse();
                assertThat(Files.readString(follower.path("sub").resolve("renamed"))).isEqualTo("2");
            }
        }
    }

    private static boolean namesFollowed(TestMount follower) {
        return !Files.exists(follower.path("gone")) && Files.exists(follower.path("new"))
                && !Files.exists(follower.path("sub").resolve("old"))
                && Files.exists(follower.path("sub").resolve("renamed"));
    }

    /**
     * An operator puts a file's rows back as an earlier commit left them while a follower reads:
     * the writer's next commit no longer seals what is stored, and the follower does not step to
     * it; the old version is never served.
     */
    @Test
    void aFileRolledBackUnderAFollowerIsNeverServed() throws Exception {
        try (TestMount writer = TestMount.fresh()) {
            writeVersion(writer.path("data"), 1);
            long ino = Posix.lstat(writer.path("data")).ino();
            String side = RollbackTest.saveRows(writer.namespace(), ino);
            try (TestMount follower = writer.sameNamespaceElsewhere("--read-only");
                 LogCapture log = LogCapture.of(WriterFollower.class)) {
                writeVersion(writer.path("data"), 2);
                long deadline = System.nanoTime() + DEADLINE_NANOS;
                while (freshVersion(follower) != 2 && System.nanoTime() < deadline) {
                    Thread.sleep(20);
                }
                assertThat(freshVersion(follower)).isEqualTo(2);

                RollbackTest.putRowsBack(writer.namespace(), ino, side);
                writeDurably(writer.path("next"), "the writer's next commit");
                while (log.lines().stream().noneMatch(l -> l.contains("does not seal")) && System.nanoTime() < deadline) {
                    assertThat(freshVersion(follower)).as("never the version put back").isNotEqualTo(1);
                    Thread.sleep(20);
                }
                assertThat(log.lines()).anySatisfy(l -> assertThat(l).contains("cannot follow its writer past commit")
                        .contains("does not seal the inodes stored with it"));
                int now = freshVersion(follower);
                assertThat(now).as("never the version put back (-1: refused)").isIn(2, -1);
                assertThat(Files.exists(follower.path("next"))).as("the commit that seals nothing is not followed")
                        .isFalse();
            }
        }
    }

    /**
     * A move switches the namespace over to another server while a follower of the old copy is
     * mounted (one that mounted during the move's copy: the move refuses followers present when
     * it starts). The old copy will never see a commit again; the follower says so in its log,
     * naming where the namespace went, and goes on serving what it has.
     */
    @Test
    void aFollowerOfACopyAMoveSwitchedAwayFromSaysWhereTheNamespaceWent() throws Exception {
        try (TestMount writer = TestMount.fresh()) {
            writeVersion(writer.path("data"), 1);
            try (TestMount follower = writer.sameNamespaceElsewhere("--read-only");
                 LogCapture log = LogCapture.of(WriterFollower.class)) {
                assertThat(freshVersion(follower)).isEqualTo(1);
                writer.unmount();
                // what a move's switch-over leaves on the old server (store.Placement)
                String schema = "\"" + writer.namespace() + "\"";
                TestPostgres.execute("CREATE TABLE " + schema + ".placement (singleton boolean PRIMARY KEY DEFAULT"
                        + " true CHECK (singleton), state text NOT NULL, peer text NOT NULL, since timestamptz NOT"
                        + " NULL DEFAULT now())");
                TestPostgres.execute("INSERT INTO " + schema + ".placement (state, peer) VALUES ('moved', 'elsewhere')");
                log.awaitLine("has moved to server elsewhere", java.time.Duration.ofSeconds(30));
                assertThat(log.lines()).anySatisfy(l -> assertThat(l).contains("cannot follow its writer past commit",
                        "has moved to server elsewhere"));
                assertThat(freshVersion(follower)).as("what it has, still served").isEqualTo(1);
            }
        }
    }

    /** The version in the follower's file opened afresh, or -1 if reading it fails (EIO). */
    private static int freshVersion(TestMount mount) throws IOException {
        try (FileChannel in = FileChannel.open(mount.path("data"), StandardOpenOption.READ)) {
            return versionOf(in);
        } catch (IOException e) {
            if (e instanceof NoSuchFileException) {
                throw e;
            }
            return -1;
        }
    }

    /** The whole file, one byte value throughout, written and made durable in one commit. */
    private static void writeVersion(Path file, int version) throws IOException {
        byte[] bytes = new byte[FILE_BYTES];
        Arrays.fill(bytes, (byte) version);
        try (FileChannel out = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            out.write(ByteBuffer.wrap(bytes), 0);
            out.force(true);
        }
    }

    /** The version in one read of the whole file, which must hold one version throughout. */
    private static int versionOf(FileChannel in) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(FILE_BYTES);
        int n = in.read(buffer, 0);
        assertThat(n).isEqualTo(FILE_BYTES);
        byte[] bytes = buffer.array();
        for (byte b : bytes) {
            assertThat(b).as("one read, one commit").isEqualTo(bytes[0]);
        }
        return bytes[0];
    }

    private static void writeDurably(Path file, String content) throws IOException {
        try (FileChannel out = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            out.write(ByteBuffer.wrap(content.getBytes()));
            out.force(true);
        }
    }

    private static String namesAt(TestMount mount) throws IOException {
        try (var names = Files.list(mount.root())) {
            return String.join(" ", names.map(p -> p.getFileName().toString()).sorted().toList());
        } catch (NoSuchFileException e) {
            return "";
        }
    }

    private static void syncDirectory(Path dir) throws IOException {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        }
    }
}
