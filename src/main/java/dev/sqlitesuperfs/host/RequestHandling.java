package dev.sqlitesuperfs.host;

import dev.sqlitesuperfs.cli.CliException;
import dev.sqlitesuperfs.cli.ExitCode;
import dev.sqlitesuperfs.cli.MountSettings;
import dev.sqlitesuperfs.cli.PassphraseSource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The host's side of each request: checks what the peer may ask, hands the request to the
 * {@link Host}, and turns every outcome into an answer with the exit code the same command would
 * have had standalone.
 *
 * <p>Privileged peers (root, the host's user) may do what the host can. The members of the socket
 * group get what an ordinary user gets from fusermount3, because the host mounts as root on
 * their behalf: a mount on a directory they own, owned by them ({@code --uid}/{@code --gid} only
 * their own), {@code allow_other} only if /etc/fuse.conf has {@code user_allow_other}, no
 * {@code --mkdir} (a directory root would create) and no {@code --state-dir} (where root's local
 * PostgreSQL would keep its data); and they unmount only their own mounts. Refusals are
 * {@link ExitCode#HOST_DENIED}.
 */
final class RequestHandling implements ControlSocket.Handler {
    private static final Logger log = LoggerFactory.getLogger(RequestHandling.class);
    private static final Path FUSE_CONF = Path.of("/etc/fuse.conf");

    private final Host host;
    private final String defaultDatabaseUrl;
    private final Path defaultStateDir;

    /**
     * @param defaultDatabaseUrl the database of mounts that name none (the host's $psql_url); null: local
     * @param defaultStateDir    the host's state directory, where its mounts keep their anchors by default
     */
    RequestHandling(Host host, String defaultDatabaseUrl, Path defaultStateDir) {
        this.host = host;
        this.defaultDatabaseUrl = defaultDatabaseUrl;
        this.defaultStateDir = defaultStateDir;
    }

    @Override
    public ControlResponse handle(ControlRequest request, SocketAccess.Peer peer, byte[] passphrase) {
        try {
            return switch (request) {
                case ControlRequest.Status s -> status();
                case ControlRequest.Mount m -> mount(m, peer, passphrase);
                case ControlRequest.Unmount u -> unmount(u, peer);
            };
        } catch (CliException e) {
            log.info("{} for {}: {}", request, peer.name(), e.getMessage());
            return ControlResponse.failure(e.exitCode(), e.getMessage());
        } catch (RuntimeException e) {
            ExitCode code = ExitCode.of(e);
            if (code == ExitCode.INTERNAL) {
                log.error("{} for {} failed unexpectedly", request, peer.name(), e);
                return ControlResponse.failure(code, "unexpected " + e.getClass().getSimpleName() + ": "
                        + e.getMessage() + " (the host's log has details)");
            }
            log.info("{} for {}: {}", request, peer.name(), e.getMessage());
            return ControlResponse.failure(code, e.getMessage());
        }
    }

    private ControlResponse status() {
        List<Object> namespaces = new ArrayList<>();
        for (NamespaceStatus status : host.status()) {
            namespaces.add(status.toJson());
        }
        return ControlResponse.ok(namespaces.size() + " namespace" + (namespaces.size() == 1 ? "" : "s"))
                .with("namespaces", namespaces).with("host", host.figures());
    }

    private ControlResponse mount(ControlRequest.Mount request, SocketAccess.Peer peer, byte[] passphrase) {
        if (!peer.hasUid(request.uid()) || !peer.hasGid(request.gid())) {
            throw new CliException(ExitCode.HOST_DENIED, "the request's uid and gid are not those of its connection");
        }
        List<String> args = new ArrayList<>(request.options());
        args.add(request.namespace());
        args.add(request.directory().toString());
        Map<String, String> env = new HashMap<>();
        // The host's state directory, not the client's: where its anchors are kept by default.
        env.put(MountSettings.STATE_DIR_VARIABLE, defaultStateDir.toString());
        String database = request.database() != null ? request.database() : defaultDatabaseUrl;
        if (database != null) {
            env.put("psql_url", database);
        }
        MountSettings settings = MountSettings.parse(args, env);
        if (settings.hostSocket() != null || settings.passphraseFile() != null) {
            throw new CliException(ExitCode.USAGE, "--host, --socket and --passphrase-file are the client's options,"
                    + " not the host's");
        }
        if (!peer.privileged()) {
            checkUnprivileged(settings, peer, request.uid(), request.gid());
        }
        PassphraseSource passphrases = PassphraseSource.handedOver(passphrase, request.typedTwice());
        try {
            HostedMount hosted = host.mount(settings, passphrases, request.uid(), request.gid(),
                    "socket, " + peer.name());
            return ControlResponse.ok("mounted namespace " + hosted.namespace() + " at " + hosted.directory());
        } catch (CliException e) {
            if (passphrases.refusedUnconfirmed()) {
                return ControlResponse.failure(e.exitCode(), e.getMessage()).with("confirm_passphrase", true);
            }
            throw e;
        }
    }

    private static void checkUnprivileged(MountSettings settings, SocketAccess.Peer peer, int uid, int gid) {
        String who = "user " + peer.name();
        if (settings.ownerUid() >= 0 && (settings.ownerUid() != uid || settings.ownerGid() != gid)) {
            throw new CliException(ExitCode.HOST_DENIED, "--uid/--gid: a host mounts for " + who + " as that user only");
        }
        if (settings.stateDir() != null) {
            throw new CliException(ExitCode.HOST_DENIED, "--state-dir: only root chooses where a host's local"
                    + " PostgreSQL keeps its data");
        }
        for (String option : List.of("--anchor-dir", "--anchor-command")) {
            if (settings.hostOptions().contains(option)) {
                throw new CliException(ExitCode.HOST_DENIED, option + ": only root chooses where a host keeps its"
                        + " freshness anchors");
            }
        }
        if (settings.allowOther() && !userAllowOther()) {
            throw new CliException(ExitCode.HOST_DENIED, "--allow-other: for users other than root only with"
                    + " user_allow_other in " + FUSE_CONF);
        }
        Path dir = settings.mountPoint().toAbsolutePath().normalize();
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            if (settings.createMountPoint()) {
                throw new CliException(ExitCode.HOST_DENIED, "--mkdir: a host creates mount directories for root"
                        + " only; create " + dir + " yourself");
            }
            return; // refused as missing, with the exit code a standalone mount has
        }
        try {
            if (!peer.owns(Files.getOwner(dir, LinkOption.NOFOLLOW_LINKS))) {
                throw new CliException(ExitCode.HOST_DENIED, "mount directory " + dir + " is not " + who + "'s; a host"
                        + " mounts for users other than root only on directories they own");
            }
        } catch (IOException e) {
            throw new CliException(ExitCode.MOUNT, "cannot read mount directory " + dir + ": "
                    + ControlSocket.reason(e));
        }
    }

    private static boolean userAllowOther() {
        try {
            return Files.readAllLines(FUSE_CONF).stream().map(String::strip).anyMatch("user_allow_other"::equals);
        } catch (IOException e) {
            return false;
        }
    }

    private ControlResponse unmount(ControlRequest.Unmount request, SocketAccess.Peer peer) {
        HostedMount hosted = host.mountOn(request.directory());
        if (hosted == null) {
            throw new CliException(ExitCode.MOUNT, request.directory() + " is not mounted by this host");
        }
        if (!peer.privileged() && !peer.hasUid(hosted.ownerUid())) {
            throw new CliException(ExitCode.HOST_DENIED, request.directory() + " is mounted for another user");
        }
        host.unmount(hosted.directory());
        log.info("namespace {} unmounted from {} at the request of {}", hosted.namespace(), hosted.directory(),
                peer.name());
        return ControlResponse.ok("unmounted " + hosted.directory());
    }
}
