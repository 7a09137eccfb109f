package dev.sqlitesuperfs.fs;

import static dev.sqlitesuperfs.fs.FsFixture.ROOT;
import static dev.sqlitesuperfs.fs.FsFixture.bytes;
import static dev.sqlitesuperfs.fs.FsFixture.errno;
import static dev.sqlitesuperfs.fs.FsFixture.text;
import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.fuse.Errno;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** setxattr(2) and friends: the create/replace flags, ENODATA, the limits, and durability at return. */
class XattrRulesTest {
    private static final int XATTR_CREATE = 1;
    private static final int XATTR_REPLACE = 2;

    private final FsFixture f = new FsFixture();
    private long ino;

    @AfterEach
    void close() {
        f.close();
    }

    private void set(String name, String value, int flags) {
        f.fs.setxattr(ROOT, ino, bytes(name), bytes(value), flags);
    }

    private String get(String name) {
        return text(f.fs.getxattr(ROOT, ino, bytes(name)));
    }

    @Test
    void createAndReplaceFlagsSayWhetherTheAttributeMayExist() {
        ino = f.file(1, "f", "data");
        assertThat(errno(() -> set("user.a", "v", XATTR_REPLACE))).isEqualTo(Errno.ENODATA);
        set("user.a", "first", XATTR_CREATE);
        assertThat(errno(() -> set("user.a", "again", XATTR_CREATE))).isEqualTo(Errno.EEXIST);
        assertThat(get("user.a")).isEqualTo("first");
        set("user.a", "second", XATTR_REPLACE);
        set("user.a", "third", 0);
        assertThat(get("user.a")).isEqualTo("third");
        set("user.b", "", 0);
        assertThat(f.fs.listxattr(ROOT, ino)).extracting(FsFixture::text).containsExactlyInAnyOrder("user.a", "user.b");
        assertThat(get("user.b")).as("an empty value is a value").isEmpty();
    }

    @Test
    void aMissingAttributeIsEnodata() {
        ino = f.file(1, "f", "data");
        assertThat(errno(() -> get("user.missing"))).isEqualTo(Errno.ENODATA);
        assertThat(errno(() -> f.fs.removexattr(ROOT, ino, bytes("user.missing")))).isEqualTo(Errno.ENODATA);
        set("user.a", "v", 0);
        f.fs.removexattr(ROOT, ino, bytes("user.a"));
        assertThat(errno(() -> get("user.a"))).isEqualTo(Errno.ENODATA);
        assertThat(f.fs.listxattr(ROOT, ino)).isEmpty();
    }

    @Test
    void namesAndValuesHaveTheLinuxLimits() {
        ino = f.file(1, "f", "data");
        byte[] largest = new byte[65536];
        f.fs.setxattr(ROOT, ino, bytes("user.large"), largest, 0);
        assertThat(f.fs.getxattr(ROOT, ino, bytes("user.large"))).isEqualTo(largest);
        assertThat(errno(() -> f.fs.setxattr(ROOT, ino, bytes("user.larger"), new byte[65537], 0)))
                .isEqualTo(Errno.E2BIG);
        String longest = "user." + "n".repeat(250);
        set(longest, "v", 0);
        assertThat(errno(() -> set(longest + "n", "v", 0))).isEqualTo(Errno.ERANGE);
        assertThat(errno(() -> set("", "v", 0))).isEqualTo(Errno.EINVAL);
        assertThat(errno(() -> set("nonamespace", "v", 0))).isEqualTo(Errno.EOPNOTSUPP);
        for (String allowed : new String[] {"trusted.t", "security.s"}) {
            set(allowed, "v", 0);
        }
    }

    @Test
    void anAttributeChangeIsStoredBeforeItReturnsAndSurvivesACrash() {
        ino = f.file(1, "f", "data");
        long dir = f.mkdir(1, "d");
        int before = f.store().transactions().size();
        set("user.a", "v", 0);
        assertThat(f.store().transactions()).as("one commit, with the creations before it").hasSize(before + 1);
        f.fs.setxattr(ROOT, dir, bytes("user.d"), bytes("on a directory"), 0);
        f.fs.removexattr(ROOT, ino, bytes("user.a"));
        set("user.b", "kept", 0);
        f.crashAndRemount();
        assertThat(f.fs.listxattr(ROOT, ino)).extracting(FsFixture::text).containsExactly("user.b");
        assertThat(get("user.b")).isEqualTo("kept");
        assertThat(text(f.fs.getxattr(ROOT, dir, bytes("user.d")))).isEqualTo("on a directory");
    }
}
