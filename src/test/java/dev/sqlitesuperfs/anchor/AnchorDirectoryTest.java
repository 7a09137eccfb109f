package dev.sqlitesuperfs.anchor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The local anchor file: what a crash can leave of it, and that it only ever moves forward. */
class AnchorDirectoryTest {
    static final String ID = "0123456789abcdef0123456789abcdef";

    @TempDir
    Path tmp;

    private AnchorDirectory anchors() {
        return new AnchorDirectory(tmp.resolve("state/anchors"));
    }

    private long reopened() throws IOException {
        try (Anchor a = anchors().open(ID)) {
            return a.recorded();
        }
    }

    @Test
    void aNewAnchorRecordsNothingAndIsPrivate() throws IOException {
        try (Anchor a = anchors().open(ID)) {
            assertThat(a.recorded()).isZero();
            assertThat(a.describe()).endsWith(ID + ".anchor");
        }
        Path dir = tmp.resolve("state/anchors");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir))).isEqualTo("rwx------");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve(ID + ".anchor"))))
                .isEqualTo("rw-------");
        assertThat(Files.size(dir.resolve(ID + ".anchor"))).isEqualTo(64);
        try (var names = Files.list(dir)) {
            assertThat(names.toList()).as("no temporary file left").hasSize(1);
        }
    }

    @Test
    void advancesOnlyForwardAndSurvivesReopening() throws IOException {
        try (Anchor a = anchors().open(ID)) {
            a.advance(5);
            a.advance(3);
            assertThat(a.recorded()).isEqualTo(5);
            a.advance(9);
        }
        assertThat(reopened()).isEqualTo(9);
        assertThat(Files.size(tmp.resolve("state/anchors/" + ID + ".anchor"))).as("never grows").isEqualTo(64);
    }

    @Test
    void rebaseSetsItBack() throws IOException {
        try (Anchor a = anchors().open(ID)) {
            a.advance(40);
            a.rebase(12);
            assertThat(a.recorded()).isEqualTo(12);
        }
        assertThat(reopened()).isEqualTo(12);
        try (Anchor a = anchors().open(ID)) {
            a.advance(13);
        }
        assertThat(reopened()).isEqualTo(13);
    }

    /** A crash in the middle of a write tears the slot being written: the previous record stays. */
    @Test
    void aTornWriteLeavesThePreviousRecord() throws IOException {
        try (Anchor a = anchors().open(ID)) {
            a.advance(7);
            a.advance(8);
        }
        Path file = tmp.resolve("state/anchors/" + ID + ".anchor");
        int newest = slotHolding(file, 8);
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.seek(newest * 32L + 12); // inside the number
            f.write(0x55);
        }
        assertThat(reopened()).isEqualTo(7);
        // and writing on from there works, into the torn slot
        try (Anchor a = anchors().open(ID)) {
            a.advance(10);
        }
        assertThat(reopened()).isEqualTo(10);
    }

    @Test
    void aFileWithNoIntactRecordIsRefused() throws IOException {
        try (Anchor a = anchors().open(ID)) {
            a.advance(3);
        }
        Path file = tmp.resolve("state/anchors/" + ID + ".anchor");
        Files.write(file, new byte[64]);
        assertThatThrownBy(() -> anchors().open(ID)).isInstanceOf(IOException.class).hasMessageContaining("damaged");
    }

    @Test
    void aDirectoryThatCannotBeMadeIsAnError() throws IOException {
        Files.writeString(tmp.resolve("state"), "a file, not a directory");
        assertThatThrownBy(() -> anchors().open(ID)).isInstanceOf(IOException.class);
    }

    /** Concurrent commits each return only once their number (or a later one) is recorded. */
    @Test
    void concurrentAdvancesEachFindTheirNumberRecorded() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try (Anchor a = anchors().open(ID)) {
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                int first = t;
                done.add(pool.submit(() -> {
                    for (long n = first; n < 400; n += 8) {
                        a.advance(n);
                        assertThat(a.recorded()).isGreaterThanOrEqualTo(n);
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get();
            }
            assertThat(a.recorded()).isEqualTo(399);
        } finally {
            pool.shutdown();
        }
        assertThat(reopened()).isEqualTo(399);
    }

    private static int slotHolding(Path file, long number) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        for (int i = 0; i < 2; i++) {
            if (java.nio.ByteBuffer.wrap(bytes, i * 32 + 8, 8).getLong() == number) {
                return i;
            }
        }
        throw new AssertionError("no slot holds " + number);
    }

    @Test
    void identifiersAreCheckedBeforeTheyNameAFile() {
        assertThatThrownBy(() -> anchors().open("../../etc/passwd")).isInstanceOf(IllegalArgumentException.class);
    }
}
