package dev.sqlitesuperfs.testing;

import dev.sqlitesuperfs.host.Json;
import java.util.Map;

/**
 * Strict JSON for tests (RFC 8259, nothing more): one value and nothing after it but whitespace; no
 * trailing commas, comments, single quotes, unquoted names, leading zeros, raw control characters
 * in strings or repeated names. What the program prints with --json must pass this, so a script's
 * parser will read it. The reader is the host's control-protocol reader ({@link Json}), which is
 * that strict; objects become LinkedHashMaps, arrays Lists, numbers Long (integers) or Double.
 */
public final class StrictJson {
    private StrictJson() {}

    /** The one JSON value {@code text} holds; fails on anything that is not strictly JSON. */
    public static Object parse(String text) {
        try {
            return Json.parse(text);
        } catch (Json.Malformed e) {
            throw new IllegalArgumentException(e.getMessage() + ": " + text, e);
        }
    }

    /** {@link #parse} of a document that must be an object. */
    @SuppressWarnings("unchecked")
    public static Map<String, Object> object(String text) {
        Object value = parse(text);
        if (!(value instanceof Map)) {
            throw new IllegalArgumentException("not a JSON object: " + text);
        }
        return (Map<String, Object>) value;
    }
}
