package dev.sqlitesuperfs.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.testing.Posix;
import dev.sqlitesuperfs.testing.TestMount;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Directory listings that run while entries come and go. */
class LargeDirectoryTest {
    @RegisterExtension
    static final TestMount mount = TestMount.perClass();

    @Test
    void aNameReplacedByRenameDuringAListingIsListedOnce() throws IOException {
        Path dir = mount.path("replaced");
        Files.createDirectory(dir);
        for (int i = 0; i < 2000; i++) {
            Files.createFile(dir.resolve("name-" + i));
        }
        Map<String, Integer> seen = new HashMap<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            var it = entries.iterator();
            // the first names are returned (the rest is fetched later, in further readdir calls) ...
            for (int i = 0; i < 10; i++) {
                seen.merge(it.next().getFileName().toString(), 1, Integer::sum);
            }
            // ... then one of them is replaced by a new inode under the same name
            Path replacement = Files.createFile(dir.resolve("replacement"));
            String first = seen.keySet().iterator().next();
            Posix.rename(replacement, dir.resolve(first), 0);
            while (it.hasNext()) {
                seen.merge(it.next().getFileName().toString(), 1, Integer::sum);
            }
        }
        assertThat(seen).hasSize(2000);
        assertThat(seen.values()).containsOnly(1);
    }
}
