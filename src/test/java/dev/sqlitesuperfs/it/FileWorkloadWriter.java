package dev.sqlitesuperfs.it;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A writer process for {@link CrashTest}: two streams of plain file work in directory DIR, until
 * stopped or until a call fails (see {@link CrashChild} for the protocol).
 *
 * <p>Arguments: {@code DIR RECORD SEED CYCLE}.
 * <ul>
 * <li>The create stream writes new files {@code cCYCLE-N} with the content
 *     {@link #content}(SEED, name, 0), in writes of random sizes; fsyncs the file, closes it,
 *     fsyncs DIR, and then records {@code created NAME}.
 * <li>The replace stream takes turns over the names {@code r0..r5}: writes version V of the name
 *     to {@code NAME.tmp}, fsyncs and closes it, renames it over NAME, fsyncs DIR, and then records
 *     {@code replaced NAME V}. Versions continue from those already in RECORD; a version whose
 *     record line is missing is written again with the same content.
 * </ul>
 */
public final class FileWorkloadWriter {
    static final List<String> REPLACED_NAMES = List.of("r0", "r1", "r2", "r3", "r4", "r5");

    private FileWorkloadWriter() {}

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        Path recordFile = Path.of(args[1]);
        long seed = Long.parseLong(args[2]);
        int cycle = Integer.parseInt(args[3]);
        Map<String, Integer> versions = lastRecordedVersions(CrashChild.recordedLines(recordFile));
        CrashChild child = new CrashChild(recordFile);
        child.ready();
        Thread creating = Thread.ofPlatform().name("create").start(() -> run(child, () -> {
            SplittableRandom random = new SplittableRandom(seed + cycle);
            for (int n = 0; !child.stopRequested(); n++) {
                String name = "c" + cycle + "-" + n;
                writeDurably(dir.resolve(name), content(seed, name, 0), random);
                fsyncDirectory(dir);
                child.record("created " + name);
            }
        }));
        Thread replacing = Thread.ofPlatform().name("replace").start(() -> run(child, () -> {
            SplittableRandom random = new SplittableRandom(seed - cycle);
            for (int turn = 0; !child.stopRequested(); turn++) {
                String name = REPLACED_NAMES.get(turn % REPLACED_NAMES.size());
                int version = versions.getOrDefault(name, 0) + 1;
                Path temporary = dir.resolve(name + ".tmp");
                writeDurably(temporary, content(seed, name, version), random);
                Files.move(temporary, dir.resolve(name), StandardCopyOption.ATOMIC_MOVE);
                fsyncDirectory(dir);
                child.record("replaced " + name + " " + version);
                versions.put(name, version);
            }
        }));
        creating.join();
        replacing.join();
        child.stopped();
    }

    interface Work {
        void run() throws IOException;
    }

    private static void run(CrashChild child, Work work) {
        try {
            work.run();
        } catch (IOException | RuntimeException e) {
            child.failed(e);
        }
    }

    /** Creates or truncates {@code file}, writes {@code data} in pieces of 1 byte to 64 KiB, fsyncs, closes. */
    private static void writeDurably(Path file, byte[] data, SplittableRandom random) throws IOException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            int at = 0;
            while (at < data.length) {
                int piece = Math.min(data.length - at, 1 + random.nextInt(65_536));
                ByteBuffer buffer = ByteBuffer.wrap(data, at, piece);
                while (buffer.hasRemaining()) {
                    channel.write(buffer);
                }
                at += piece;
            }
            channel.force(true);
        }
    }

    /** fsync(2) of a directory: Java opens a directory for reading on Linux, and force is fsync. */
    private static void fsyncDirectory(Path dir) throws IOException {
        try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
            channel.force(true);
        }
    }

    /** The last version recorded for each replaced name in the record's {@code lines}. */
    static Map<String, Integer> lastRecordedVersions(List<String> lines) {
        Map<String, Integer> versions = new HashMap<>();
        for (String line : lines) {
            String[] words = line.split(" ");
            if (words[0].equals("replaced")) {
                versions.merge(words[1], Integer.parseInt(words[2]), Math::max);
            }
        }
        return versions;
    }

    /**
     * Version {@code version} of file {@code name}, the same in every process: a quarter of them
     * under 4 KiB, the rest up to 192 KiB, of any length, so that files end inside a block.
     */
    static byte[] content(long seed, String name, int version) {
        SplittableRandom random = new SplittableRandom(seed ^ (name.hashCode() * 0x9E3779B97F4A7C15L) ^ (version * 31L));
        int size = random.nextInt(4) == 0 ? random.nextInt(4_096) : random.nextInt(196_608);
        byte[] bytes = new byte[size];
        random.nextBytes(bytes);
        return bytes;
    }
}
