package dev.sqlitesuperfs.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sqlitesuperfs.testing.TestPostgres;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class DatabaseConfigTest {

    @Test
    void parsesALibpqUriWithPercentEncodingAndParameters() {
        DatabaseConfig config = DatabaseConfig.parse(
                "postgresql://app%40corp:p%40ss%3Aw%2Frd+x@db.example.com:6543/my%20db"
                        + "?sslmode=verify-full&sslrootcert=/etc/ca.pem&connect_timeout=7&application_name=mine");
        assertThat(config.user()).isEqualTo("app@corp");
        assertThat(config.password()).isEqualTo("p@ss:w/rd+x");
        assertThat(config.endpoints()).containsExactly(new DatabaseConfig.Endpoint("db.example.com", 6543));
        assertThat(config.database()).isEqualTo("my db");
        assertThat(config.properties()).isEqualTo(Map.of("sslmode", "verify-full", "sslrootcert", "/etc/ca.pem",
                "connectTimeout", "7"));
        assertThat(config.applicationName()).isEqualTo("mine");
        assertThat(config.readPoolSize()).isEqualTo(8);
        assertThat(config.retryTimeout()).isEqualTo(Duration.ofSeconds(60));
    }

    @Test
    void acceptsPostgresAndJdbcSchemesSeveralHostsAndIpv6() {
        DatabaseConfig short_ = DatabaseConfig.parse("postgres://u@h1,h2:5433,[::1]:5434/db");
        assertThat(short_.endpoints()).containsExactly(new DatabaseConfig.Endpoint("h1", 5432),
                new DatabaseConfig.Endpoint("h2", 5433), new DatabaseConfig.Endpoint("::1", 5434));
        DatabaseConfig jdbc = DatabaseConfig.parse("jdbc:postgresql://h:5/db?user=u&password=secret&sslmode=require"
                + "&tcpKeepAlive=false&target_session_attrs=read-write");
        assertThat(jdbc.user()).isEqualTo("u");
        assertThat(jdbc.password()).isEqualTo("secret");
        assertThat(jdbc.properties()).containsEntry("sslmode", "require").containsEntry("tcpKeepAlive", "false")
                .containsEntry("targetServerType", "primary");
    }

    @Test
    void defaultsDatabaseToTheUserName() {
        assertThat(DatabaseConfig.parse("postgresql://alice@h").database()).isEqualTo("alice");
    }

    @Test
    void toStringNeverShowsThePassword() {
        DatabaseConfig config = DatabaseConfig.parse("postgresql://u:hunter2secret@h/db?sslpassword=keypass9&sslmode=require");
        assertThat(config.toString()).doesNotContain("hunter2secret").doesNotContain("keypass9")
                .contains("u@h:5432/db").contains("sslmode=require");
    }

    @ParameterizedTest
    @ValueSource(strings = {"mysql://u:pw@h/db", "postgresql://", "postgresql://u:pw@h:port/db",
            "postgresql://u:pw@h:99999/db", "postgresql://u:p%zzw@h/db", "postgresql://u@h/db?nosuchparameter=1",
            "postgresql://u@h/db?justaword", "postgresql://u@[::1/db", "postgresql://u:pw@/db"})
    void rejectsBadUrlsWithAClearMessage(String url) {
        assertThatThrownBy(() -> DatabaseConfig.parse(url))
                .isInstanceOf(IllegalArgumentException.class)
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("pw").doesNotContain("p%zzw").isNotBlank());
    }

    @Test
    void aPasswordWithAnUnencodedSlashIsNotEchoed() {
        assertThatThrownBy(() -> DatabaseConfig.parse("postgresql://u:qx7/zk9@h/db"))
                .isInstanceOf(IllegalArgumentException.class)
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("qx7").doesNotContain("zk9").contains("percent-encoded"));
    }

    @Test
    void connectsWithTheParsedUrlAndAnnouncesTheApplicationName() throws Exception {
        DatabaseConfig local = TestPostgres.config();
        DatabaseConfig.Endpoint endpoint = local.endpoints().getFirst();
        String url = "postgresql://" + local.user() + ":" + java.net.URLEncoder.encode(local.password(), "UTF-8")
                + "@" + endpoint.host() + ":" + endpoint.port() + "/" + local.database() + "?connect_timeout=5";
        DatabaseConfig parsed = DatabaseConfig.parse(url).withApplicationName("sqlitesuperfs-configtest");
        try (Connection connection = parsed.dataSource(":x").getConnection();
             Statement statement = connection.createStatement();
             ResultSet rows = statement.executeQuery("SELECT current_setting('application_name')")) {
            rows.next();
            assertThat(rows.getString(1)).isEqualTo("sqlitesuperfs-configtest:x");
        }
        assertThat(List.of(parsed.withReadPoolSize(3).readPoolSize())).containsExactly(3);
    }
}
