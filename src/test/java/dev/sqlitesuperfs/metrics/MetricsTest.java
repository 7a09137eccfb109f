package dev.sqlitesuperfs.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sqlitesuperfs.fs.Filesystem;
import dev.sqlitesuperfs.fs.FsConfig;
import dev.sqlitesuperfs.store.StoreMetrics;
import dev.sqlitesuperfs.testing.MemoryNamespace;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/** The text a scrape gets, and the HTTP endpoint that serves it. */
class MetricsTest {
    private static final HostMetrics.Host HOST = new HostMetrics.Host(3, 10, 1 << 20, 4096, 1, 8);

    @Test
    void labelsAreEscapedAndNumbersWrittenAsPrometheusReadsThem() {
        PrometheusText t = new PrometheusText();
        t.family("x_total", "counter", "a help\nline").sample("x_total", 2, "namespace", "a\"b\\c\nd").sample("x_total", 0.25);
        assertThat(t.toString()).isEqualTo("""
                # HELP x_total a help\\nline
                # TYPE x_total counter
                x_total{namespace="a\\"b\\\\c\\nd"} 2
                x_total 0.25
                """);
        assertThat(PrometheusText.number(Double.POSITIVE_INFINITY)).isEqualTo("+Inf");
        assertThatThrownBy(() -> t.family("x_total", "counter", "again")).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void everyNamespaceAppearsInEveryFamilyWithAHistogramThatAddsUp() {
        try (MemoryNamespace a = MemoryNamespace.create(4096); MemoryNamespace b = MemoryNamespace.create(4096)) {
            Filesystem fa = Filesystem.open(config("a"), a.sealed());
            Filesystem fb = Filesystem.open(config("b"), b.sealed());
            try {
                String text = HostMetrics.render(HOST, List.of(
                        new HostMetrics.Namespace("a", fa.metrics(), new StoreMetrics(), java.util.Map.of("WRITE", 3L, "FSYNC", 2L)),
                        new HostMetrics.Namespace("b", fb.metrics(), new StoreMetrics(), java.util.Map.of())));
                assertThat(text).contains("sqlitesuperfs_host_db_connections 3\n", "sqlitesuperfs_host_namespaces 2\n",
                        "sqlitesuperfs_commits_total{namespace=\"a\"} 0\n", "sqlitesuperfs_commits_total{namespace=\"b\"} 0\n",
                        "sqlitesuperfs_fsync_seconds_bucket{namespace=\"b\",le=\"+Inf\"} 0\n",
                        "sqlitesuperfs_fsync_seconds_count{namespace=\"a\"} 0\n",
                        "sqlitesuperfs_fuse_requests_total{namespace=\"a\",op=\"WRITE\"} 3\n");
                assertThat(text.lines().filter(l -> l.startsWith("# TYPE")).map(l -> l.split(" ")[2]))
                        .as("each family declared once").doesNotHaveDuplicates();
            } finally {
                fa.destroy();
                fb.destroy();
            }
        }
    }

    @Test
    void theEndpointServesMetricsAnswersOtherPathsWith404AndSurvivesAFailingScrape() throws Exception {
        AtomicBoolean fail = new AtomicBoolean();
        try (MetricsServer server = MetricsServer.start(new InetSocketAddress("127.0.0.1", 0), () -> {
            if (fail.get()) {
                throw new IllegalStateException("broken source");
            }
            return HostMetrics.render(HOST, List.of());
        })) {
            HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
            String base = "http://127.0.0.1:" + server.address().getPort();
            HttpResponse<String> ok = client.send(HttpRequest.newBuilder(URI.create(base + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(ok.statusCode()).isEqualTo(200);
            assertThat(ok.headers().firstValue("Content-Type")).hasValue(PrometheusText.CONTENT_TYPE);
            assertThat(ok.body()).contains("sqlitesuperfs_host_request_workers 8\n");
            assertThat(client.send(HttpRequest.newBuilder(URI.create(base + "/")).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(404);
            fail.set(true);
            assertThat(client.send(HttpRequest.newBuilder(URI.create(base + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(500);
            fail.set(false);
            assertThat(client.send(HttpRequest.newBuilder(URI.create(base + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(200);
        }
    }

    @Test
    void aBadAddressIsOneLineNamingWhatIsWrong() {
        assertThat(MetricsServer.parseAddress("127.0.0.1:9464").getPort()).isEqualTo(9464);
        assertThat(MetricsServer.parseAddress("[::1]:0").getAddress().isLoopbackAddress()).isTrue();
        assertThatThrownBy(() -> MetricsServer.parseAddress("9464")).hasMessageContaining("expected HOST:PORT");
        assertThatThrownBy(() -> MetricsServer.parseAddress("localhost:70000")).hasMessageContaining("0 to 65535");
        assertThatThrownBy(() -> MetricsServer.parseAddress("localhost:x")).hasMessageContaining("got 'x'");
    }

    private static FsConfig config(String name) {
        return new FsConfig(name, 4096, 1 << 20, 1 << 20, Duration.ofDays(1), Duration.ofSeconds(1), false, 0, null, false);
    }
}
