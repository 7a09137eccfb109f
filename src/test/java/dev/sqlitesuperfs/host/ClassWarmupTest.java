package dev.sqlitesuperfs.host;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class ClassWarmupTest {

    /**
     * The warm-up finds the mount path's classes wherever they are loaded from (here directories
     * of classes and the driver's jar), and none outside its packages (the command line's, whose
     * initialization may act on the process).
     */
    @Test
    void findsTheMountPathsClassesAndNoOthers() {
        List<String> names = ClassWarmup.classNames();
        assertThat(names).contains("dev.sqlitesuperfs.fs.WriteBuffer", "dev.sqlitesuperfs.fuse.FuseSession",
                "dev.sqlitesuperfs.store.CommitWriter", "org.postgresql.core.v3.QueryExecutorImpl",
                "com.zaxxer.hikari.pool.HikariPool");
        assertThat(names).noneMatch(n -> n.startsWith("dev.sqlitesuperfs.cli.") || n.startsWith("dev.sqlitesuperfs.host.")
                || n.startsWith("dev.sqlitesuperfs.testing."));
    }
}
