package dev.sqlitesuperfs.fuse;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.sys.Libc;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class MounterTest {
    private static MountOptions options(boolean allowOther, boolean defaultPermissions, boolean readOnly,
            List<String> extra) {
        return new MountOptions(Path.of("/mnt/x"), "tenant,a\\b", "sqlitesuperfs", 1000, 2000, allowOther,
                defaultPermissions, readOnly, extra, 1 << 20, 4, true);
    }

    @Test
    void syscallDataCarriesDescriptorOwnerAndChosenOptions() {
        assertThat(Mounter.syscallData(options(true, true, false, List.of("max_read=131072")), 7))
                .isEqualTo("fd=7,rootmode=40000,user_id=1000,group_id=2000,default_permissions,allow_other,"
                        + "max_read=131072");
        assertThat(Mounter.syscallData(options(false, false, false, List.of()), 3))
                .isEqualTo("fd=3,rootmode=40000,user_id=1000,group_id=2000");
    }

    @Test
    void ownerIdsAreWrittenUnsigned() {
        MountOptions nobody = new MountOptions(Path.of("/mnt/x"), "n", "s", -2, -2, false, false, false,
                List.of(), 4096, 1, false);
        assertThat(Mounter.syscallData(nobody, 3)).contains("user_id=4294967294,group_id=4294967294");
    }

    @Test
    void syscallFlagsAlwaysForbidSuidDevicesAndAtimeAndAddReadOnly() {
        long base = Libc.MS_NOSUID | Libc.MS_NODEV | Libc.MS_NOATIME;
        assertThat(Mounter.syscallFlags(options(false, true, false, List.of()))).isEqualTo(base);
        assertThat(Mounter.syscallFlags(options(false, true, true, List.of()))).isEqualTo(base | Libc.MS_RDONLY);
    }

    @Test
    void genericMountOptionsBecomeFlagsAndStayOutOfTheData() {
        MountOptions o = options(false, true, false, List.of("noexec", "sync", "atime", "max_read=131072"));
        long flags = Mounter.syscallFlags(o);
        assertThat(flags & 8).as("MS_NOEXEC").isEqualTo(8);
        assertThat(flags & 16).as("MS_SYNCHRONOUS").isEqualTo(16);
        assertThat(flags & Libc.MS_NOATIME).as("atime clears MS_NOATIME").isZero();
        assertThat(Mounter.syscallData(o, 3)).contains("max_read=131072").doesNotContain("noexec", "sync", "atime");
    }

    @Test
    void fusermountOptionsEscapeTheNameAndLeaveOwnershipToFusermount() {
        assertThat(Mounter.fusermountOptions(options(true, true, true, List.of("max_read=65536"))))
                .isEqualTo("fsname=tenant\\,a\\\\b,subtype=sqlitesuperfs,nosuid,nodev,noatime,ro,"
                        + "default_permissions,allow_other,max_read=65536");
        assertThat(Mounter.fusermountOptions(options(false, false, false, List.of())))
                .isEqualTo("fsname=tenant\\,a\\\\b,subtype=sqlitesuperfs,nosuid,nodev,noatime,rw");
    }
}
