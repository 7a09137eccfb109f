package dev.sqlitesuperfs.cli;

import dev.sqlitesuperfs.crypto.Passphrase;
import java.io.Console;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

/**
 * Where the passphrase comes from, in this order: --passphrase-file, the {@code encryption_pass}
 * environment variable (as the original project), a prompt on the terminal. Never the command
 * line: arguments are visible to every user in /proc.
 */
public final class PassphraseSource {
    static final String ENV = "encryption_pass";

    private final Path file;
    private final Map<String, String> env;

    public PassphraseSource(Path file, Map<String, String> env) {
        this.file = file;
        this.env = env;
    }

    /**
     * @param confirm ask twice on a terminal (a namespace is being created with it)
     */
    Passphrase obtain(String namespace, boolean confirm) {
        if (file != null) {
            return fromFile();
        }
        String fromEnv = env.get(ENV);
        if (fromEnv != null) {
            if (fromEnv.isEmpty()) {
                throw new CliException(ExitCode.PASSPHRASE, "the passphrase in $" + ENV + " is empty");
            }
            char[] chars = fromEnv.toCharArray();
            try {
                return Passphrase.fromChars(chars);
            } finally {
                Arrays.fill(chars, '\0');
            }
        }
        Console console = System.console();
        if (console == null || !console.isTerminal()) {
            throw new CliException(ExitCode.PASSPHRASE,
                    "no passphrase: give --passphrase-file, set $" + ENV + ", or run on a terminal");
        }
        char[] first = console.readPassword("Passphrase for namespace %s: ", namespace);
        if (first == null || first.length == 0) {
            throw new CliException(ExitCode.PASSPHRASE, "empty passphrase");
        }
        try {
            if (confirm) {
                char[] again = console.readPassword("New namespace: repeat the passphrase: ");
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

    private Passphrase fromFile() {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new CliException(ExitCode.PASSPHRASE, "cannot read passphrase file " + file + ": "
                    + e.getClass().getSimpleName());
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
