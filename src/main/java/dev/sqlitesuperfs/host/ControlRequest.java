package dev.sqlitesuperfs.host;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One request on the control socket, as sent and as checked on arrival.
 *
 * <p>On the wire a request is one line of JSON (an object, UTF-8, ended by a newline, at most
 * {@link #MAX_LINE} bytes) with {@code "version": 1} and a {@code "command"}; a mount request is
 * followed by exactly {@code passphrase_bytes} raw bytes, the passphrase, outside the JSON so that
 * it never becomes a Java string the host cannot wipe. Members this version does not know are
 * refused rather than ignored: a client that means something this host cannot do is told so.
 */
sealed interface ControlRequest {
    int VERSION = 1;
    /** Far more than any request needs (the options of a mount are a few hundred bytes). */
    int MAX_LINE = 64 * 1024;
    /** The longest passphrase a client may hand over. */
    int MAX_PASSPHRASE = 64 * 1024;

    /** The request as the JSON object of its line. */
    Map<String, Object> toJson();

    /** {@code status}: what the host serves. */
    record Status() implements ControlRequest {
        @Override
        public Map<String, Object> toJson() {
            return header("status");
        }
    }

    /**
     * {@code mount}: mount {@code namespace} on {@code directory} with the options of
     * {@code sqlitesuperfs mount}.
     *
     * @param options    the mount options, as {@code MountSettings.hostOptions} gives them
     * @param database   the client's database URL ({@code --db} or {@code $psql_url}); null: the host's
     * @param uid        the client's effective uid, checked against the connection's credentials: the
     *                   mount's owner, as for a standalone mount
     * @param gid        the client's effective gid, checked likewise
     * @param passphraseBytes length of the passphrase that follows the line
     * @param typedTwice the passphrase came from a file or variable, or was typed twice alike: it
     *                   may create the namespace
     */
    record Mount(String namespace, Path directory, List<String> options, String database, int uid, int gid,
            int passphraseBytes, boolean typedTwice) implements ControlRequest {
        public Mount {
            options = List.copyOf(options);
        }

        @Override
        public Map<String, Object> toJson() {
            Map<String, Object> json = header("mount");
            json.put("namespace", namespace);
            json.put("directory", directory.toString());
            json.put("options", List.copyOf(options));
            if (database != null) {
                json.put("database", database);
            }
            json.put("uid", uid);
            json.put("gid", gid);
            json.put("passphrase_bytes", passphraseBytes);
            json.put("passphrase_typed_twice", typedTwice);
            return json;
        }

        /** Never the database URL, which may hold a password. */
        @Override
        public String toString() {
            return "mount " + namespace + " on " + directory;
        }
    }

    /** {@code unmount}: store everything of the mount on {@code directory} and unmount it. */
    record Unmount(Path directory) implements ControlRequest {
        @Override
        public Map<String, Object> toJson() {
            Map<String, Object> json = header("unmount");
            json.put("directory", directory.toString());
            return json;
        }
    }

    private static Map<String, Object> header(String command) {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("version", VERSION);
        json.put("command", command);
        return json;
    }

    /** A request the host does not accept; the message says why in one line. */
    final class Refused extends Exception {
        Refused(String message) {
            super(message, null, false, false);
        }
    }

    /** The request a line holds, every member checked for presence and type. */
    static ControlRequest parse(String line) throws Refused {
        Object parsed;
        try {
            parsed = Json.parse(line);
        } catch (Json.Malformed e) {
            throw new Refused("malformed request: " + e.getMessage());
        }
        if (!(parsed instanceof Map<?, ?> map)) {
            throw new Refused("malformed request: not a JSON object");
        }
        @SuppressWarnings("unchecked")
        Fields fields = new Fields((Map<String, Object>) map);
        long version = fields.integer("version", 0, Integer.MAX_VALUE);
        if (version != VERSION) {
            throw new Refused("protocol version " + version + " is not spoken here (this host speaks " + VERSION + ")");
        }
        String command = fields.string("command");
        ControlRequest request = switch (command) {
            case "status" -> new Status();
            case "mount" -> new Mount(fields.string("namespace"), fields.absolutePath("directory"),
                    fields.strings("options"), fields.optionalString("database"),
                    (int) fields.integer("uid", 0, 0xFFFF_FFFEL), (int) fields.integer("gid", 0, 0xFFFF_FFFEL),
                    (int) fields.integer("passphrase_bytes", 1, MAX_PASSPHRASE),
                    fields.bool("passphrase_typed_twice"));
            case "unmount" -> new Unmount(fields.absolutePath("directory"));
            default -> throw new Refused("unknown command \"" + command + "\" (this host knows status, mount, unmount)");
        };
        fields.checkAllRead();
        return request;
    }

    /** The members of a request's object, each taken with its expected type. */
    final class Fields {
        private static final Set<String> HEADER = Set.of("version", "command");
        private final Map<String, Object> members;
        private final List<String> read = new ArrayList<>(HEADER);

        Fields(Map<String, Object> members) {
            this.members = members;
        }

        private Object required(String name) throws Refused {
            if (!members.containsKey(name)) {
                throw new Refused("member \"" + name + "\" missing");
            }
            read.add(name);
            return members.get(name);
        }

        String string(String name) throws Refused {
            if (required(name) instanceof String s) {
                return s;
            }
            throw new Refused("member \"" + name + "\" must be a string");
        }

        String optionalString(String name) throws Refused {
            return members.containsKey(name) ? string(name) : null;
        }

        boolean bool(String name) throws Refused {
            if (required(name) instanceof Boolean b) {
                return b;
            }
            throw new Refused("member \"" + name + "\" must be true or false");
        }

        long integer(String name, long min, long max) throws Refused {
            if (required(name) instanceof Long n && n >= min && n <= max) {
                return n;
            }
            throw new Refused("member \"" + name + "\" must be a whole number from " + min + " to " + max);
        }

        List<String> strings(String name) throws Refused {
            if (required(name) instanceof List<?> list && list.stream().allMatch(String.class::isInstance)) {
                return list.stream().map(String.class::cast).toList();
            }
            throw new Refused("member \"" + name + "\" must be a list of strings");
        }

        Path absolutePath(String name) throws Refused {
            String text = string(name);
            if (!text.startsWith("/") || text.indexOf('\0') >= 0) {
                throw new Refused("member \"" + name + "\" must be an absolute path");
            }
            return Path.of(text).normalize();
        }

        void checkAllRead() throws Refused {
            for (String name : members.keySet()) {
                if (!read.contains(name)) {
                    throw new Refused("unknown member \"" + name + "\"");
                }
            }
        }
    }
}
