package dev.sqlitesuperfs.host;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The JSON (RFC 8259) of the control socket's requests and answers, and of {@code status --json}.
 *
 * <p>Values are plain Java objects: {@code Map<String, Object>} (members in document order),
 * {@code List<Object>}, String, Long (numbers without fraction or exponent), Double (other
 * numbers), Boolean and null. The reader is strict, because what it reads comes from another
 * process that may be hostile or broken: nothing after the value, no duplicate member names, no
 * comments, no unescaped control characters, nesting at most {@link #MAX_DEPTH} deep, and every
 * refusal a {@link Malformed} naming the offset where the text went wrong.
 */
public final class Json {
    /** Deeper than any request needs; bounds the reader's recursion. */
    static final int MAX_DEPTH = 16;

    private Json() {}

    /** Text that is not one JSON value, or not one this reader accepts. */
    public static final class Malformed extends Exception {
        Malformed(String message) {
            super(message, null, false, false);
        }
    }

    /** The one value {@code text} holds, with nothing but white space around it. */
    public static Object parse(String text) throws Malformed {
        Reader reader = new Reader(text);
        reader.skipSpace();
        Object value = reader.value(0);
        reader.skipSpace();
        if (reader.at < text.length()) {
            throw reader.malformed("unexpected text after the value");
        }
        return value;
    }

    /** {@code value} (of the types the reader returns, or Integer) as compact JSON text. */
    static String write(Object value) {
        return dev.sqlitesuperfs.cli.Json.write(value);
    }

    private static final class Reader {
        private final String text;
        private int at;

        Reader(String text) {
            this.text = text;
        }

        Malformed malformed(String what) {
            return new Malformed(what + " at offset " + at);
        }

        void skipSpace() {
            while (at < text.length()) {
                char c = text.charAt(at);
                if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
                    return;
                }
                at++;
            }
        }

        Object value(int depth) throws Malformed {
            if (at >= text.length()) {
                throw malformed("the text ends where a value should be");
            }
            char c = text.charAt(at);
            return switch (c) {
                case '{' -> object(depth + 1);
                case '[' -> array(depth + 1);
                case '"' -> string();
                case 't' -> literal("true", Boolean.TRUE);
                case 'f' -> literal("false", Boolean.FALSE);
                case 'n' -> literal("null", null);
                default -> {
                    if (c == '-' || (c >= '0' && c <= '9')) {
                        yield number();
                    }
                    throw malformed("unexpected character '" + printable(c) + "'");
                }
            };
        }

        private Map<String, Object> object(int depth) throws Malformed {
            checkDepth(depth);
            at++;
            Map<String, Object> members = new LinkedHashMap<>();
            skipSpace();
            if (peek() == '}') {
                at++;
                return members;
            }
            while (true) {
                skipSpace();
                if (peek() != '"') {
                    throw malformed("a member name (a string) expected");
                }
                String name = string();
                if (members.containsKey(name)) {
                    throw malformed("member \"" + name + "\" given twice");
                }
                skipSpace();
                expect(':');
                skipSpace();
                members.put(name, value(depth));
                skipSpace();
                char c = peek();
                at++;
                if (c == '}') {
                    return members;
                }
                if (c != ',') {
                    at--;
                    throw malformed("',' or '}' expected");
                }
            }
        }

        private List<Object> array(int depth) throws Malformed {
            checkDepth(depth);
            at++;
            List<Object> items = new ArrayList<>();
            skipSpace();
            if (peek() == ']') {
                at++;
                return items;
            }
            while (true) {
                skipSpace();
                items.add(value(depth));
                skipSpace();
                char c = peek();
                at++;
                if (c == ']') {
                    return items;
                }
                if (c != ',') {
                    at--;
                    throw malformed("',' or ']' expected");
                }
            }
        }

        private void checkDepth(int depth) throws Malformed {
            if (depth > MAX_DEPTH) {
                throw malformed("nested deeper than " + MAX_DEPTH + " levels");
            }
        }

        private String string() throws Malformed {
            at++;
            StringBuilder out = new StringBuilder();
            while (true) {
                if (at >= text.length()) {
                    throw malformed("the text ends inside a string");
                }
                char c = text.charAt(at++);
                if (c == '"') {
                    return out.toString();
                }
                if (c < 0x20) {
                    at--;
                    throw malformed("a control character inside a string");
                }
                if (c != '\\') {
                    out.append(c);
                    continue;
                }
                if (at >= text.length()) {
                    throw malformed("the text ends inside an escape");
                }
                char e = text.charAt(at++);
                switch (e) {
                    case '"', '\\', '/' -> out.append(e);
                    case 'b' -> out.append('\b');
                    case 'f' -> out.append('\f');
                    case 'n' -> out.append('\n');
                    case 'r' -> out.append('\r');
                    case 't' -> out.append('\t');
                    case 'u' -> out.append(hex4());
                    default -> {
                        at--;
                        throw malformed("unknown escape '\\" + printable(e) + "'");
                    }
                }
            }
        }

        private char hex4() throws Malformed {
            if (at + 4 > text.length()) {
                throw malformed("the text ends inside a \\u escape");
            }
            int v = 0;
            for (int i = 0; i < 4; i++) {
                int digit = Character.digit(text.charAt(at), 16);
                if (digit < 0) {
                    throw malformed("a \\u escape needs four hexadecimal digits");
                }
                v = v * 16 + digit;
                at++;
            }
            return (char) v;
        }

        private Object number() throws Malformed {
            int start = at;
            if (peek() == '-') {
                at++;
            }
            if (peek() == '0') {
                at++;
            } else if (isDigit(peek())) {
                digits();
            } else {
                throw malformed("a digit expected");
            }
            boolean integral = true;
            if (peek() == '.') {
                integral = false;
                at++;
                if (!isDigit(peek())) {
                    throw malformed("a digit expected after '.'");
                }
                digits();
            }
            if (peek() == 'e' || peek() == 'E') {
                integral = false;
                at++;
                if (peek() == '+' || peek() == '-') {
                    at++;
                }
                if (!isDigit(peek())) {
                    throw malformed("a digit expected in the exponent");
                }
                digits();
            }
            String literal = text.substring(start, at);
            if (integral) {
                try {
                    return Long.parseLong(literal);
                } catch (NumberFormatException e) {
                    // beyond a long: kept as a double, which no field of ours accepts as a count
                }
            }
            double d = Double.parseDouble(literal);
            if (!Double.isFinite(d)) {
                throw malformed("a number too large");
            }
            return d;
        }

        private void digits() {
            while (isDigit(peek())) {
                at++;
            }
        }

        private static boolean isDigit(char c) {
            return c >= '0' && c <= '9';
        }

        private Object literal(String word, Object value) throws Malformed {
            if (!text.startsWith(word, at)) {
                throw malformed("unexpected text (not " + word + ")");
            }
            at += word.length();
            return value;
        }

        private void expect(char c) throws Malformed {
            if (peek() != c) {
                throw malformed("'" + c + "' expected");
            }
            at++;
        }

        /** The next character, or NUL at the end (which no rule accepts). */
        private char peek() {
            return at < text.length() ? text.charAt(at) : '\0';
        }

        private static String printable(char c) {
            return c < 0x20 || c > 0x7e ? String.format("\\u%04x", (int) c) : String.valueOf(c);
        }
    }
}
