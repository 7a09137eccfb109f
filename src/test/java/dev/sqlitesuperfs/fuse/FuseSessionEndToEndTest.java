package dev.sqlitesuperfs.fuse;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real mount of {@link MemoryFilesystem}, used through java.nio.file and shell tools: what the
 * kernel sends, the session answers, and programs see the files they expect.
 */
@Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class FuseSessionEndToEndTest {
    @TempDir
    Path tmp;

    private Path mnt;
    private MemoryFilesystem fs;
    private FuseSession session;

    @BeforeEach
    void mount() throws Exception {
        mnt = Files.createDirectory(tmp.resolve("mnt"));
        fs = new MemoryFilesystem();
        session = FuseSession.mount(TestMounts.options(mnt), fs);
        session.start();
    }

    @AfterEach
    void unmount() throws Exception {
        try {
            session.close();
            assertThat(session.awaitTermination(Duration.ofSeconds(30))).isTrue();
            assertThat(TestMounts.isMounted(mnt)).isFalse();
            assertThat(fs.destroyCalls.get()).isEqualTo(1);
            assertThat(fs.initCalls.get()).isEqualTo(1);
            assertThat(Thread.getAllStackTraces().keySet())
                    .noneMatch(t -> t.getName().startsWith("fuse-" + TestMounts.FS_NAME));
        } finally {
            TestMounts.forceUnmount(mnt);
        }
    }

    private TestMounts.Result shell(String script) throws Exception {
        TestMounts.Result result = TestMounts.run("bash", "-c", "set -e; cd \"$0\"; " + script, mnt.toString());
        assertThat(result.exitCode()).as(result.output()).isZero();
        return result;
    }

    @Test
    void theKernelConnectionIsNegotiatedBeforeAnyRequest() {
        KernelConnection connection = fs.connection;
        assertThat(connection.major()).isEqualTo(7);
        assertThat(connection.minor()).isEqualTo(38);
        assertThat(connection.maxWrite()).isEqualTo(MountOptions.MAX_WRITE_LIMIT);
        assertThat(connection.has(KernelConnection.WRITEBACK_CACHE)).isTrue();
        assertThat(connection.has(KernelConnection.DO_READDIRPLUS)).isTrue();
        assertThat(connection.has(KernelConnection.MAX_PAGES)).isTrue();
        assertThat(TestMounts.isMounted(mnt)).isTrue();
        assertThat(MountTable.read()).anySatisfy(m -> {
            assertThat(m.mountPoint()).isEqualTo(session.mountPoint());
            assertThat(m.fsType()).isEqualTo("fuse." + TestMounts.SUBTYPE);
            assertThat(m.source()).isEqualTo(TestMounts.FS_NAME);
        });
    }

    @Test
    void filesAndDirectoriesThroughJava() throws Exception {
        Path dir = Files.createDirectory(mnt.resolve("dir"),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-x---")));
        Path file = dir.resolve("hello.txt");
        Files.writeString(file, "hello, fuse");
        Files.writeString(file, " and more", StandardOpenOption.APPEND);

        assertThat(Files.readString(file)).isEqualTo("hello, fuse and more");
        assertThat(Files.size(file)).isEqualTo(20);
        assertThat(Files.isDirectory(dir)).isTrue();
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir))).isEqualTo("rwxr-x---");
        try (DirectoryStream<Path> listing = Files.newDirectoryStream(dir)) {
            assertThat(listing).containsExactly(file);
        }

        assertThatThrownBy(() -> Files.delete(dir)).isInstanceOf(java.nio.file.DirectoryNotEmptyException.class);
        Files.delete(file);
        Files.delete(dir);
        assertThat(Files.exists(dir)).isFalse();
        assertThat(fs.contentOf("dir")).isNull();
    }

    @Test
    void shellToolsListCopyMoveAndLink() throws Exception {
        shell("printf 'first line\\nsecond line\\n' > a.txt; mkdir sub; chmod 640 a.txt");

        String listing = shell("ls -la").output();
        assertThat(listing).containsPattern("-rw-r----- +1 root root +23 .* a\\.txt");
        assertThat(listing).containsPattern("drwxr-xr-x +2 root root .* sub");
        assertThat(shell("cat a.txt").output()).isEqualTo("first line\nsecond line\n");

        shell("cp a.txt sub/copy.txt; mv a.txt moved.txt; ln moved.txt hard.txt; ln -s moved.txt soft.txt");
        assertThat(shell("cat sub/copy.txt").output()).isEqualTo("first line\nsecond line\n");
        assertThat(Files.exists(mnt.resolve("a.txt"))).isFalse();
        assertThat(shell("stat -c '%h %s %F' moved.txt").output()).isEqualTo("2 23 regular file\n");
        assertThat(shell("stat -c %i moved.txt; stat -c %i hard.txt").output().lines().distinct()).hasSize(1);
        assertThat(shell("readlink soft.txt").output()).isEqualTo("moved.txt\n");
        assertThat(shell("stat -L -c %s soft.txt; stat -c %F soft.txt").output())
                .isEqualTo("23\nsymbolic link\n");
        assertThat(Files.readSymbolicLink(mnt.resolve("soft.txt"))).isEqualTo(Path.of("moved.txt"));
        assertThat(Files.readString(mnt.resolve("soft.txt"))).isEqualTo("first line\nsecond line\n");

        shell("rm hard.txt");
        assertThat(shell("stat -c %h moved.txt").output()).isEqualTo("1\n");
        shell("mv sub/copy.txt moved.txt");
        assertThat(shell("ls sub | wc -l").output().strip()).isEqualTo("0");
        shell("rmdir sub");
        assertThat(shell("ls -A").output()).isEqualTo("moved.txt\nsoft.txt\n");
    }

    @Test
    void largeFilesWithDdAreByteExact() throws Exception {
        byte[] data = new byte[5 * 1024 * 1024 + 123];
        new Random(7).nextBytes(data);
        Path source = tmp.resolve("source.bin");
        Files.write(source, data);

        shell("dd if=" + source + " of=big.bin bs=1M status=none");
        assertThat(Files.mismatch(source, mnt.resolve("big.bin"))).isEqualTo(-1);
        shell("cmp " + source + " big.bin");
        assertThat(fs.contentOf("big.bin")).isEqualTo(data);

        shell("dd if=/dev/zero of=big.bin bs=4096 seek=10 count=3 conv=notrunc status=none");
        byte[] patched = data.clone();
        java.util.Arrays.fill(patched, 10 * 4096, 13 * 4096, (byte) 0);
        assertThat(Files.readAllBytes(mnt.resolve("big.bin"))).isEqualTo(patched);

        shell("truncate -s 100000 big.bin");
        assertThat(Files.readAllBytes(mnt.resolve("big.bin"))).isEqualTo(java.util.Arrays.copyOf(patched, 100000));
        shell("dd if=big.bin of=" + tmp.resolve("back.bin") + " bs=64k status=none");
        assertThat(Files.readAllBytes(tmp.resolve("back.bin"))).isEqualTo(java.util.Arrays.copyOf(patched, 100000));
    }

    @Test
    void extendedAttributesRoundTrip() throws Exception {
        Path file = Files.writeString(mnt.resolve("x.txt"), "x");
        UserDefinedFileAttributeView view = Files.getFileAttributeView(file, UserDefinedFileAttributeView.class);
        byte[] value = new byte[3000];
        new Random(3).nextBytes(value);

        view.write("alpha", ByteBuffer.wrap(value));
        view.write("beta", StandardCharsets.UTF_8.encode("b"));

        assertThat(view.list()).containsExactlyInAnyOrder("alpha", "beta");
        assertThat(view.size("alpha")).isEqualTo(3000);
        ByteBuffer read = ByteBuffer.allocate(4000);
        assertThat(view.read("alpha", read)).isEqualTo(3000);
        assertThat(java.util.Arrays.copyOf(read.array(), 3000)).isEqualTo(value);
        // The JDK reports ERANGE as "Insufficient space in buffer".
        assertThatThrownBy(() -> view.read("alpha", ByteBuffer.allocate(10)))
                .isInstanceOf(IOException.class).hasMessageContaining("Insufficient space in buffer");

        view.delete("alpha");
        assertThat(view.list()).containsExactly("beta");
        assertThatThrownBy(() -> view.size("alpha")).isInstanceOf(IOException.class);
    }

    @Test
    void namesAreRawBytes() throws Exception {
        shell("touch $'caf\\xe9' $'\\xff\\xfe-raw'; test -e $'caf\\xe9'; printf '%s\\n' * | od -An -tx1 | tr -d ' \\n'");
        assertThat(fs.rootNames()).anySatisfy(n -> assertThat(n).isEqualTo(new byte[] {'c', 'a', 'f', (byte) 0xe9}));
        assertThat(fs.rootNames()).anySatisfy(n -> assertThat(n)
                .isEqualTo(new byte[] {(byte) 0xff, (byte) 0xfe, '-', 'r', 'a', 'w'}));
        String listed = shell("printf '%s\\n' * | od -An -tx1 | tr -d ' \\n'").output();
        assertThat(listed).isEqualTo("636166e90a" + "fffe2d7261770a");
    }

    @Test
    void timesBeforeTheEpochSurvive() throws Exception {
        Path file = Files.writeString(mnt.resolve("old.txt"), "old");
        shell("touch -m -d '1960-01-01 00:00:00.25 UTC' old.txt");

        assertThat(Files.getLastModifiedTime(file).to(TimeUnit.NANOSECONDS))
                .isEqualTo(-315_619_200_000_000_000L + 250_000_000L);
        assertThat(shell("stat -c %Y old.txt").output().strip()).isEqualTo("-315619200");
    }

    @Test
    void largeDirectoriesNeedSeveralReaddirReplies() throws Exception {
        List<String> expected = new ArrayList<>();
        for (int i = 0; i < 300; i++) {
            String name = String.format("%03d-", i) + "n".repeat(100);
            Files.createFile(mnt.resolve(name));
            expected.add(name);
        }
        try (var listing = Files.list(mnt)) {
            assertThat(listing.map(p -> p.getFileName().toString())).containsExactlyInAnyOrderElementsOf(expected);
        }
        assertThat(shell("ls -1 | wc -l").output().strip()).isEqualTo("300");
        assertThat(shell("ls -1f | sort | head -2").output()).isEqualTo(".\n..\n");
    }

    @Test
    void concurrentReadersAndWritersKeepTheirBytesApart() throws Exception {
        int writers = 8;
        List<java.util.concurrent.Future<byte[]>> results = new ArrayList<>();
        try (var pool = java.util.concurrent.Executors.newFixedThreadPool(writers)) {
            for (int w = 0; w < writers; w++) {
                int id = w;
                results.add(pool.submit(() -> {
                    byte[] data = new byte[3 * 1024 * 1024 + id];
                    new Random(id).nextBytes(data);
                    Path file = mnt.resolve("parallel-" + id);
                    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE,
                            StandardOpenOption.WRITE)) {
                        for (int at = 0; at < data.length; at += 100_000) {
                            channel.write(ByteBuffer.wrap(data, at, Math.min(100_000, data.length - at)), at);
                        }
                    }
                    return data;
                }));
            }
        }
        for (int w = 0; w < writers; w++) {
            byte[] expected = results.get(w).get();
            assertThat(Files.readAllBytes(mnt.resolve("parallel-" + w))).isEqualTo(expected);
            assertThat(fs.contentOf("parallel-" + w)).isEqualTo(expected);
        }
    }

    @Test
    void sqliteKeepsADatabaseOnTheMount() throws Exception {
        String url = "jdbc:sqlite:" + mnt.resolve("app.db");
        for (String journal : List.of("DELETE", "WAL")) {
            try (var connection = java.sql.DriverManager.getConnection(url);
                    var statement = connection.createStatement()) {
                statement.execute("PRAGMA journal_mode=" + journal);
                statement.execute("PRAGMA synchronous=FULL");
                statement.execute("CREATE TABLE IF NOT EXISTS t_" + journal + " (id INTEGER PRIMARY KEY, v TEXT)");
                connection.setAutoCommit(false);
                try (var insert = connection.prepareStatement("INSERT INTO t_" + journal + " (v) VALUES (?)")) {
                    for (int i = 0; i < 2000; i++) {
                        insert.setString(1, "row " + i + " " + "x".repeat(i % 300));
                        insert.executeUpdate();
                    }
                }
                connection.commit();
            }
        }
        try (var connection = java.sql.DriverManager.getConnection(url);
                var statement = connection.createStatement()) {
            try (var rows = statement.executeQuery("PRAGMA integrity_check")) {
                assertThat(rows.next()).isTrue();
                assertThat(rows.getString(1)).isEqualTo("ok");
            }
            for (String journal : List.of("DELETE", "WAL")) {
                try (var rows = statement.executeQuery("SELECT count(*), max(v) FROM t_" + journal)) {
                    assertThat(rows.next()).isTrue();
                    assertThat(rows.getInt(1)).isEqualTo(2000);
                }
            }
        }
        assertThat(shell("sqlite3 app.db 'SELECT count(*) FROM t_WAL'").output().strip()).isEqualTo("2000");
    }

    @Test
    void anExceptionInsideTheFilesystemIsEioAndTheMountGoesOn() throws Exception {
        Path failing = mnt.resolve(MemoryFilesystem.FAILING_PREFIX + "x");
        assertThatThrownBy(() -> Files.readAttributes(failing, "size"))
                .isInstanceOf(IOException.class).hasMessageContaining("Input/output error");
        TestMounts.Result cat = TestMounts.run("cat", failing.toString());
        assertThat(cat.exitCode()).isEqualTo(1);
        assertThat(cat.output()).contains("Input/output error");

        Files.writeString(mnt.resolve("after.txt"), "still serving");
        assertThat(shell("cat after.txt").output()).isEqualTo("still serving");
    }

    @Test
    void syncKernelCachesWritesBackDirtyPages() throws Exception {
        byte[] data = "written through the page cache".getBytes(StandardCharsets.UTF_8);
        try (FileChannel channel = FileChannel.open(mnt.resolve("cached.bin"), StandardOpenOption.CREATE,
                StandardOpenOption.WRITE)) {
            channel.write(ByteBuffer.wrap(data));
            session.syncKernelCaches();
            assertThat(fs.contentOf("cached.bin")).isEqualTo(data);
        }
    }

    @Test
    void fsyncStatfsFallocateAndSeekReachTheFilesystem() throws Exception {
        Path file = mnt.resolve("f.bin");
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            channel.write(ByteBuffer.wrap(new byte[] {1, 2, 3}));
            channel.force(true);
        }
        assertThat(fs.fsyncCalls.get()).isPositive();

        FileStore store = Files.getFileStore(mnt);
        assertThat(store.getTotalSpace()).isEqualTo(1_000_000L * 4096);
        assertThat(shell("stat -f -c '%b %f %a %c %d %l' .").output()).isEqualTo("1000000 750000 700000 10000 9000 255\n");

        shell("fallocate -l 1048576 f.bin");
        assertThat(Files.size(file)).isEqualTo(1_048_576);
        String seek = shell("python3 -c \"import os; fd = os.open('f.bin', os.O_RDONLY); "
                + "print(os.lseek(fd, 10, os.SEEK_DATA), os.lseek(fd, 10, os.SEEK_HOLE))\"").output();
        assertThat(seek).isEqualTo("10 1048576\n");
    }
}
