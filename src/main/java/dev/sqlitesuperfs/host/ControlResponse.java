package dev.sqlitesuperfs.host;

import dev.sqlitesuperfs.cli.ExitCode;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The host's answer to one request: one line of JSON, {@code {"version":1,"exit_code":N,
 * "message":"..."}} and, depending on the command, more members ({@code namespaces} for status,
 * {@code confirm_passphrase} for a mount that needs the passphrase typed twice). The exit code
 * is the one the same command would have exited with had it run standalone, so that the client
 * exits with it; the message is the one line it prints.
 *
 * @param extra further members, in order; never null
 */
record ControlResponse(int exitCode, String message, Map<String, Object> extra) {
    /** The longest answer a client reads: a status of some thousand namespaces. */
    static final int MAX_LINE = 4 << 20;

    ControlResponse {
        extra = Map.copyOf(extra);
    }

    static ControlResponse ok(String message) {
        return new ControlResponse(ExitCode.OK.code(), message, Map.of());
    }

    static ControlResponse failure(ExitCode code, String message) {
        return new ControlResponse(code.code(), message, Map.of());
    }

    ControlResponse with(String member, Object value) {
        Map<String, Object> more = new LinkedHashMap<>(extra);
        more.put(member, value);
        return new ControlResponse(exitCode, message, more);
    }

    String toLine() {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("version", ControlRequest.VERSION);
        json.put("exit_code", exitCode);
        json.put("message", message);
        // Map.copyOf forgets the order; the members are few and their names say what they are
        extra.entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e -> json.put(e.getKey(), e.getValue()));
        return Json.write(json) + "\n";
    }

    /** The answer a line holds; a line that is not one is the host's fault, told as such. */
    static ControlResponse parse(String line) throws ControlRequest.Refused {
        Object parsed;
        try {
            parsed = Json.parse(line);
        } catch (Json.Malformed e) {
            throw new ControlRequest.Refused("the host's answer is not valid JSON: " + e.getMessage());
        }
        if (!(parsed instanceof Map<?, ?> map)) {
            throw new ControlRequest.Refused("the host's answer is not a JSON object");
        }
        Map<String, Object> extra = new LinkedHashMap<>();
        map.forEach((k, v) -> extra.put((String) k, v));
        if (!(extra.remove("version") instanceof Long version) || version != ControlRequest.VERSION) {
            throw new ControlRequest.Refused("the host speaks another protocol version");
        }
        if (!(extra.remove("exit_code") instanceof Long code) || code < 0 || code > 255) {
            throw new ControlRequest.Refused("the host's answer has no exit code");
        }
        if (!(extra.remove("message") instanceof String message)) {
            throw new ControlRequest.Refused("the host's answer has no message");
        }
        extra.values().removeIf(java.util.Objects::isNull);
        return new ControlResponse(code.intValue(), message, extra);
    }

    /** A member that is a list of objects, as status's {@code namespaces}; empty when absent. */
    @SuppressWarnings("unchecked")
    List<Map<String, Object>> objects(String member) {
        if (extra.get(member) instanceof List<?> list && list.stream().allMatch(Map.class::isInstance)) {
            return (List<Map<String, Object>>) list;
        }
        return List.of();
    }
}
