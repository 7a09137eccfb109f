package dev.sqlitesuperfs.host;

import dev.sqlitesuperfs.cli.CliException;
import dev.sqlitesuperfs.cli.ExitCode;
import dev.sqlitesuperfs.cli.MountSettings;
import dev.sqlitesuperfs.cli.PassphraseSource;
import dev.sqlitesuperfs.crypto.Passphrase;
import dev.sqlitesuperfs.store.NamespaceName;
import dev.sqlitesuperfs.sys.Libc;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The commands that talk to a host: {@code mount --host}, {@code status} and the host's side of
 * {@code unmount}. Each prints what the host answered, its message on stdout when it succeeded
 * and as the one line on stderr when not, and exits with the host's exit code.
 */
public final class HostCommands {
    static final String STATUS_USAGE = "usage: sqlitesuperfs status [--socket PATH] [--json]";

    private HostCommands() {}

    /**
     * {@code mount --host}: reads the passphrase as a standalone mount does (file, variable,
     * terminal), hands it to the host with the options, and returns once the mount serves. On a
     * terminal the passphrase is asked once; if the host answers that the namespace is new, it is
     * asked again, twice, as a standalone mount asks for a new namespace.
     */
    public static int mount(MountSettings settings, Map<String, String> env, PrintStream out, PrintStream err) {
        // the checks a standalone mount makes before anything else, in its order
        NamespaceName.parse(settings.namespace());
        PassphraseSource passphrases = new PassphraseSource(settings.passphraseFile(), env);
        passphrases.checkAvailable();
        boolean typedTwice = !passphrases.asksOnTerminal();
        ControlResponse answer = askToMount(settings, passphrases, typedTwice);
        if (answer.exitCode() != 0 && Boolean.TRUE.equals(answer.extra().get("confirm_passphrase"))
                && passphrases.asksOnTerminal()) {
            err.println("sqlitesuperfs: namespace " + settings.namespace() + " does not exist yet; type the passphrase"
                    + " that creates it twice");
            answer = askToMount(settings, passphrases, true);
        }
        return report(answer, out, err);
    }

    private static ControlResponse askToMount(MountSettings settings, PassphraseSource passphrases, boolean twice) {
        byte[] bytes;
        try (Passphrase passphrase = passphrases.obtain(settings.namespace(), twice && passphrases.asksOnTerminal())) {
            bytes = passphrase.copyBytes();
        }
        try {
            if (bytes.length > ControlRequest.MAX_PASSPHRASE) {
                throw new CliException(ExitCode.PASSPHRASE, "the passphrase is longer than the "
                        + ControlRequest.MAX_PASSPHRASE + " bytes a host takes");
            }
            ControlRequest.Mount request = new ControlRequest.Mount(settings.namespace(),
                    settings.mountPoint().toAbsolutePath().normalize(), settings.hostOptions(), settings.databaseUrl(),
                    Libc.geteuid(), Libc.getegid(), bytes.length, twice);
            return ControlClient.exchange(settings.hostSocket(), request, bytes);
        } finally {
            Arrays.fill(bytes, (byte) 0);
        }
    }

    /** {@code unmount DIR} of a mount the host on {@code socket} serves. */
    public static int unmount(Path socket, Path dir, PrintStream out, PrintStream err) {
        return report(ControlClient.exchange(socket, new ControlRequest.Unmount(dir.toAbsolutePath().normalize()),
                new byte[0]), out, err);
    }

    /** {@code status [--socket PATH] [--json]}. */
    public static int status(List<String> args, PrintStream out, PrintStream err) {
        Path socket = MountSettings.DEFAULT_HOST_SOCKET;
        boolean json = false;
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            if (a.equals("--json")) {
                json = true;
            } else if (a.equals("--socket") && i + 1 < args.size()) {
                socket = Path.of(args.get(++i));
            } else if (a.startsWith("--socket=") && a.length() > "--socket=".length()) {
                socket = Path.of(a.substring("--socket=".length()));
            } else if (a.equals("--help") || a.equals("-h")) {
                out.println(STATUS_USAGE);
                return ExitCode.OK.code();
            } else {
                throw new CliException(ExitCode.USAGE, (a.equals("--socket") ? "--socket needs a value"
                        : "unexpected argument " + a) + " (" + STATUS_USAGE + ")");
            }
        }
        ControlResponse answer = ControlClient.exchange(socket, new ControlRequest.Status(), new byte[0]);
        if (answer.exitCode() != 0) {
            return report(answer, out, err);
        }
        List<Map<String, Object>> namespaces = answer.objects("namespaces");
        if (json) {
            Map<String, Object> document = new LinkedHashMap<>();
            document.put("socket", socket.toAbsolutePath().toString());
            if (answer.extra().get("host") instanceof Map<?, ?> figures) {
                document.put("host", figures);
            }
            document.put("namespaces", namespaces);
            out.println(Json.write(document));
        } else {
            printTable(socket, namespaces, out);
        }
        boolean degraded = namespaces.stream().anyMatch(n -> NamespaceStatus.FAILED.equals(n.get("state")));
        return (degraded ? ExitCode.DEGRADED : ExitCode.OK).code();
    }

    private static void printTable(Path socket, List<Map<String, Object>> namespaces, PrintStream out) {
        if (namespaces.isEmpty()) {
            out.println("the host on " + socket + " serves no namespace");
            return;
        }
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[] {"NAMESPACE", "STATE", "SINCE", "INODES", "DIRECTORY"});
        for (Map<String, Object> n : namespaces) {
            boolean failed = NamespaceStatus.FAILED.equals(n.get("state"));
            rows.add(new String[] {text(n.get("namespace")), text(n.get("state")),
                    failed ? "-" : text(n.get("mounted_since")), failed ? "-" : text(n.get("inodes_in_memory")),
                    text(n.get("directory")) + (failed ? "  (exit " + text(n.get("exit_code")) + ": "
                            + text(n.get("error")) + ")" : "")});
        }
        int[] widths = new int[4];
        for (String[] row : rows) {
            for (int i = 0; i < widths.length; i++) {
                widths[i] = Math.max(widths[i], row[i].length());
            }
        }
        for (String[] row : rows) {
            StringBuilder line = new StringBuilder();
            for (int i = 0; i < widths.length; i++) {
                line.append(row[i]).append(" ".repeat(widths[i] - row[i].length() + 2));
            }
            out.println(line.append(row[4]));
        }
    }

    private static String text(Object value) {
        return value == null ? "-" : value.toString();
    }

    /** The host's message where the command's own would go, and its exit code. */
    private static int report(ControlResponse answer, PrintStream out, PrintStream err) {
        if (answer.exitCode() == ExitCode.OK.code()) {
            out.println(answer.message());
        } else {
            err.println("sqlitesuperfs: " + answer.message());
        }
        return answer.exitCode();
    }
}
