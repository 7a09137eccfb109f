package dev.sqlitesuperfs.cli;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * JSON text as this program writes it (RFC 8259): the documents the admin commands print with
 * {@code --json} and the host's control protocol ({@code host.Json} reads it). Objects keep the
 * order their members were put in, so that output is stable and readable; strings are escaped as
 * the RFC requires, and U+2028/U+2029 too.
 */
public final class Json {

    private Json() {}

    /** An object to fill with {@link Obj#put}; members print in the order they were put. */
    static Obj object() {
        return new Obj();
    }

    static final class Obj {
        private final Map<String, Object> members = new LinkedHashMap<>();

        /**
         * Adds a member. Values: null, String, Boolean, Integer, Long, a finite Double, {@link Obj},
         * or a List of those.
         */
        Obj put(String name, Object value) {
            check(value);
            members.put(name, value);
            return this;
        }

        @Override
        public String toString() {
            StringBuilder out = new StringBuilder();
            write(this, out);
            return out.toString();
        }
    }

    /**
     * {@code value} as compact JSON text: null, String, Boolean, Integer, Long, a finite Double,
     * {@link Obj}, a Map with String keys, or a List of those.
     */
    public static String write(Object value) {
        StringBuilder out = new StringBuilder();
        write(value, out);
        return out.toString();
    }

    private static void check(Object value) {
        boolean known = value == null || value instanceof String || value instanceof Boolean
                || value instanceof Integer || value instanceof Long || value instanceof Obj
                || value instanceof Double d && Double.isFinite(d);
        if (value instanceof List<?> list) {
            list.forEach(Json::check);
        } else if (!known) {
            throw new IllegalArgumentException("not a JSON value here: " + value.getClass().getName());
        }
    }

    private static void write(Object value, StringBuilder out) {
        switch (value) {
            case null -> out.append("null");
            case String s -> string(s, out);
            case Obj o -> write(o.members, out);
            case Map<?, ?> map -> {
                out.append('{');
                boolean first = true;
                for (Map.Entry<?, ?> member : map.entrySet()) {
                    if (!first) {
                        out.append(',');
                    }
                    first = false;
                    string((String) member.getKey(), out);
                    out.append(':');
                    write(member.getValue(), out);
                }
                out.append('}');
            }
            case List<?> list -> {
                out.append('[');
                for (int i = 0; i < list.size(); i++) {
                    if (i > 0) {
                        out.append(',');
                    }
                    write(list.get(i), out);
                }
                out.append(']');
            }
            case Boolean b -> out.append(b);
            case Long n -> out.append(n);
            case Integer n -> out.append(n);
            case Double d when Double.isFinite(d) -> out.append(d); // Java's form is JSON's
            default -> throw new IllegalArgumentException("no JSON form for " + value.getClass().getName());
        }
    }

    /**
     * A string with the escapes RFC 8259 requires (quote, backslash, control characters), and
     * U+2028/U+2029, so that no reader that splits lines (JavaScript's, some log tools) cuts it.
     */
    private static void string(String s, StringBuilder out) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20 || c == '\u2028' || c == '\u2029') {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        out.append('"');
    }
}
