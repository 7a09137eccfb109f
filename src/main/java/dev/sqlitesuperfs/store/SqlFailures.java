package dev.sqlitesuperfs.store;

import java.io.IOException;
import java.io.Serial;
import java.sql.BatchUpdateException;
import java.sql.SQLException;
import java.sql.SQLRecoverableException;
import java.sql.SQLTransientConnectionException;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertificateException;
import java.time.Duration;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLHandshakeException;
import org.postgresql.util.PSQLException;
import org.postgresql.util.ServerErrorMessage;

/** Tells transient failures from real ones, and turns real ones into messages without row values. */
final class SqlFailures {

    /**
     * Serialization failure, deadlock, the server shutting down, crashing or starting up, and the
     * server out of disk or memory (which an administrator can free: retried until the caller's
     * timeout like an outage).
     */
    private static final Set<String> TRANSIENT_STATES = Set.of("40001", "40P01", "57P01", "57P02", "57P03", "53100",
            "53200");

    private SqlFailures() {}

    /** Worth retrying on a fresh connection or in a fresh transaction. */
    static boolean isTransient(Throwable failure) {
        if (tlsFailure(failure) != null) {
            return false;
        }
        LoginFailure login = loginFailure(failure);
        if (login != null) {
            return login.retryable();
        }
        for (Throwable t = failure; t != null; t = next(t)) {
            if (t instanceof IOException || t instanceof SQLTransientConnectionException
                    || t instanceof SQLRecoverableException) {
                return true;
            }
            if (t instanceof SQLException sql && sql.getSQLState() != null) {
                String state = sql.getSQLState();
                if (state.startsWith("08") || TRANSIENT_STATES.contains(state)) {
                    return true;
                }
            }
        }
        return false;
    }

    /**
     * What went wrong setting up TLS, or null if {@code failure} is not about TLS: an untrusted or
     * mismatching server certificate, a server without TLS when it was required, an unreadable
     * certificate or key file. None of these heals by retrying, though pgjdbc reports them with a
     * connection SQLState.
     */
    static String tlsFailure(Throwable failure) {
        for (Throwable t = failure; t != null; t = next(t)) {
            String message = t.getMessage() == null ? "" : t.getMessage();
            if (message.contains("PKIX path") || t instanceof CertPathValidatorException) {
                return "the server's certificate is not signed by a CA in sslrootcert (or in Java's trust store)";
            }
            Matcher host = UNVERIFIED_HOST.matcher(message);
            if (host.find()) {
                return "the server's certificate is not for host " + host.group(1) + " (sslmode=verify-full checks it)";
            }
            if (message.contains("does not support SSL")) {
                return "the server does not support SSL, and sslmode requires it";
            }
            if (t instanceof SSLHandshakeException || t instanceof CertificateException
                    || (t instanceof PSQLException && message.contains("SSL"))) {
                return firstSentence(message.replaceFirst("^SSL error: ", ""));
            }
        }
        return null;
    }

    private static final Pattern UNVERIFIED_HOST = Pattern.compile("hostname (\\S+) could not be verified");

    private static String firstSentence(String message) {
        if (message == null) {
            return "no detail";
        }
        String line = message.lines().findFirst().orElse(message);
        int end = line.indexOf(". ");
        return end > 0 ? line.substring(0, end) : line;
    }

    /** A failure of the transaction alone (see {@link #SESSION_KEPT_STATES}): the connection is fine. */
    static boolean leavesSessionUsable(SQLException failure) {
        for (Throwable t = failure; t != null; t = next(t)) {
            if (t instanceof SQLException sql && SESSION_KEPT_STATES.contains(sql.getSQLState())) {
                return true;
            }
        }
        return false;
    }

    /**
     * Transient failures of one transaction that leave the session fine (a conflict, a deadlock, the
     * server out of disk or memory): rolled back and retried on the same connection.
     */
    private static final Set<String> SESSION_KEPT_STATES = Set.of("40001", "40P01", "53100", "53200");

    /**
     * A {@link StoreException} for a failure that retrying will not cure. Only the SQLState, a fixed
     * reason and, when the server names them, the table and constraint are kept: server messages can
     * quote values, and values here are file names and ciphertext.
     */
    static StoreException describe(String action, NamespaceName namespace, SQLException failure) {
        String tls = tlsFailure(failure);
        if (tls != null) {
            return new StoreException("namespace " + namespace + ": TLS to PostgreSQL failed: " + tls);
        }
        LoginFailure login = loginFailure(failure);
        if (login != null) {
            return new StoreException(login.getMessage(), login);
        }
        return describe(action + " in namespace " + namespace, failure);
    }

    /**
     * {@link #describe(String, NamespaceName, SQLException)} for work on the server's catalog of
     * namespaces rather than in one namespace: {@code action} says what failed ("listing namespaces").
     */
    static StoreException describeServerWork(String action, SQLException failure) {
        String tls = tlsFailure(failure);
        if (tls != null) {
            return new StoreException(action + ": TLS to PostgreSQL failed: " + tls);
        }
        LoginFailure login = loginFailure(failure);
        if (login != null) {
            return new StoreException(login.getMessage(), login);
        }
        return describe(action, failure);
    }

    /**
     * {@link #describe(String, NamespaceName, SQLException)} for a failure to open the connection
     * that holds the namespace: a refused login, a missing database or a full server in words.
     */
    static StoreException describeConnecting(NamespaceName namespace, SQLException failure) {
        String tls = tlsFailure(failure);
        if (tls != null) {
            return new StoreException("namespace " + namespace + ": TLS to PostgreSQL failed: " + tls);
        }
        LoginFailure login = loginFailure(failure);
        if (login != null) {
            return new StoreException(login.getMessage(), login);
        }
        return describe("connecting to PostgreSQL for namespace " + namespace, failure);
    }

    /**
     * The failure of something that kept failing transiently for longer than the retry timeout:
     * "PostgreSQL unavailable", unless the last failure says why in words (a full server).
     *
     * @param what  what failed, e.g. "opening namespace x"
     */
    static StoreException.Unavailable unavailable(String what, Duration timeout, Throwable lastFailure) {
        LoginFailure login = loginFailure(lastFailure);
        if (login != null) {
            return new StoreException.Unavailable(what + " failed for longer than " + timeout.toSeconds() + " s: "
                    + login.getMessage(), lastFailure);
        }
        String detail = detailOf(lastFailure);
        return new StoreException.Unavailable(what + " failed: PostgreSQL unavailable for longer than "
                + timeout.toSeconds() + " s" + (detail == null ? "" : " (" + detail + ")"), lastFailure);
    }

    /**
     * The first sentence of the failure under a pool's "connection is not available" wrapper
     * (pgjdbc's own, such as "Connection to host:port refused"), or null.
     */
    private static String detailOf(Throwable failure) {
        Throwable t = failure;
        while (t instanceof SQLTransientConnectionException && t.getCause() != null) {
            t = t.getCause();
        }
        return t == null || t.getMessage() == null ? null : firstSentence(t.getMessage());
    }

    private static StoreException describe(String failedAction, SQLException failure) {
        SQLException detailed = mostSpecific(failure);
        String state = detailed.getSQLState() == null ? "none" : detailed.getSQLState();
        StringBuilder message = new StringBuilder(failedAction)
                .append(" failed: ").append(reason(state)).append(" (SQLState ").append(state);
        if (detailed instanceof PSQLException psql && psql.getServerErrorMessage() != null) {
            ServerErrorMessage server = psql.getServerErrorMessage();
            if (server.getTable() != null) {
                message.append(", table ").append(server.getTable());
            }
            if (server.getConstraint() != null) {
                message.append(", constraint ").append(server.getConstraint());
            }
        }
        return new StoreException(message.append(')').toString());
    }

    private static String reason(String state) {
        return switch (state) {
            case "23503" -> "foreign key violation";
            case "23505" -> "unique violation";
            case "23502" -> "not-null violation";
            case "23514" -> "check violation";
            case "42P01" -> "table missing";
            case "3F000" -> "schema missing";
            case "42501" -> "permission denied";
            case "28P01" -> "password authentication failed";
            case "3D000" -> "database does not exist";
            case "53300" -> "too many connections";
            case "53100" -> "disk full";
            case "25006" -> "read-only transaction";
            default -> switch (state.length() >= 2 ? state.substring(0, 2) : state) {
                case "22" -> "invalid data";
                case "23" -> "integrity constraint violation";
                case "25" -> "invalid transaction state";
                case "28" -> "authentication failed";
                case "42" -> "syntax error or access rule violation";
                case "53" -> "insufficient resources";
                case "54" -> "program limit exceeded";
                case "55" -> "object not in prerequisite state";
                case "57" -> "operator intervention";
                case "58" -> "system error";
                case "XX" -> "internal error";
                default -> "database error";
            };
        };
    }

    /**
     * A failure to open a connection, told in words: which server refused which user and why,
     * which database is missing, which connection limit is reached. Made by the data sources of
     * {@link DatabaseConfig#dataSource} from what the server answered, so every connection of
     * the program reports it alike; found anywhere in a chain of causes (the read pool wraps it).
     */
    static final class LoginFailure extends SQLException {
        @Serial
        private static final long serialVersionUID = 1L;
        /** Only a full server heals by waiting: other clients leave. */
        private final boolean retryable;

        LoginFailure(String words, SQLException cause, boolean retryable) {
            super(words, cause.getSQLState(), cause);
            this.retryable = retryable;
        }

        boolean retryable() {
            return retryable;
        }
    }

    /**
     * {@code failure} of opening a connection with {@code config}, in words ({@link LoginFailure})
     * when it is a refused login (28P01, 28000: password, pg_hba.conf, NOLOGIN, no such role), a
     * missing database (3D000), a missing CONNECT privilege (42501), a connection limit (53300:
     * max_connections, or the role's or the database's CONNECTION LIMIT) or no password to give;
     * else {@code failure} itself. The server's message is only matched, never quoted: the words
     * name only the server, the user and the database of the URL (never its password).
     */
    static SQLException explainConnectFailure(DatabaseConfig config, SQLException failure) {
        if (failure instanceof LoginFailure) {
            return failure;
        }
        String state = failure.getSQLState() == null ? "" : failure.getSQLState();
        String serverText = failure instanceof PSQLException psql && psql.getServerErrorMessage() != null
                && psql.getServerErrorMessage().getMessage() != null
                ? psql.getServerErrorMessage().getMessage() : failure.getMessage() == null ? "" : failure.getMessage();
        String said = serverText.toLowerCase(Locale.ROOT);
        String server = "PostgreSQL at " + config.endpoints().stream().map(DatabaseConfig.Endpoint::toString)
                .collect(Collectors.joining(", "));
        String user = "\"" + config.user() + "\"";
        String database = "\"" + config.database() + "\"";
        String refused = server + " refused user " + user + ": ";
        String words = switch (state) {
            case "28P01" -> refused + "password authentication failed; the password is wrong or the user does not exist";
            case "28000" -> {
                if (said.contains("no pg_hba.conf entry")) {
                    yield refused + "no pg_hba.conf entry lets it connect to database " + database + " from this host"
                            + (said.contains("no encryption") ? " without TLS" : "");
                } else if (said.contains("pg_hba.conf rejects")) {
                    yield refused + "its pg_hba.conf rejects this user's connections to database " + database
                            + " from this host";
                } else if (said.contains("not permitted to log in")) {
                    yield refused + "the role may not log in (NOLOGIN)";
                } else if (said.contains("does not exist")) {
                    yield refused + "no such role";
                }
                yield refused + "authentication failed";
            }
            case "3D000" -> "database " + database + " does not exist on " + server;
            case "42501" -> "user " + user + " may not connect to database " + database + " on " + server
                    + ": it lacks the CONNECT privilege";
            case "53300" -> {
                if (said.contains("for role")) {
                    yield "user " + user + " has reached the connection limit of its role on " + server
                            + "; a mount uses up to " + (config.readPoolSize() + 1) + " connections";
                } else if (said.contains("for database")) {
                    yield "database " + database + " on " + server + " has reached its own connection limit";
                }
                yield server + " has reached its connection limit (max_connections): every connection slot is"
                        + " in use" + (said.contains("reserved") ? ", but those reserved for superusers" : "");
            }
            default -> said.contains("no password was provided")
                    ? server + " asks user " + user + " for a password, and the database URL gives none"
                    : null;
        };
        if (words == null) {
            return failure;
        }
        return new LoginFailure(words + " (SQLState " + (state.isEmpty() ? "none" : state) + ")", failure,
                state.equals("53300"));
    }

    /** The first {@link LoginFailure} in {@code failure}'s chain of causes, or null. */
    private static LoginFailure loginFailure(Throwable failure) {
        for (Throwable t = failure; t != null; t = next(t)) {
            if (t instanceof LoginFailure login) {
                return login;
            }
        }
        return null;
    }

    /** The exception that carries the server's error, not the batch wrapper around it. */
    private static SQLException mostSpecific(SQLException failure) {
        if (failure instanceof BatchUpdateException && failure.getNextException() != null) {
            return failure.getNextException();
        }
        return failure;
    }

    private static Throwable next(Throwable t) {
        if (t instanceof SQLException sql && sql.getNextException() != null && sql.getNextException() != t) {
            return sql.getNextException();
        }
        return t.getCause() == t ? null : t.getCause();
    }
}
