package dev.sqlitesuperfs.store;

import java.io.ByteArrayOutputStream;
import java.io.PrintWriter;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.logging.Logger;
import javax.sql.DataSource;
import org.postgresql.PGProperty;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * Where and how to reach PostgreSQL.
 *
 * @param endpoints       hosts to try in order (libpq and pgjdbc both accept several)
 * @param database        database name
 * @param user            role to log in as
 * @param password        its password, or null to let the server decide (for example certificate login)
 * @param properties      further pgjdbc connection properties, by pgjdbc name (sslmode, sslrootcert, ...)
 * @param applicationName prefix of the application_name of every connection
 * @param readPoolSize    number of pooled read connections
 * @param retryTimeout    how long a call keeps retrying transient failures before
 *                        {@link StoreException.Unavailable}
 */
public record DatabaseConfig(
        List<Endpoint> endpoints,
        String database,
        String user,
        String password,
        Map<String, String> properties,
        String applicationName,
        int readPoolSize,
        Duration retryTimeout) {

    public static final String DEFAULT_APPLICATION_NAME = "sqlitesuperfs";
    public static final int DEFAULT_READ_POOL_SIZE = 8;
    public static final Duration DEFAULT_RETRY_TIMEOUT = Duration.ofSeconds(60);
    public static final int DEFAULT_PORT = 5432;
    /** Longest wait for one answer from the server; well above any single commit's duration. */
    public static final Duration DEFAULT_SOCKET_TIMEOUT = Duration.ofSeconds(300);

    /** One server address. */
    public record Endpoint(String host, int port) {
        public Endpoint {
            if (host == null || host.isEmpty()) {
                throw new IllegalArgumentException("database host must not be empty");
            }
            if (port < 1 || port > 65535) {
                throw new IllegalArgumentException("database port must be between 1 and 65535, got " + port);
            }
        }

        @Override
        public String toString() {
            return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
        }
    }

    /** Query parameters of libpq URIs whose pgjdbc name is not simply the camel-cased libpq name. */
    private static final Map<String, String> LIBPQ_TO_PGJDBC = Map.of(
            "application_name", PGProperty.APPLICATION_NAME.getName(),
            "target_session_attrs", PGProperty.TARGET_SERVER_TYPE.getName(),
            "keepalives", PGProperty.TCP_KEEP_ALIVE.getName());

    /** libpq's target_session_attrs values in pgjdbc's targetServerType vocabulary. */
    private static final Map<String, String> TARGET_SESSION_ATTRS = Map.of(
            "any", "any",
            "read-write", "primary",
            "primary", "primary",
            "read-only", "secondary",
            "standby", "secondary",
            "prefer-standby", "preferSecondary");

    public DatabaseConfig {
        endpoints = List.copyOf(endpoints);
        if (endpoints.isEmpty()) {
            throw new IllegalArgumentException("the database URL names no host");
        }
        Objects.requireNonNull(database, "database");
        Objects.requireNonNull(user, "user");
        if (database.isEmpty()) {
            throw new IllegalArgumentException("database name must not be empty");
        }
        if (user.isEmpty()) {
            throw new IllegalArgumentException("database user must not be empty");
        }
        properties = Collections.unmodifiableMap(new TreeMap<>(properties));
        for (String name : properties.keySet()) {
            if (PGProperty.forName(name) == null) {
                throw new IllegalArgumentException("unknown database connection parameter '" + name + "'");
            }
        }
        Objects.requireNonNull(applicationName, "applicationName");
        if (readPoolSize < 1) {
            throw new IllegalArgumentException("read pool size must be at least 1, got " + readPoolSize);
        }
        if (retryTimeout.isNegative() || retryTimeout.isZero()) {
            throw new IllegalArgumentException("retry timeout must be positive, got " + retryTimeout);
        }
    }

    /** A configuration for one host with the default application name, pool size and retry timeout. */
    public static DatabaseConfig of(String host, int port, String database, String user, String password) {
        return new DatabaseConfig(List.of(new Endpoint(host, port)), database, user, password, Map.of(),
                DEFAULT_APPLICATION_NAME, DEFAULT_READ_POOL_SIZE, DEFAULT_RETRY_TIMEOUT);
    }

    /**
     * Parses {@code postgresql://user:password@host:port/database?param=value&...} (also spelled
     * {@code postgres://}, as libpq accepts) or {@code jdbc:postgresql://...}. User, password, database
     * and parameter values are percent-decoded. Parameters become pgjdbc connection properties; libpq
     * names such as {@code connect_timeout} or {@code application_name} are translated.
     */
    public static DatabaseConfig parse(String url) {
        Objects.requireNonNull(url, "url");
        String rest = stripScheme(url.strip());
        int hash = rest.indexOf('#');
        if (hash >= 0) {
            throw new IllegalArgumentException("the database URL must not contain a fragment ('#')");
        }
        String query = null;
        int question = rest.indexOf('?');
        if (question >= 0) {
            query = rest.substring(question + 1);
            rest = rest.substring(0, question);
        }
        String path = "";
        int slash = rest.indexOf('/');
        if (slash >= 0) {
            path = rest.substring(slash + 1);
            rest = rest.substring(0, slash);
        }
        String user = null;
        String password = null;
        int at = rest.lastIndexOf('@');
        if (at >= 0) {
            String userInfo = rest.substring(0, at);
            rest = rest.substring(at + 1);
            int colon = userInfo.indexOf(':');
            if (colon >= 0) {
                user = decode(userInfo.substring(0, colon), "user name");
                password = decode(userInfo.substring(colon + 1), "password");
            } else {
                user = decode(userInfo, "user name");
            }
        }
        List<Endpoint> endpoints = parseHosts(rest);
        String database = path.isEmpty() ? null : decode(path, "database name");
        if (database != null && database.contains("/")) {
            throw new IllegalArgumentException("the database name in the URL must not contain '/'");
        }

        Map<String, String> properties = new TreeMap<>();
        String applicationName = DEFAULT_APPLICATION_NAME;
        if (query != null && !query.isEmpty()) {
            for (String pair : query.split("&", -1)) {
                if (pair.isEmpty()) {
                    continue;
                }
                int eq = pair.indexOf('=');
                if (eq <= 0) {
                    throw new IllegalArgumentException(
                            "every database URL parameter must look like name=value");
                }
                String name = decode(pair.substring(0, eq), "parameter name");
                String value = decode(pair.substring(eq + 1), "value of parameter '" + name + "'");
                switch (name) {
                    case "user" -> user = value;
                    case "password" -> password = value;
                    case "dbname" -> database = value;
                    case "application_name", "ApplicationName" -> applicationName = value;
                    default -> {
                        String pgjdbcName = pgjdbcName(name);
                        properties.put(pgjdbcName, pgjdbcValue(name, value));
                    }
                }
            }
        }
        if (user == null || user.isEmpty()) {
            user = System.getProperty("user.name");
        }
        if (database == null || database.isEmpty()) {
            // libpq's default: a database named like the user.
            database = user;
        }
        return new DatabaseConfig(endpoints, database, user, password, properties, applicationName,
                DEFAULT_READ_POOL_SIZE, DEFAULT_RETRY_TIMEOUT);
    }

    public DatabaseConfig withApplicationName(String name) {
        return new DatabaseConfig(endpoints, database, user, password, properties, name, readPoolSize, retryTimeout);
    }

    public DatabaseConfig withReadPoolSize(int size) {
        return new DatabaseConfig(endpoints, database, user, password, properties, applicationName, size, retryTimeout);
    }

    public DatabaseConfig withRetryTimeout(Duration timeout) {
        return new DatabaseConfig(endpoints, database, user, password, properties, applicationName, readPoolSize,
                timeout);
    }

    public DatabaseConfig withDatabase(String name) {
        return new DatabaseConfig(endpoints, name, user, password, properties, applicationName, readPoolSize,
                retryTimeout);
    }

    /**
     * A pgjdbc data source for this configuration whose connections announce
     * {@code applicationName + suffix}. Binary transfer stays on, TCP keep-alive is on, and server
     * error details (which quote row values) are kept out of exception messages. A connection
     * refused for a reason a user can fix (a wrong password, a missing database, a full server) is
     * reported in words that name the server, the user and the database
     * ({@code SqlFailures.explainConnectFailure}).
     */
    public DataSource dataSource(String applicationNameSuffix) {
        return new ExplainingDataSource(pgjdbcDataSource(applicationNameSuffix), this);
    }

    private PGSimpleDataSource pgjdbcDataSource(String applicationNameSuffix) {
        PGSimpleDataSource ds = new PGSimpleDataSource();
        ds.setServerNames(endpoints.stream().map(Endpoint::host).toArray(String[]::new));
        ds.setPortNumbers(endpoints.stream().mapToInt(Endpoint::port).toArray());
        ds.setDatabaseName(database);
        ds.setUser(user);
        if (password != null) {
            ds.setPassword(password);
        }
        ds.setProperty(PGProperty.TCP_KEEP_ALIVE, "true");
        ds.setProperty(PGProperty.BINARY_TRANSFER, "true");
        // Binary results from the first execution on (-1), not the fifth: many queries run once
        // per file (its block tags: hundreds of thousands of rows), and in text form every bytea
        // comes hex-encoded, twice its size, and is decoded again.
        ds.setProperty(PGProperty.PREPARE_THRESHOLD, "-1");
        // A network that goes silent without resetting the connection would otherwise hang a call
        // until TCP keep-alive notices (hours); a URL may set its own socketTimeout.
        ds.setProperty(PGProperty.SOCKET_TIMEOUT, Long.toString(DEFAULT_SOCKET_TIMEOUT.toSeconds()));
        ds.setProperty(PGProperty.CONNECT_TIMEOUT, "10");
        for (Map.Entry<String, String> property : properties.entrySet()) {
            try {
                ds.setProperty(property.getKey(), property.getValue());
            } catch (SQLException e) {
                throw new IllegalArgumentException("unknown database connection parameter '" + property.getKey() + "'", e);
            }
        }
        if (endpoints.size() > 1) {
            // Several servers: the one that takes writes, not a standby that would refuse every
            // commit; and what pgjdbc remembers of each server's role kept short, so that a
            // standby promoted after a failover is tried within a second.
            if (!properties.containsKey(PGProperty.TARGET_SERVER_TYPE.getName())) {
                ds.setProperty(PGProperty.TARGET_SERVER_TYPE, "primary");
            }
            if (!properties.containsKey(PGProperty.HOST_RECHECK_SECONDS.getName())) {
                ds.setProperty(PGProperty.HOST_RECHECK_SECONDS, "1");
            }
        }
        ds.setProperty(PGProperty.LOG_SERVER_ERROR_DETAIL, "false");
        ds.setProperty(PGProperty.APPLICATION_NAME, applicationName + applicationNameSuffix);
        return ds;
    }

    /** The URL without the password (and without any parameter whose name mentions one). */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("postgresql://");
        sb.append(user).append('@');
        for (int i = 0; i < endpoints.size(); i++) {
            if (i > 0) {
                sb.append(',');
            }
            sb.append(endpoints.get(i));
        }
        sb.append('/').append(database);
        char separator = '?';
        for (Map.Entry<String, String> property : properties.entrySet()) {
            sb.append(separator).append(property.getKey()).append('=');
            sb.append(isSecret(property.getKey()) ? "***" : property.getValue());
            separator = '&';
        }
        return sb.append(" (applicationName=").append(applicationName)
                .append(", readPoolSize=").append(readPoolSize)
                .append(", retryTimeout=").append(retryTimeout).append(')').toString();
    }

    private static boolean isSecret(String propertyName) {
        return propertyName.toLowerCase(Locale.ROOT).contains("password");
    }

    private static String stripScheme(String url) {
        for (String scheme : List.of("jdbc:postgresql://", "postgresql://", "postgres://")) {
            if (url.regionMatches(true, 0, scheme, 0, scheme.length())) {
                return url.substring(scheme.length());
            }
        }
        int colon = url.indexOf(':');
        String scheme = colon > 0 && colon < 20 ? url.substring(0, colon) : "none";
        throw new IllegalArgumentException("the database URL must start with postgresql://, postgres:// or "
                + "jdbc:postgresql:// (its scheme is " + safeName(scheme) + ")");
    }

    private static List<Endpoint> parseHosts(String hostList) {
        if (hostList.isEmpty()) {
            throw new IllegalArgumentException("the database URL names no host "
                    + "(Unix-domain sockets are not supported: give host[:port])");
        }
        List<Endpoint> endpoints = new ArrayList<>();
        for (String hostPort : hostList.split(",", -1)) {
            endpoints.add(parseHost(hostPort));
        }
        return endpoints;
    }

    private static Endpoint parseHost(String hostPort) {
        String host;
        String port = null;
        if (hostPort.startsWith("[")) {
            int close = hostPort.indexOf(']');
            if (close < 0) {
                throw new IllegalArgumentException("unclosed '[' in a database host");
            }
            host = hostPort.substring(1, close);
            String after = hostPort.substring(close + 1);
            if (after.startsWith(":")) {
                port = after.substring(1);
            } else if (!after.isEmpty()) {
                throw new IllegalArgumentException("unexpected text after ']' in a database host");
            }
        } else {
            int colon = hostPort.lastIndexOf(':');
            if (colon >= 0) {
                host = hostPort.substring(0, colon);
                port = hostPort.substring(colon + 1);
            } else {
                host = hostPort;
            }
        }
        host = decode(host, "host");
        if (host.isEmpty()) {
            throw new IllegalArgumentException("empty host in the database URL");
        }
        int portNumber = DEFAULT_PORT;
        if (port != null && !port.isEmpty()) {
            try {
                portNumber = Integer.parseInt(port);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("the database port must be a number"
                        + " (a password containing '/', '?', '@' or ':' must be percent-encoded)");
            }
        }
        return new Endpoint(host, portNumber);
    }

    private static String pgjdbcName(String name) {
        String translated = LIBPQ_TO_PGJDBC.get(name);
        if (translated != null) {
            return translated;
        }
        if (PGProperty.forName(name) != null) {
            return name;
        }
        String camel = camelCase(name);
        if (PGProperty.forName(camel) != null) {
            return camel;
        }
        throw new IllegalArgumentException("unknown database connection parameter '" + safeName(name) + "'");
    }

    private static String pgjdbcValue(String libpqName, String value) {
        return switch (libpqName) {
            case "target_session_attrs" -> {
                String type = TARGET_SESSION_ATTRS.get(value);
                if (type == null) {
                    throw new IllegalArgumentException("unsupported target_session_attrs '" + safeName(value)
                            + "' (use one of " + new TreeMap<>(TARGET_SESSION_ATTRS).keySet() + ")");
                }
                yield type;
            }
            case "keepalives" -> String.valueOf(!value.equals("0"));
            default -> value;
        };
    }

    private static String camelCase(String snake) {
        StringBuilder sb = new StringBuilder();
        boolean upper = false;
        for (char c : snake.toCharArray()) {
            if (c == '_') {
                upper = true;
            } else {
                sb.append(upper ? Character.toUpperCase(c) : c);
                upper = false;
            }
        }
        return sb.toString();
    }

    /** Percent-decodes one URL component as UTF-8; unlike form decoding, '+' stays '+'. */
    private static String decode(String component, String what) {
        if (component.indexOf('%') < 0) {
            return component;
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(component.length());
        for (int i = 0; i < component.length(); i++) {
            char c = component.charAt(i);
            if (c != '%') {
                byte[] encoded = String.valueOf(c).getBytes(StandardCharsets.UTF_8);
                bytes.write(encoded, 0, encoded.length);
                continue;
            }
            if (i + 2 >= component.length()) {
                throw new IllegalArgumentException("bad percent-encoding in the " + what + " of the database URL");
            }
            int high = Character.digit(component.charAt(i + 1), 16);
            int low = Character.digit(component.charAt(i + 2), 16);
            if (high < 0 || low < 0) {
                throw new IllegalArgumentException("bad percent-encoding in the " + what + " of the database URL");
            }
            bytes.write(high << 4 | low);
            i += 2;
        }
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(java.nio.ByteBuffer.wrap(bytes.toByteArray()))
                    .toString();
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException("the " + what + " of the database URL is not UTF-8 after percent-decoding");
        }
    }

    /**
     * Shortens a fragment of the URL quoted in a message. Only names (scheme, parameter names and
     * values) are ever quoted: a badly encoded URL can put pieces of the password where a host or
     * port belongs, so those are never echoed.
     */
    private static String safeName(String text) {
        return text.length() > 40 ? text.substring(0, 40) + "..." : text;
    }

    /** pgjdbc's data source, with the failures of opening a connection told in words. */
    private static final class ExplainingDataSource implements DataSource {
        private final PGSimpleDataSource pgjdbc;
        private final DatabaseConfig config;

        ExplainingDataSource(PGSimpleDataSource pgjdbc, DatabaseConfig config) {
            this.pgjdbc = pgjdbc;
            this.config = config;
        }

        @Override
        public Connection getConnection() throws SQLException {
            try {
                return pgjdbc.getConnection();
            } catch (SQLException e) {
                throw SqlFailures.explainConnectFailure(config, e);
            }
        }

        @Override
        public Connection getConnection(String username, String password) throws SQLException {
            try {
                return pgjdbc.getConnection(username, password);
            } catch (SQLException e) {
                throw SqlFailures.explainConnectFailure(config, e);
            }
        }

        @Override
        public PrintWriter getLogWriter() throws SQLException {
            return pgjdbc.getLogWriter();
        }

        @Override
        public void setLogWriter(PrintWriter out) throws SQLException {
            pgjdbc.setLogWriter(out);
        }

        @Override
        public void setLoginTimeout(int seconds) throws SQLException {
            pgjdbc.setLoginTimeout(seconds);
        }

        @Override
        public int getLoginTimeout() throws SQLException {
            return pgjdbc.getLoginTimeout();
        }

        @Override
        public Logger getParentLogger() throws SQLFeatureNotSupportedException {
            return pgjdbc.getParentLogger();
        }

        @Override
        public <T> T unwrap(Class<T> type) throws SQLException {
            return type.isInstance(this) ? type.cast(this) : pgjdbc.unwrap(type);
        }

        @Override
        public boolean isWrapperFor(Class<?> type) throws SQLException {
            return type.isInstance(this) || pgjdbc.isWrapperFor(type);
        }
    }
}
