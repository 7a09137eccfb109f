package dev.sqlitesuperfs.anchor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Anchors kept by a program: the example in scripts/anchor, and programs that misbehave. */
class AnchorCommandTest {
    static final String ID = "0123456789abcdef0123456789abcdef";
    static final Path EXAMPLE = Path.of("scripts/anchor/anchor-file.py").toAbsolutePath();

    @TempDir
    Path tmp;

    private AnchorCommand example() {
        return new AnchorCommand("python3 " + EXAMPLE + " " + tmp.resolve("kept"), Duration.ofSeconds(30));
    }

    @Test
    void theExampleKeepsTheNewestNumberAcrossRuns() throws IOException {
        try (Anchor a = example().open(ID)) {
            assertThat(a.recorded()).isZero();
            a.advance(7);
            a.advance(5);
            assertThat(a.recorded()).isEqualTo(7);
        }
        try (Anchor a = example().open(ID)) {
            assertThat(a.recorded()).as("a new run of the program").isEqualTo(7);
            a.rebase(3);
        }
        try (Anchor a = example().open(ID); Anchor other = example().open("ffffffff00000000")) {
            assertThat(a.recorded()).isEqualTo(3);
            assertThat(other.recorded()).as("each namespace its own").isZero();
        }
        assertThat(Files.readString(tmp.resolve("kept/" + ID + ".json"))).contains("3");
    }

    @Test
    void aProgramThatAnswersSomethingElseFailsTheRequest() throws IOException {
        Path script = tmp.resolve("wrong.sh");
        Files.writeString(script, "#!/bin/sh\nwhile read line; do echo \"error no disk\"; done\n");
        script.toFile().setExecutable(true);
        assertThatThrownBy(() -> new AnchorCommand(script.toString(), Duration.ofSeconds(30)).open(ID))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("answered 'error no disk' to 'read " + ID + "'");
    }

    @Test
    void aProgramThatEndsOrHangsFailsTheRequestAndIsStartedAgain() throws IOException {
        Path counter = tmp.resolve("runs");
        Path script = tmp.resolve("once.sh");
        // answers the first request of each run, and ends at the second without answering it
        Files.writeString(script, "#!/bin/sh\necho run >> " + counter + "\nread line; echo \"ok 4\"\nread line\n");
        script.toFile().setExecutable(true);
        try (Anchor a = new AnchorCommand(script.toString(), Duration.ofSeconds(30)).open(ID)) {
            assertThat(a.recorded()).isEqualTo(4);
            assertThatThrownBy(() -> a.advance(9)).isInstanceOf(IOException.class).hasMessageContaining("ended");
            a.advance(4); // nothing to do
            assertThatThrownBy(() -> a.advance(9)).isInstanceOf(IOException.class)
                    .hasMessageContaining("answered 4 to advance 9");
        }
        assertThat(Files.readAllLines(counter)).as("started again after it ended").hasSize(2);

        Path hung = tmp.resolve("hung.sh");
        Files.writeString(hung, "#!/bin/sh\nexec sleep 600\n");
        hung.toFile().setExecutable(true);
        assertThatThrownBy(() -> new AnchorCommand(hung.toString(), Duration.ofSeconds(1)).open(ID))
                .isInstanceOf(IOException.class).hasMessageContaining("did not answer within 1 s");
        assertThatThrownBy(() -> new AnchorCommand(tmp.resolve("missing").toString(), Duration.ofSeconds(1)).open(ID))
                .isInstanceOf(IOException.class).hasMessageContaining("cannot be run");
    }
}
