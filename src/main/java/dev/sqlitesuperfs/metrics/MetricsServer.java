package dev.sqlitesuperfs.metrics;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves {@code GET /metrics} over plain HTTP on one address (meant for loopback or a private
 * network: the figures name namespaces and their activity, never keys or contents). One virtual
 * thread per scrape; a failing scrape is answered 500 and logged, and never touches the host.
 */
public final class MetricsServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(MetricsServer.class);

    private final HttpServer server;

    private MetricsServer(HttpServer server) {
        this.server = server;
    }

    /**
     * Parses {@code HOST:PORT} (an IPv6 address in brackets), as given to {@code serve --metrics}.
     *
     * @throws IllegalArgumentException with a one-line message naming what is wrong
     */
    public static InetSocketAddress parseAddress(String text) {
        int colon = text.lastIndexOf(':');
        if (colon <= 0 || colon == text.length() - 1) {
            throw new IllegalArgumentException("--metrics: expected HOST:PORT, e.g. 127.0.0.1:9464, got '" + text + "'");
        }
        String host = text.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        int port;
        try {
            port = Integer.parseInt(text.substring(colon + 1));
        } catch (NumberFormatException e) {
            port = -1;
        }
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("--metrics: port must be a number from 0 to 65535, got '"
                    + text.substring(colon + 1) + "'");
        }
        try {
            return new InetSocketAddress(InetAddress.getByName(host), port);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("--metrics: unknown host '" + host + "'");
        }
    }

    /**
     * Starts serving {@code body()} at {@code address}.
     *
     * @throws IOException if the address cannot be bound (in use, not local)
     */
    public static MetricsServer start(InetSocketAddress address, Supplier<String> body) throws IOException {
        HttpServer server = HttpServer.create(address, 16);
        server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
        server.createContext("/", exchange -> answer(exchange, body));
        server.start();
        return new MetricsServer(server);
    }

    /** Where it listens (the port chosen when 0 was asked for). */
    public InetSocketAddress address() {
        return server.getAddress();
    }

    private static void answer(HttpExchange exchange, Supplier<String> body) throws IOException {
        try (exchange) {
            if (!exchange.getRequestURI().getPath().equals("/metrics")) {
                send(exchange, 404, "text/plain; charset=utf-8", "not found; metrics are at /metrics\n");
            } else if (!exchange.getRequestMethod().equals("GET") && !exchange.getRequestMethod().equals("HEAD")) {
                send(exchange, 405, "text/plain; charset=utf-8", "only GET\n");
            } else {
                String text;
                try {
                    text = body.get();
                } catch (RuntimeException e) {
                    log.warn("metrics scrape failed: {}", e.toString());
                    send(exchange, 500, "text/plain; charset=utf-8", "metrics unavailable\n");
                    return;
                }
                send(exchange, 200, PrometheusText.CONTENT_TYPE, text);
            }
        }
    }

    private static void send(HttpExchange exchange, int status, String type, String text) throws IOException {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", type);
        boolean head = exchange.getRequestMethod().equals("HEAD");
        exchange.sendResponseHeaders(status, head ? -1 : bytes.length);
        if (!head) {
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(bytes);
            }
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
