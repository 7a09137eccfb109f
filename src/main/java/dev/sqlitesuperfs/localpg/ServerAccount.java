package dev.sqlitesuperfs.localpg;

import dev.sqlitesuperfs.sys.Libc;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.UserPrincipal;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.nio.file.attribute.UserPrincipalNotFoundException;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The operating-system account the server runs as. PostgreSQL refuses to run as root, so root hands
 * the cluster to the {@code postgres} system account; anyone else runs it as themselves.
 */
final class ServerAccount {

    private static final Logger log = LoggerFactory.getLogger(ServerAccount.class);
    private static final String SYSTEM_ACCOUNT = "postgres";
    private static final Path SETPRIV = Path.of("/usr/bin/setpriv");

    private final UserPrincipal user;
    private final GroupPrincipal group;

    private ServerAccount(UserPrincipal user, GroupPrincipal group) {
        this.user = user;
        this.group = group;
    }

    static ServerAccount forCurrentProcess() {
        if (!isRoot()) {
            return new ServerAccount(null, null);
        }
        if (!Files.isExecutable(SETPRIV)) {
            throw new LocalPostgresException("running as root needs " + SETPRIV
                    + " (util-linux) to start PostgreSQL as the '" + SYSTEM_ACCOUNT + "' account");
        }
        UserPrincipalLookupService lookup = Path.of("/").getFileSystem().getUserPrincipalLookupService();
        try {
            return new ServerAccount(lookup.lookupPrincipalByName(SYSTEM_ACCOUNT),
                    lookup.lookupPrincipalByGroupName(SYSTEM_ACCOUNT));
        } catch (UserPrincipalNotFoundException e) {
            throw new LocalPostgresException("running as root needs the '" + SYSTEM_ACCOUNT
                    + "' system account to run PostgreSQL; install it with: apt-get install postgresql");
        } catch (IOException e) {
            throw new LocalPostgresException("cannot look up the '" + SYSTEM_ACCOUNT + "' account: " + e.getMessage(), e);
        }
    }

    private static boolean isRoot() {
        return Libc.geteuid() == 0;
    }

    /** {@code command} prefixed so that it runs as this account. */
    List<String> command(List<String> command) {
        if (user == null) {
            return command;
        }
        List<String> full = new ArrayList<>(List.of(SETPRIV.toString(),
                "--reuid=" + user.getName(), "--regid=" + group.getName(), "--init-groups", "--"));
        full.addAll(command);
        return full;
    }

    /** Gives {@code path} to this account (a no-op when the server runs as the current user). */
    void own(Path path) throws IOException {
        if (user == null) {
            return;
        }
        PosixFileAttributeView view = Files.getFileAttributeView(path, PosixFileAttributeView.class);
        view.setOwner(user);
        view.setGroup(group);
    }

    /**
     * Adds search permission for others to every ancestor of {@code path} the account could not
     * otherwise pass through; without it the server cannot reach its data directory.
     */
    void makeTraversable(Path path) throws IOException {
        if (user == null) {
            return;
        }
        for (Path dir = path.toAbsolutePath().getParent(); dir != null; dir = dir.getParent()) {
            PosixFileAttributeView view = Files.getFileAttributeView(dir, PosixFileAttributeView.class);
            if (view.getOwner().equals(user)) {
                continue;
            }
            Set<PosixFilePermission> permissions = EnumSet.copyOf(view.readAttributes().permissions());
            boolean groupMay = view.readAttributes().group().equals(group)
                    && permissions.contains(PosixFilePermission.GROUP_EXECUTE);
            if (!groupMay && permissions.add(PosixFilePermission.OTHERS_EXECUTE)) {
                log.info("Allowing the {} account to pass through {} (adding o+x)", user.getName(), dir);
                view.setPermissions(permissions);
            }
        }
    }

    String name() {
        return user == null ? System.getProperty("user.name") : user.getName();
    }
}
