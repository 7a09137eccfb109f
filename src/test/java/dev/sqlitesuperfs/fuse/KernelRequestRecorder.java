package dev.sqlitesuperfs.fuse;

import java.io.IOException;
import java.io.PrintWriter;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * Records what a real kernel sends: mounts {@link MemoryFilesystem} with a request tap, runs a fixed
 * script of file operations on it, and writes every request as one line, "NAME hex", to the file
 * given as the only argument. {@link KernelFixtureTest} replays the result. Run as root:
 *
 * <pre>
 * mvn -q test-compile dependency:build-classpath -Dmdep.outputFile=target/cp.txt
 * java --enable-native-access=ALL-UNNAMED -cp target/test-classes:target/classes:$(cat target/cp.txt) \
 *     dev.sqlitesuperfs.fuse.KernelRequestRecorder src/test/resources/dev/sqlitesuperfs/fuse/kernel-requests.txt
 * </pre>
 */
public final class KernelRequestRecorder {
    private KernelRequestRecorder() {}

    public static void main(String[] args) throws Exception {
        Path output = Path.of(args[0]);
        Path mnt = Files.createTempDirectory("fuse-recorder");
        List<String> lines = new ArrayList<>();
        MemoryFilesystem fs = new MemoryFilesystem();
        FuseSession session = FuseSession.mount(TestMounts.options(mnt), fs);
        session.tapRequests(request -> record(lines, request));
        try {
            session.start();
            script(mnt);
        } finally {
            session.close();
            TestMounts.forceUnmount(mnt);
            Files.deleteIfExists(mnt);
        }
        try (PrintWriter out = new PrintWriter(Files.newBufferedWriter(output, StandardCharsets.UTF_8))) {
            out.println("# FUSE requests as sent by Linux " + System.getProperty("os.version")
                    + ", recorded by KernelRequestRecorder: opcode name, then the request bytes in hex");
            synchronized (lines) {
                lines.forEach(out::println);
            }
        }
        System.out.println("recorded " + lines.size() + " requests to " + output);
    }

    private static void record(List<String> lines, MemorySegment request) {
        byte[] bytes = request.toArray(ValueLayout.JAVA_BYTE);
        int opcode = ByteBuffer.wrap(bytes).order(java.nio.ByteOrder.LITTLE_ENDIAN).getInt(4);
        synchronized (lines) {
            lines.add(Opcode.name(opcode) + " " + HexFormat.of().formatHex(bytes));
        }
    }

    private static void script(Path mnt) throws Exception {
        Path dir = Files.createDirectory(mnt.resolve("fixture-dir"),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-x---")));
        Path file = dir.resolve("file.txt");
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            channel.write(ByteBuffer.wrap("fixture bytes".getBytes(StandardCharsets.UTF_8)));
            channel.force(true);
        }
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            // A read reaching past the end refreshes the size once the attribute TTL is over,
            // with a GETATTR carrying the file handle (fstat never does).
            Thread.sleep(1_100);
            channel.read(ByteBuffer.allocate(100), 0);
        }
        Files.readString(file);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        shell(mnt, "truncate -s 5 fixture-dir/file.txt");
        Files.createSymbolicLink(mnt.resolve("fixture-link"), Path.of("fixture-dir/file.txt"));
        Files.readSymbolicLink(mnt.resolve("fixture-link"));
        Files.createLink(mnt.resolve("fixture-hard"), file);
        Files.move(mnt.resolve("fixture-hard"), mnt.resolve("fixture-renamed"), StandardCopyOption.ATOMIC_MOVE);
        shell(mnt, "mv -n fixture-renamed fixture-noreplace");

        UserDefinedFileAttributeView xattrs = Files.getFileAttributeView(file, UserDefinedFileAttributeView.class);
        xattrs.write("fixture", StandardCharsets.UTF_8.encode("xattr value"));
        xattrs.size("fixture");
        xattrs.list();
        xattrs.delete("fixture");

        shell(mnt, "ls -la . fixture-dir > /dev/null; stat -f . > /dev/null");
        shell(mnt, "fallocate -l 8192 fixture-dir/file.txt");
        shell(mnt, "python3 -c \"import os; fd = os.open('fixture-dir/file.txt', os.O_RDONLY); "
                + "os.lseek(fd, 0, os.SEEK_DATA)\"");
        shell(mnt, "mkfifo -m 640 fixture-fifo; rm fixture-fifo fixture-noreplace fixture-link");
        // Evicting dentries and inodes makes the kernel give its lookups back: FORGET and BATCH_FORGET.
        Files.writeString(Path.of("/proc/sys/vm/drop_caches"), "2");
        Thread.sleep(200);
        Files.delete(file);
        Files.delete(dir);
    }

    private static void shell(Path cwd, String script) throws IOException, InterruptedException {
        TestMounts.Result result = TestMounts.run("bash", "-c", "set -e; cd \"$0\"; " + script, cwd.toString());
        if (result.exitCode() != 0) {
            throw new IOException(script + " failed: " + result.output());
        }
    }
}
