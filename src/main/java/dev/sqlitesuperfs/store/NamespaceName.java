package dev.sqlitesuperfs.store;

import java.util.Objects;

/**
 * The name of a namespace, which is also the name of its PostgreSQL schema: a lower-case ASCII
 * letter, then lower-case letters, digits or underscores, at most 63 bytes in all, and not starting
 * with {@code pg_} (PostgreSQL reserves those schema names), and not {@value #CATALOG}, the schema of
 * the server's catalog of namespaces ({@link Catalog}). The rule keeps every name a valid,
 * case-stable identifier; SQL still only ever sees it quoted.
 */
public record NamespaceName(String value) {

    public static final int MAX_LENGTH = 63;

    /**
     * The schema that holds the catalog of the server's namespaces. It follows the rule for names
     * (so it is refused here, not by PostgreSQL), which means that a version of this program older
     * than the catalog could have made a namespace of that name: such a one must be renamed
     * ({@code ALTER SCHEMA sqlitesuperfs RENAME TO ...}; a namespace's seals bind its UUID, not its
     * name) before this version can use either.
     */
    public static final String CATALOG = "sqlitesuperfs";

    public NamespaceName {
        Objects.requireNonNull(value, "value");
        String problem = problem(value);
        if (problem != null) {
            throw new IllegalArgumentException("invalid namespace name: " + problem + "; a namespace name is a "
                    + "lower-case ASCII letter followed by lower-case letters, digits or '_', at most "
                    + MAX_LENGTH + " characters, not starting with pg_, and not " + CATALOG);
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
        if (value.equals(CATALOG)) {
            return CATALOG + " is the schema of the server's catalog of namespaces (an older namespace of that"
                    + " name must be renamed: ALTER SCHEMA " + CATALOG + " RENAME TO another_name)";
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
