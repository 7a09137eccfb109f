package dev.sqlitesuperfs.anchor;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import java.util.zip.CRC32C;

/**
 * The default anchor: a directory on the local machine (created 0700) with one small file per
 * namespace (0600), named by the namespace's anchor identifier.
 *
 * <p>A file holds two slots of 32 bytes: a magic number, the commit number, the write's generation
 * and a CRC-32C of the three. Each write goes to the slot the previous one did not use, in place,
 * followed by fdatasync; the file never changes size after it is made, so that flush needs no
 * metadata. Reading takes the intact slot of the newest generation: a write torn by a crash leaves
 * the other slot, the previous record, intact. A new file is made whole under a temporary name and
 * renamed into place, and the directory synced.
 */
public final class AnchorDirectory implements Anchors {
    private static final long MAGIC = 0x5353_4653_414e_4331L; // "SSFSANC1"
    private static final int SLOT = 32;
    private static final Set<PosixFilePermission> DIRECTORY_MODE = PosixFilePermissions.fromString("rwx------");
    private static final Set<PosixFilePermission> FILE_MODE = PosixFilePermissions.fromString("rw-------");

    private final Path directory;

    public AnchorDirectory(Path directory) {
        this.directory = directory.toAbsolutePath();
    }

    public Path directory() {
        return directory;
    }

    @Override
    public String describe() {
        return directory.toString();
    }

    /**
     * The anchor of the namespace with identifier {@code id} (letters and digits only), made empty
     * (nothing recorded) when it does not exist yet.
     *
     * @throws IOException when the directory or the file cannot be made or read, or the file is
     *                     damaged (no intact slot)
     */
    @Override
    public Anchor open(String id) throws IOException {
        Anchors.checkedId(id);
        if (!Files.isDirectory(directory)) {
            Files.createDirectories(directory.getParent());
            try {
                Files.createDirectory(directory, PosixFilePermissions.asFileAttribute(DIRECTORY_MODE));
            } catch (FileAlreadyExistsException raced) {
                // made meanwhile by another mount of this machine
            }
        }
        Path file = directory.resolve(id + ".anchor");
        if (!Files.exists(file)) {
            create(file);
        }
        FileChannel channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
        try {
            return new FileAnchor(file, channel);
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
    }

    private void create(Path file) throws IOException {
        Path temporary = directory.resolve(file.getFileName() + ".new");
        try (FileChannel channel = FileChannel.open(temporary, Set.of(StandardOpenOption.CREATE,
                StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE),
                PosixFilePermissions.asFileAttribute(FILE_MODE))) {
            ByteBuffer empty = ByteBuffer.allocate(2 * SLOT);
            empty.put(slot(0, 1)).put(slot(0, 0)).flip();
            while (empty.hasRemaining()) {
                channel.write(empty);
            }
            channel.force(true);
        }
        Files.move(temporary, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        try (FileChannel dir = FileChannel.open(directory, StandardOpenOption.READ)) {
            dir.force(true);
        }
    }

    private static ByteBuffer slot(long number, long generation) {
        ByteBuffer b = ByteBuffer.allocate(SLOT);
        b.putLong(MAGIC).putLong(number).putLong(generation);
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 0, 24);
        b.putLong(crc.getValue());
        return b.flip();
    }

    /** One namespace's file. */
    private static final class FileAnchor extends RecordedNumber {
        private final Path file;
        private final FileChannel channel;
        /** The generation of the newest intact slot, and which slot holds it (written by one thread at a time). */
        private long generation;
        private int slotInUse;

        FileAnchor(Path file, FileChannel channel) throws IOException {
            this.file = file;
            this.channel = channel;
            ByteBuffer both = ByteBuffer.allocate(2 * SLOT);
            while (both.hasRemaining() && channel.read(both, both.position()) > 0) {
                // read on until both slots are in, or the file ends
            }
            long bestGeneration = -1;
            long number = 0;
            for (int i = 0; i < 2; i++) {
                if (both.position() < (i + 1) * SLOT) {
                    continue;
                }
                ByteBuffer s = ByteBuffer.wrap(both.array(), i * SLOT, SLOT);
                long magic = s.getLong();
                long n = s.getLong();
                long gen = s.getLong();
                CRC32C crc = new CRC32C();
                crc.update(both.array(), i * SLOT, 24);
                if (magic == MAGIC && s.getLong() == crc.getValue() && gen > bestGeneration) {
                    bestGeneration = gen;
                    number = n;
                    slotInUse = i;
                }
            }
            if (bestGeneration < 0) {
                throw new IOException("the freshness anchor " + file + " is damaged (no intact record)");
            }
            generation = bestGeneration;
            opened(number);
        }

        @Override
        long write(long number, boolean rebase) throws IOException {
            int target = 1 - slotInUse;
            ByteBuffer b = slot(number, generation + 1);
            long at = (long) target * SLOT;
            while (b.hasRemaining()) {
                at += channel.write(b, at);
            }
            channel.force(false);
            generation++;
            slotInUse = target;
            return number;
        }

        @Override
        public String describe() {
            return file.toString();
        }

        @Override
        public void close() {
            try {
                channel.close();
            } catch (IOException e) {
                // nothing is pending: every write was flushed before it returned
            }
        }
    }
}
