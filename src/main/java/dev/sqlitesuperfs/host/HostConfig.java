package dev.sqlitesuperfs.host;

import dev.sqlitesuperfs.cli.CliException;
import dev.sqlitesuperfs.cli.ExitCode;
import dev.sqlitesuperfs.cli.MountSettings;
import dev.sqlitesuperfs.store.NamespaceName;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The namespaces a host mounts when it starts ({@code serve --config FILE}), one per line, as
 * /etc/fstab lists filesystems:
 *
 * <pre>
 * # NAMESPACE  DIRECTORY  PASSPHRASE                          [MOUNT OPTIONS...]
 * app          /srv/app   passphrase-file=/etc/sqlitesuperfs/app.pass
 * reports      /srv/rep   key-command="/usr/bin/systemd-creds decrypt /etc/rep.cred -"  --read-only --cache-size 1G
 * </pre>
 *
 * <p>Fields are separated by white space; a field may be written in double quotes to hold white
 * space ({@code \"} and {@code \\} inside quotes stand for a quote and a backslash); a field
 * starting with {@code #} starts a comment that runs to the end of the line. The directory is
 * absolute. The passphrase is {@code passphrase-file=PATH} (an absolute path, read by the host as
 * {@code --passphrase-file} reads it) or {@code key-command=COMMAND} ({@link KeyCommand}). Mount
 * options are those of {@code sqlitesuperfs mount}, written as on its command line, except the
 * client's own (--host, --socket, --passphrase-file).
 *
 * <p>Every line is checked when the host starts, before it does anything else: a bad line stops
 * it with a one-line error naming the file and the line, and exit code {@link ExitCode#USAGE}.
 * What can only be known by mounting (a wrong passphrase, a missing directory, an unreachable
 * database) is not a bad line: that namespace fails alone.
 */
record HostConfig(Path file, List<Entry> entries) {

    /**
     * One line: a namespace to mount, and how.
     *
     * @param passphraseFile where the passphrase is, or null
     * @param keyCommand     the program and arguments that print the passphrase, or null
     */
    record Entry(int line, String origin, MountSettings settings, Path passphraseFile, List<String> keyCommand) {
        String namespace() {
            return settings.namespace();
        }

        Path directory() {
            return settings.mountPoint().normalize();
        }
    }

    static HostConfig empty() {
        return new HostConfig(null, List.of());
    }

    /** Reads and checks {@code file}; {@code env} gives the database of lines that name none ($psql_url). */
    static HostConfig read(Path file, Map<String, String> env) {
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .decode(java.nio.ByteBuffer.wrap(Files.readAllBytes(file))).toString();
        } catch (NoSuchFileException e) {
            throw new CliException(ExitCode.USAGE, "cannot read config file " + file + ": it does not exist");
        } catch (AccessDeniedException e) {
            throw new CliException(ExitCode.USAGE, "cannot read config file " + file + ": permission denied");
        } catch (CharacterCodingException e) {
            throw new CliException(ExitCode.USAGE, "config file " + file + " is not UTF-8 text");
        } catch (IOException e) {
            throw new CliException(ExitCode.USAGE, "cannot read config file " + file + ": "
                    + (Files.isDirectory(file) ? "it is a directory" : ControlSocket.reason(e)));
        }
        return parse(file, text, env);
    }

    static HostConfig parse(Path file, String text, Map<String, String> env) {
        List<Entry> entries = new ArrayList<>();
        String[] lines = text.split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            int number = i + 1;
            try {
                List<String> fields = fields(lines[i]);
                if (!fields.isEmpty()) {
                    Entry entry = entry(file + ":" + number, number, fields, env);
                    checkUnique(entry, entries);
                    entries.add(entry);
                }
            } catch (CliException | IllegalArgumentException e) {
                throw new CliException(ExitCode.USAGE, file + ":" + number + ": " + e.getMessage());
            }
        }
        return new HostConfig(file, List.copyOf(entries));
    }

    private static Entry entry(String origin, int line, List<String> fields, Map<String, String> env) {
        if (fields.size() < 3) {
            throw new IllegalArgumentException("a line needs NAMESPACE DIRECTORY and passphrase-file=PATH or"
                    + " key-command=COMMAND, then mount options");
        }
        String namespace = fields.get(0);
        NamespaceName.parse(namespace);
        String directory = fields.get(1);
        if (!directory.startsWith("/")) {
            throw new IllegalArgumentException("the directory " + directory + " is not an absolute path");
        }
        String passphrase = fields.get(2);
        Path passphraseFile = null;
        List<String> keyCommand = null;
        if (passphrase.startsWith("passphrase-file=")) {
            passphraseFile = Path.of(passphrase.substring("passphrase-file=".length()));
            if (!passphraseFile.isAbsolute()) {
                throw new IllegalArgumentException("passphrase-file=" + passphraseFile + " is not an absolute path");
            }
        } else if (passphrase.startsWith("key-command=")) {
            keyCommand = KeyCommand.split(passphrase.substring("key-command=".length()));
        } else {
            throw new IllegalArgumentException("the third field must be passphrase-file=PATH or key-command=COMMAND,"
                    + " not " + passphrase);
        }
        List<String> args = new ArrayList<>(fields.subList(3, fields.size()));
        args.add(namespace);
        args.add(directory);
        MountSettings settings;
        try {
            settings = MountSettings.parse(args, env);
        } catch (CliException e) {
            if (e.getMessage().startsWith("mount needs NAMESPACE and DIR")) {
                throw new IllegalArgumentException("a field among the mount options is not an option");
            }
            throw e;
        }
        if (settings.hostSocket() != null || settings.passphraseFile() != null) {
            throw new IllegalArgumentException("--host, --socket and --passphrase-file have no place here; the"
                    + " passphrase is the third field");
        }
        HostResources.checkMountOptions(settings);
        return new Entry(line, origin, settings, passphraseFile, keyCommand);
    }

    private static void checkUnique(Entry entry, List<Entry> earlier) {
        for (Entry other : earlier) {
            if (other.directory().equals(entry.directory())) {
                throw new IllegalArgumentException("directory " + entry.directory() + " is already used on line "
                        + other.line());
            }
            if (other.namespace().equals(entry.namespace())
                    && Objects.equals(other.settings().databaseUrl(), entry.settings().databaseUrl())) {
                throw new IllegalArgumentException("namespace " + entry.namespace() + " is already mounted on line "
                        + other.line() + " (a namespace is mounted once)");
            }
        }
    }

    /** The fields of one line: white-space separated, double quotes group, # starts a comment. */
    static List<String> fields(String line) {
        List<String> fields = new ArrayList<>();
        StringBuilder field = null;
        boolean quoted = false;
        for (int i = 0; i < line.length(); i++) {
            char c = line.charAt(i);
            if (Character.isISOControl(c) && c != '\t' && c != '\r') {
                throw new IllegalArgumentException("a control character (" + (int) c + ") in the line");
            }
            if (quoted) {
                if (c == '\\' && i + 1 < line.length() && (line.charAt(i + 1) == '"' || line.charAt(i + 1) == '\\')) {
                    field.append(line.charAt(++i));
                } else if (c == '"') {
                    quoted = false;
                } else {
                    field.append(c);
                }
            } else if (c == ' ' || c == '\t' || c == '\r') {
                if (field != null) {
                    fields.add(field.toString());
                    field = null;
                }
            } else if (c == '#' && field == null) {
                break;
            } else {
                if (field == null) {
                    field = new StringBuilder();
                }
                if (c == '"') {
                    quoted = true;
                } else {
                    field.append(c);
                }
            }
        }
        if (quoted) {
            throw new IllegalArgumentException("a double quote is not closed");
        }
        if (field != null) {
            fields.add(field.toString());
        }
        return fields;
    }
}
