package dev.sqlitesuperfs.cli;

import dev.sqlitesuperfs.crypto.Passphrase;
import dev.sqlitesuperfs.sealed.SealedNamespace;
import java.io.Console;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

/**
 * Where a passphrase comes from, in this order: a file (--passphrase-file), an environment variable
 * ({@code encryption_pass}, as the original project), a prompt on the terminal. Never the command
 * line: arguments are visible to every user in /proc. A new passphrase (for {@code passwd}) comes
 * the same ways, from --new-passphrase-file or {@code new_encryption_pass}.
 */
public final class PassphraseSource {
    static final String ENV = "encryption_pass";
    static final String NEW_ENV = "new_encryption_pass";

    private final Path file;
    private final Map<String, String> env;
    private final String envName;
    private final String prompt;
    private final String repeatPrompt;
    /** A passphrase another process handed over (see {@link #handedOver}), or null. */
    private final byte[] given;
    private final boolean givenTypedTwice;
    private volatile boolean refusedUntyped;

    public PassphraseSource(Path file, Map<String, String> env) {
        this(file, env, ENV, "Passphrase for namespace %s: ", "New namespace: repeat the passphrase: ", null, false);
    }

    private PassphraseSource(Path file, Map<String, String> env, String envName, String prompt, String repeatPrompt,
            byte[] given, boolean givenTypedTwice) {
        this.file = file;
        this.env = env;
        this.envName = envName;
        this.prompt = prompt;
        this.repeatPrompt = repeatPrompt;
        this.given = given;
        this.givenTypedTwice = givenTypedTwice;
    }

    /**
     * A passphrase that the client of a host read its own way (file, variable, terminal) and
     * handed over the control socket. The array is used as it is, not copied: the caller zeroes it
     * once the mount has opened or failed. Where a terminal would ask twice (a namespace is being
     * created), {@code typedTwice} must say that the client did, else {@link #obtain} refuses and
     * {@link #refusedUnconfirmed} says so, so that the client can ask again.
     *
     * @param typedTwice the passphrase came from a file or variable, or was typed twice alike
     */
    public static PassphraseSource handedOver(byte[] utf8, boolean typedTwice) {
        return new PassphraseSource(null, Map.of(), ENV, null, null, utf8, typedTwice);
    }

    /** Whether {@link #obtain} refused a handed-over passphrase because it was typed only once. */
    public boolean refusedUnconfirmed() {
        return refusedUntyped;
    }

    /** Whether {@link #obtain} will ask on the terminal (no file, no variable). */
    public boolean asksOnTerminal() {
        return given == null && file == null && env.get(envName) == null;
    }

    /** The namespace's current passphrase, for {@code passwd}. */
    static PassphraseSource current(Path file, Map<String, String> env) {
        return new PassphraseSource(file, env, ENV, "Current passphrase for namespace %s: ", null, null, false);
    }

    /** The passphrase that replaces it; asked twice on a terminal. */
    static PassphraseSource replacement(Path file, Map<String, String> env) {
        return new PassphraseSource(file, env, NEW_ENV, "New passphrase for namespace %s: ",
                "Repeat the new passphrase: ", null, false);
    }

    /**
     * Refuses a passphrase that cannot be had at all: a file that is missing, unreadable, a
     * directory or empty, an empty or invalid {@code $encryption_pass}, or neither of them and no
     * terminal to ask on. A mount calls this before anything else (the mount directory, the
     * database), so that these mistakes are told the same way whatever else is wrong; a wrong
     * passphrase can only be told later, against the namespace's key. Reads the file or variable
     * and wipes what it read.
     */
    public void checkAvailable() {
        if (given != null) {
            if (given.length == 0) {
                throw new CliException(ExitCode.PASSPHRASE, "empty passphrase");
            }
        } else if (file != null) {
            fromFile().close();
        } else if (env.get(envName) != null) {
            fromEnv(env.get(envName)).close();
        } else {
            terminal();
        }
    }

    /** This source as the sealed layer asks it, which is only once a passphrase is needed. */
    SealedNamespace.PassphrasePrompt prompt(String namespace) {
        return chosenNow -> obtain(namespace, chosenNow);
    }

    /**
     * @param confirm ask twice on a terminal (a namespace is being created with it, or it replaces
     *                the old one)
     */
    public Passphrase obtain(String namespace, boolean confirm) {
        if (given != null) {
            if (confirm && !givenTypedTwice) {
                refusedUntyped = true;
                throw new CliException(ExitCode.PASSPHRASE, "namespace " + namespace + " does not exist yet; the"
                        + " passphrase that creates it must be typed twice");
            }
            return Passphrase.fromBytes(given);
        }
        if (file != null) {
            return fromFile();
        }
        String fromEnv = env.get(envName);
        if (fromEnv != null) {
            return fromEnv(fromEnv);
        }
        Console console = terminal();
        char[] first = console.readPassword(prompt, namespace);
        if (first == null || first.length == 0) {
            throw new CliException(ExitCode.PASSPHRASE, "empty passphrase");
        }
        try {
            if (confirm) {
                char[] again = console.readPassword(repeatPrompt);
                try {
                    if (again == null || !Arrays.equals(first, again)) {
                        throw new CliException(ExitCode.PASSPHRASE, "the two passphrases differ");
                    }
                } finally {
                    if (again != null) {
                        Arrays.fill(again, '\0');
                    }
                }
            }
            return Passphrase.fromChars(first);
        } finally {
            Arrays.fill(first, '\0');
        }
    }

    private Passphrase fromEnv(String value) {
        if (value.isEmpty()) {
            throw new CliException(ExitCode.PASSPHRASE, "the passphrase in $" + envName + " is empty");
        }
        char[] chars = value.toCharArray();
        try {
            return Passphrase.fromChars(chars);
        } catch (IllegalArgumentException e) {
            throw new CliException(ExitCode.PASSPHRASE, "the passphrase in $" + envName + " is not valid text: "
                    + e.getMessage());
        } finally {
            Arrays.fill(chars, '\0');
        }
    }

    private Console terminal() {
        Console console = System.console();
        if (console == null || !console.isTerminal()) {
            throw new CliException(ExitCode.PASSPHRASE,
                    "no passphrase: give " + (envName.equals(ENV) ? "--passphrase-file" : "--new-passphrase-file")
                            + ", set $" + envName + ", or run on a terminal");
        }
        return console;
    }

    private Passphrase fromFile() {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            String reason = switch (e) {
                case NoSuchFileException missing -> "it does not exist";
                case AccessDeniedException denied -> "permission denied";
                default -> Files.isDirectory(file) ? "it is a directory" : e.getClass().getSimpleName();
            };
            throw new CliException(ExitCode.PASSPHRASE, "cannot read passphrase file " + file + ": " + reason);
        }
        try {
            int end = bytes.length;
            if (end > 0 && bytes[end - 1] == '\n') {
                end--;
                if (end > 0 && bytes[end - 1] == '\r') {
                    end--;
                }
            }
            if (end == 0) {
                throw new CliException(ExitCode.PASSPHRASE, "passphrase file " + file + " is empty");
            }
            byte[] trimmed = Arrays.copyOf(bytes, end);
            try {
                return Passphrase.fromBytes(trimmed);
            } finally {
                Arrays.fill(trimmed, (byte) 0);
            }
        } finally {
            Arrays.fill(bytes, (byte) 0);
        }
    }
}
