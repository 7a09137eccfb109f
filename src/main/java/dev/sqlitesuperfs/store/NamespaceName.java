package dev.sqlitesuperfs.store;

import java.util.Objects;

/**
 * The name of a namespace, which is also the name of its PostgreSQL schema: a lower-case ASCII
 * letter, then lower-case letters, digits or underscores, at most 63 bytes in all, and not starting
 * with {@code pg_} (PostgreSQL reserves those schema names). The rule keeps every name a valid,
 * case-stable identifier; SQL still only ever sees it quoted.
 */
public record NamespaceName(String value) {

    public static final int MAX_LENGTH = 63;

    public NamespaceName {
        Objects.requireNonNull(value, "value");
        String problem = problem(value);
        if (problem != null) {
            throw new IllegalArgumentException("invalid namespace name: " + problem + "; a namespace name is a "
                    + "lower-case ASCII letter followed by lower-case letters, digits or '_', at most "
                    + MAX_LENGTH + " characters, not starting with pg_");
        }
    }

    public static NamespaceName parse(String value) {
        return new NamespaceName(value);
    }

    /** The name as a quoted SQL identifier. */
    String quoted() {
        return NamespaceSql.quoteIdentifier(value);
    }

    @Override
    public String toString() {
        return value;
    }

    private static String problem(String value) {
        if (value.isEmpty()) {
            return "it is empty";
        }
        if (value.length() > MAX_LENGTH) {
            return "it is " + value.length() + " characters long";
        }
        if (value.startsWith("pg_")) {
            return "names starting with pg_ are reserved by PostgreSQL";
        }
        char first = value.charAt(0);
        if (first < 'a' || first > 'z') {
            return "it does not start with a lower-case letter";
        }
        for (int i = 1; i < value.length(); i++) {
            char c = value.charAt(i);
            boolean allowed = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
            if (!allowed) {
                return "character " + (i + 1) + " is not allowed";
            }
        }
        return null;
    }
}
