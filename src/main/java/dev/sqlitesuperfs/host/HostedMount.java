package dev.sqlitesuperfs.host;

import dev.sqlitesuperfs.cli.NamespaceMount;
import java.nio.file.Path;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One namespace a {@link Host} serves, with what status reports about it.
 *
 * @param ownerUid the user it was mounted for: the mount's owner
 * @param origin   where it was asked for: a line of the configuration, or a user on the socket
 */
public final class HostedMount {
    private final NamespaceMount mount;
    private final String namespace;
    private final Path directory;
    private final Instant since;
    private final int ownerUid;
    private final boolean readOnly;
    private final String origin;
    /** Set by whoever first takes the mount down (an unmount request, the host's close, the watcher). */
    private final AtomicBoolean retiring = new AtomicBoolean();

    HostedMount(NamespaceMount mount, String namespace, Path directory, Instant since, int ownerUid, boolean readOnly,
            String origin) {
        this.mount = mount;
        this.namespace = namespace;
        this.directory = directory;
        this.since = since;
        this.ownerUid = ownerUid;
        this.readOnly = readOnly;
        this.origin = origin;
    }

    NamespaceMount mount() {
        return mount;
    }

    public String namespace() {
        return namespace;
    }

    public Path directory() {
        return directory;
    }

    public Instant since() {
        return since;
    }

    public int ownerUid() {
        return ownerUid;
    }

    public boolean readOnly() {
        return readOnly;
    }

    public String origin() {
        return origin;
    }

    /** Whether this call is the first to take the mount down. */
    boolean startRetiring() {
        return retiring.compareAndSet(false, true);
    }

    /** Taking it down failed before anything changed (a busy mount): it serves on. */
    void stopRetiring() {
        retiring.set(false);
    }
}
