package dev.sqlitesuperfs.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sqlitesuperfs.cli.ExitCode;
import dev.sqlitesuperfs.localpg.LocalPostgres;
import dev.sqlitesuperfs.localpg.StopMode;
import dev.sqlitesuperfs.store.DatabaseConfig;
import dev.sqlitesuperfs.testing.CliProcess;
import dev.sqlitesuperfs.testing.Shell;
import dev.sqlitesuperfs.testing.TestMount;
import dev.sqlitesuperfs.testing.TestPostgres;
import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * TLS to PostgreSQL, with a server of its own (SSL on, a certificate of a CA made here with
 * openssl): the URL's sslmode, sslrootcert, sslcert and sslkey reach the driver, verify-full
 * mounts and every connection of the mount is encrypted, a wrong CA or a wrong host name is
 * refused at once with one line, and a client certificate logs in where the server demands one.
 */
class TlsTest {
    static final Duration DONE = Duration.ofSeconds(60);

    static Path dir;
    static LocalPostgres server;
    static Path ca;
    static Path otherCa;
    static Path clientCert;
    static Path clientKey;

    @BeforeAll
    static void startServerWithTls() throws Exception {
        dir = Files.createTempDirectory(Path.of("target"), "tls-").toAbsolutePath();
        Path certs = Files.createDirectories(dir.resolve("certs"));
        ca = makeCa(certs, "ca");
        otherCa = makeCa(certs, "other-ca");
        Path serverCert = sign(certs, "server", "127.0.0.1", "subjectAltName=IP:127.0.0.1");
        clientCert = sign(certs, "client", "certuser", "extendedKeyUsage=clientAuth");
        // pgjdbc reads client keys as unencrypted PKCS#8 DER
        clientKey = certs.resolve("client.pk8");
        openssl("pkcs8", "-topk8", "-nocrypt", "-outform", "DER", "-in", certs.resolve("client.key").toString(),
                "-out", clientKey.toString());

        server = LocalPostgres.start(dir.resolve("state"));
        Path data = server.dataDirectory();
        for (String name : new String[] {"server.crt", "server.key", "ca.crt"}) {
            Files.copy(certs.resolve(name), data.resolve("tls-" + name));
            Shell.run("chown", "--reference=" + data, data.resolve("tls-" + name).toString());
        }
        Shell.run("chmod", "0600", data.resolve("tls-server.key").toString());
        Path hba = data.resolve("pg_hba.conf");
        Files.writeString(hba, "hostssl all certuser 127.0.0.1/32 cert\n" + Files.readString(hba));
        try (Connection c = server.config().withApplicationName("sqlitesuperfs-test").dataSource("").getConnection();
                Statement s = c.createStatement()) {
            s.execute("ALTER SYSTEM SET ssl_cert_file = '" + data.resolve("tls-server.crt") + "'");
            s.execute("ALTER SYSTEM SET ssl_key_file = '" + data.resolve("tls-server.key") + "'");
            s.execute("ALTER SYSTEM SET ssl_ca_file = '" + data.resolve("tls-ca.crt") + "'");
            s.execute("ALTER SYSTEM SET ssl = on");
            s.execute("SELECT pg_reload_conf()");
            s.execute("CREATE ROLE certuser LOGIN SUPERUSER");
        }
    }

    @AfterAll
    static void stopServer() {
        if (server != null) {
            server.stopServer(StopMode.FAST);
        }
        TestPostgres.deleteRecursively(dir);
    }

    @Test
    void verifyFullMountsAndEveryConnectionOfTheMountIsEncrypted() throws Exception {
        DatabaseConfig config = DatabaseConfig.parse(url(ca, "verify-full"));
        assertThat(config.properties()).containsEntry("sslmode", "verify-full").containsEntry("sslrootcert", ca.toString());
        try (TestMount mount = TestMount.freshIn(config)) {
            Files.writeString(mount.path("f"), "over TLS");
            try (Connection c = server.config().withApplicationName("sqlitesuperfs-test").dataSource("").getConnection();
                    Statement s = c.createStatement();
                    ResultSet rows = s.executeQuery("SELECT count(*), count(*) FILTER (WHERE s.ssl)"
                            + " FROM pg_stat_activity a JOIN pg_stat_ssl s ON s.pid = a.pid"
                            + " WHERE a.application_name LIKE 'sqlitesuperfs:" + mount.namespace() + ":%'")) {
                rows.next();
                assertThat(rows.getLong(1)).as("connections of the mount").isPositive();
                assertThat(rows.getLong(2)).as("of which encrypted").isEqualTo(rows.getLong(1));
            }
            mount.remount();
            assertThat(Files.readString(mount.path("f"))).isEqualTo("over TLS");
        }
    }

    @Test
    void aServerCertificateFromAnotherCaIsRefusedAtOnceWithOneLine() throws IOException {
        Path mountDir = Files.createTempDirectory("sqlitesuperfs-tls-");
        try {
            // not retried as if the server were away: with a --db-timeout of a day, a retried
            // refusal would not end within DONE
            CliProcess refused = CliProcess.run(Map.of("psql_url", url(otherCa, "verify-full"), "encryption_pass", "x"),
                    DONE, "mount", "--kdf", "interactive", "--db-timeout", "86400", TestPostgres.freshNamespace(),
                    mountDir.toString());
            assertThat(refused.exitCode()).as(refused.stderr()).isEqualTo(ExitCode.DATABASE.code());
            assertThat(refused.stderr().lines()).hasSize(1);
            assertThat(refused.stderr()).contains("TLS to PostgreSQL failed", "not signed by a CA in sslrootcert").doesNotContain("\tat ", "Exception");

            CliProcess wrongHost = CliProcess.run(Map.of("psql_url", url(ca, "verify-full").replace("@127.0.0.1:",
                    "@localhost:"), "encryption_pass", "x"), DONE, "mount", TestPostgres.freshNamespace(), mountDir.toString());
            assertThat(wrongHost.exitCode()).as(wrongHost.stderr()).isEqualTo(ExitCode.DATABASE.code());
            assertThat(wrongHost.stderr().lines()).hasSize(1);
            assertThat(wrongHost.stderr()).contains("TLS to PostgreSQL failed", "not for host localhost");
        } finally {
            Files.deleteIfExists(mountDir);
        }
    }

    @Test
    void sslModeRequireAgainstAServerWithoutTlsIsRefusedWithOneLine() throws IOException {
        Path mountDir = Files.createTempDirectory("sqlitesuperfs-tls-");
        try {
            CliProcess refused = CliProcess.run(Map.of("psql_url", TestPostgres.url() + "?sslmode=require",
                    "encryption_pass", "x"), DONE, "mount", TestPostgres.freshNamespace(), mountDir.toString());
            assertThat(refused.exitCode()).as(refused.stderr()).isEqualTo(ExitCode.DATABASE.code());
            assertThat(refused.stderr().lines()).hasSize(1);
            assertThat(refused.stderr()).contains("TLS to PostgreSQL failed", "does not support SSL");
        } finally {
            Files.deleteIfExists(mountDir);
        }
    }

    /** The server demands a certificate for certuser: sslcert and sslkey from the URL log in, no password. */
    @Test
    void aClientCertificateFromTheUrlLogsIn() throws IOException {
        String url = "postgresql://certuser@127.0.0.1:" + server.port() + "/postgres?sslmode=verify-full&sslrootcert="
                + enc(ca) + "&sslcert=" + enc(clientCert) + "&sslkey=" + enc(clientKey);
        try (TestMount mount = TestMount.freshIn(DatabaseConfig.parse(url))) {
            Files.writeString(mount.path("f"), "logged in by certificate");
            assertThat(Files.readString(mount.path("f"))).isEqualTo("logged in by certificate");
        }
    }

    private static String url(Path rootCert, String mode) {
        DatabaseConfig c = server.config();
        return "postgresql://" + c.user() + ":" + URLEncoder.encode(c.password(), StandardCharsets.UTF_8)
                + "@127.0.0.1:" + server.port() + "/" + c.database() + "?sslmode=" + mode + "&sslrootcert=" + enc(rootCert);
    }

    private static String enc(Path path) {
        return URLEncoder.encode(path.toString(), StandardCharsets.UTF_8);
    }

    private static Path makeCa(Path certs, String name) {
        Path cert = certs.resolve(name + ".crt");
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", certs.resolve(name + ".key").toString(), "-out", cert.toString(), "-days", "2",
                "-subj", "/CN=sqlitesuperfs test " + name);
        return cert;
    }

    private static Path sign(Path certs, String name, String commonName, String extension) throws IOException {
        Path extensions = Files.writeString(certs.resolve(name + ".ext"), extension + "\n");
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", certs.resolve(name + ".key").toString(), "-out", certs.resolve(name + ".csr").toString(),
                "-subj", "/CN=" + commonName);
        Path cert = certs.resolve(name + ".crt");
        openssl("x509", "-req", "-in", certs.resolve(name + ".csr").toString(), "-CA", certs.resolve("ca.crt").toString(),
                "-CAkey", certs.resolve("ca.key").toString(), "-CAcreateserial", "-out", cert.toString(), "-days", "2",
                "-extfile", extensions.toString());
        return cert;
    }

    private static void openssl(String... args) {
        String[] command = new String[args.length + 1];
        command[0] = "openssl";
        System.arraycopy(args, 0, command, 1, args.length);
        Shell.run(command);
    }
}
