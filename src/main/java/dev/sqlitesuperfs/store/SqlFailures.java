package dev.sqlitesuperfs.store;

import java.io.IOException;
import java.sql.BatchUpdateException;
import java.sql.SQLException;
import java.sql.SQLRecoverableException;
import java.sql.SQLTransientConnectionException;
import java.util.Set;
import org.postgresql.util.PSQLException;
import org.postgresql.util.ServerErrorMessage;

/** Tells transient failures from real ones, and turns real ones into messages without row values. */
final class SqlFailures {

    /** Serialization failure, deadlock, and the server shutting down, crashing or starting up. */
    private static final Set<String> TRANSIENT_STATES = Set.of("40001", "40P01", "57P01", "57P02", "57P03");

    private SqlFailures() {}

    /** Worth retrying on a fresh connection or in a fresh transaction. */
    static boolean isTransient(Throwable failure) {
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
