package dev.sqlitesuperfs.cli;

import java.io.PrintStream;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Secrets do not belong on the command line: every user can read a process's arguments in
 * /proc/PID/cmdline. No option takes the passphrase, and an attempt to give one is refused with
 * the ways that work; a database password inside {@code --db} works but gets a warning.
 */
final class CommandLineSecrets {
    private static final Set<String> PASSPHRASE_OPTIONS = Set.of("--passphrase", "--pass", "--password",
            "--new-passphrase", "-p");

    private CommandLineSecrets() {}

    static void check(List<String> args, PrintStream err) {
        for (int i = 0; i < args.size(); i++) {
            String arg = args.get(i);
            String option = arg.contains("=") ? arg.substring(0, arg.indexOf('=')) : arg;
            if (PASSPHRASE_OPTIONS.contains(option.toLowerCase(Locale.ROOT))) {
                throw new CliException(ExitCode.USAGE, option + ": a passphrase is never taken on the command line,"
                        + " where every user can read it; use --passphrase-file, $" + PassphraseSource.ENV
                        + " or the prompt");
            }
            if (arg.equals("--db") && i + 1 < args.size() && hasPassword(args.get(i + 1))) {
                err.println("sqlitesuperfs: warning: the database password in --db is visible to every user of this"
                        + " machine (ps, /proc); prefer $psql_url");
            }
        }
    }

    /** Whether a database URL carries a password (user:password@ or a password parameter). */
    static boolean hasPassword(String url) {
        int scheme = url.indexOf("://");
        String rest = scheme >= 0 ? url.substring(scheme + 3) : url;
        int slash = rest.indexOf('/');
        String authority = slash >= 0 ? rest.substring(0, slash) : rest;
        int at = authority.lastIndexOf('@');
        if (at >= 0 && authority.substring(0, at).contains(":")) {
            return true;
        }
        int query = rest.indexOf('?');
        if (query < 0) {
            return false;
        }
        for (String pair : rest.substring(query + 1).split("&")) {
            if (pair.toLowerCase(Locale.ROOT).startsWith("password=")) {
                return true;
            }
        }
        return false;
    }
}
