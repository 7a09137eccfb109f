package dev.sqlitesuperfs.fuse;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class MountTableTest {
    @Test
    void parsesMountinfoLinesWithAndWithoutOptionalFields() {
        List<MountTable.Mount> mounts = MountTable.parse(List.of(
                "22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:5 - proc proc rw",
                "61 22 0:52 / /tmp/with\\040space rw,nosuid,nodev,noatime - fuse.memtest my\\054fs rw,user_id=0",
                "62 22 0:53 / /mnt/x rw shared:1 master:2 - fuse.sqlitesuperfs tenant-a rw",
                "garbage"));

        assertThat(mounts).containsExactly(
                new MountTable.Mount("0:21", Path.of("/proc"), "proc", "proc"),
                new MountTable.Mount("0:52", Path.of("/tmp/with space"), "fuse.memtest", "my,fs"),
                new MountTable.Mount("0:53", Path.of("/mnt/x"), "fuse.sqlitesuperfs", "tenant-a"));
    }

    @Test
    void unescapesOnlyThreeDigitOctalEscapes() {
        assertThat(MountTable.unescape("a\\134b\\011c\\012")).isEqualTo("a\\b\tc\n");
        assertThat(MountTable.unescape("trailing\\04")).isEqualTo("trailing\\04");
        assertThat(MountTable.unescape("not\\9oct")).isEqualTo("not\\9oct");
    }

    @Test
    void readsThisProcessesMounts() {
        assertThat(MountTable.read()).anySatisfy(m -> assertThat(m.mountPoint()).isEqualTo(Path.of("/")));
    }
}
