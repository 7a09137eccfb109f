package dev.sqlitesuperfs.host;

import dev.sqlitesuperfs.sys.GroupDatabase;
import dev.sqlitesuperfs.sys.Libc;
import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.UserPrincipal;
import java.nio.file.attribute.UserPrincipalLookupService;
import jdk.net.UnixDomainPrincipal;

/**
 * Who may use the control socket, decided from the credentials the kernel gives for each
 * connection (SO_PEERCRED: the peer's effective uid and gid when it connected), not from anything
 * the peer says. Admitted: root and the host's own user, always (privileged: they may do
 * anything the host can); with {@code --socket-group G}, also the users whose group is G or whom
 * the group database lists as members of G (unprivileged: see {@link RequestHandling}).
 *
 * <p>The socket file's mode (0600, or 0660 with group G) already keeps others from connecting;
 * this check is the second line, and the only one should the file's mode be changed.
 */
final class SocketAccess {
    private static final UserPrincipalLookupService LOOKUP = FileSystems.getDefault().getUserPrincipalLookupService();

    private final UserPrincipal root = userWithId(0);
    private final UserPrincipal hostUser = userWithId(Libc.geteuid());
    private final GroupPrincipal group;
    private final int groupId;
    private final String groupName;

    /** Root and the host's user only. */
    SocketAccess() {
        this(null, -1, null);
    }

    /** Also the members of {@code group} (numeric id {@code groupId}, shown as {@code groupName}). */
    SocketAccess(GroupPrincipal group, int groupId, String groupName) {
        this.group = group;
        this.groupId = groupId;
        this.groupName = groupName;
    }

    /** The one connection's peer, as admitted. */
    record Peer(UnixDomainPrincipal credentials, boolean privileged) {
        /** How the log and messages name the peer: its user name, or its uid if it has none. */
        String name() {
            return credentials.user().getName();
        }

        boolean hasUid(int uid) {
            return credentials.user().equals(userWithId(uid));
        }

        boolean hasGid(int gid) {
            try {
                return credentials.group().equals(LOOKUP.lookupPrincipalByGroupName(Integer.toString(gid)));
            } catch (IOException e) {
                return false;
            }
        }

        boolean owns(UserPrincipal owner) {
            return credentials.user().equals(owner);
        }
    }

    /** The peer if it may use the socket, else why not, in one line. */
    Peer admit(UnixDomainPrincipal credentials) throws ControlRequest.Refused {
        UserPrincipal user = credentials.user();
        if (user.equals(root) || user.equals(hostUser)) {
            return new Peer(credentials, true);
        }
        if (group != null && (credentials.group().equals(group) || GroupDatabase.isMember(user.getName(), groupId))) {
            return new Peer(credentials, false);
        }
        throw new ControlRequest.Refused("user " + user.getName() + " may not use this host (it admits root"
                + (hostUser.equals(root) ? "" : ", " + hostUser.getName())
                + (group != null ? " and the members of group " + groupName : "") + ")");
    }

    /**
     * The user with this uid. The lookup service takes a name, and a number that names no user
     * stands for that uid; a user whose name is all digits would be mistaken for another, which
     * only ever makes a comparison fail.
     */
    static UserPrincipal userWithId(int uid) {
        try {
            return LOOKUP.lookupPrincipalByName(Integer.toUnsignedString(uid));
        } catch (IOException e) {
            throw new IllegalStateException("cannot look up uid " + uid + ": " + e.getMessage(), e);
        }
    }
}
