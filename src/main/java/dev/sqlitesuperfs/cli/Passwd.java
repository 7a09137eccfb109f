package dev.sqlitesuperfs.cli;

import dev.sqlitesuperfs.crypto.KdfStrength;
import dev.sqlitesuperfs.sealed.SealedNamespace;
import dev.sqlitesuperfs.store.NamespaceName;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * {@code sqlitesuperfs passwd NAMESPACE}: changes the passphrase by wrapping the same data key
 * under a key derived from the new passphrase with a new salt (see
 * {@link SealedNamespace#changePassphrase}). Key material, key check and metadata checksum change
 * in one transaction; no block, symlink target or attribute is touched.
 *
 * <p>Only while the namespace is not mounted: it takes the namespace lock, as a mount does, so a
 * mounted namespace is refused at once. (A mount never rereads its key material, so changing it
 * underneath would be harmless, but one owner at a time keeps the rule simple and leaves no doubt
 * about which passphrase the next mount needs.)
 */
final class Passwd {
    static final String USAGE = "usage: sqlitesuperfs passwd [--db URL | --fleet FILE] [--state-dir D] [--passphrase-file F]"
            + " [--new-passphrase-file F] [--kdf interactive|moderate|sensitive] NAMESPACE";

    private Passwd() {}

    /** The options only passwd takes. */
    private static final class Options implements NamespaceCommand.ExtraOptions {
        Path newFile;
        KdfStrength strength;

        @Override
        public boolean accept(String option, MountSettings.Options values) {
            switch (option) {
                case "--new-passphrase-file" -> newFile = Path.of(values.value(option));
                case "--kdf" -> strength = MountSettings.kdf(values.value(option));
                default -> {
                    return false;
                }
            }
            return true;
        }
    }

    static int run(List<String> args, Map<String, String> env, PrintStream out) {
        Options options = new Options();
        NamespaceCommand command = NamespaceCommand.parse(args, env, USAGE, options);
        NamespaceName name = command.namespace();
        return command.run(env, out, false, "change its passphrase", store -> {
            SealedNamespace.changePassphrase(store, name.value(), command.passphrases(env).prompt(name.value()),
                    PassphraseSource.replacement(options.newFile, env).prompt(name.value()), options.strength);
            out.println("changed the passphrase of namespace " + name.value() + "; the old one no longer opens it");
            return ExitCode.OK.code();
        });
    }
}
