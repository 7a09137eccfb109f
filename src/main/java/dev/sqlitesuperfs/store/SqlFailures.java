package dev.sqlitesuperfs.store;

import java.io.IOException;
import java.sql.BatchUpdateException;
import java.sql.SQLException;
import java.sql.SQLRecoverableException;
import java.sql.SQLTransientConnectionException;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertificateException;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLHandshakeException;
import org.postgresql.util.PSQLException;
import org.postgresql.util.ServerErrorMessage;

/** Tells transient failures from real ones, and turns real ones into messages without row values. */
final class SqlFailures {

    /** Serialization failure, deadlock, and the server shutting down, crashing or starting up. */
    private static final Set<String> TRANSIENT_STATES = Set.of("40001", "40P01", "57P01", "57P02", "57P03");

    private SqlFailures() {}

    /** Worth retrying on a fresh connection or in a fresh transaction. */
    static boolean isTransient(Throwable failure) {
        if (tlsFailure(failure) != null) {
            return false;
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

    /** A serialization failure or deadlock: the transaction lost, the connection is fine. */
    static boolean isTransactionConflict(SQLException failure) {
        for (Throwable t = failure; t != null; t = next(t)) {
            if (t instanceof SQLException sql && ("40001".equals(sql.getSQLState()) || "40P01".equals(sql.getSQLState()))) {
                return true;
            }
        }
        return false;
    }

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
        SQLException detailed = mostSpecific(failure);
        String state = detailed.getSQLState() == null ? "none" : detailed.getSQLState();
        StringBuilder message = new StringBuilder(action).append(" in namespace ").append(namespace)
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
