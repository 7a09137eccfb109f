package dev.sqlitesuperfs.cli;

import dev.sqlitesuperfs.fleet.Fleet;
import dev.sqlitesuperfs.store.NamespaceName;
import dev.sqlitesuperfs.store.StoreException;
import java.nio.file.Path;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server of a fleet a command or a mount uses ({@code --fleet FILE}): the one that holds its
 * namespace, or, for a mount that creates one, the server holding the fewest namespaces.
 */
public final class FleetChoice {

    private static final Logger log = LoggerFactory.getLogger(FleetChoice.class);

    private FleetChoice() {}

    /** Reads the fleet file; a bad one is a usage error (exit 2) naming the file and line. */
    static Fleet read(Path file) {
        try {
            return Fleet.read(file);
        } catch (Fleet.BadFleetFile e) {
            throw new CliException(ExitCode.USAGE, e.getMessage());
        }
    }

    /**
     * Opens the mount {@code settings} describe (they name a fleet) with {@code open} on the server
     * holding the namespace; for a writable mount of a namespace no server holds, on the least
     * loaded one, where the mount creates it, while holding the fleet-wide lock of its name (so
     * that two mounts creating it at once make one namespace, not one on each of two servers).
     */
    public static <T> T forMount(MountSettings settings, Function<Fleet.Server, T> open) {
        Fleet fleet = read(settings.fleetFile()).withRetryTimeout(settings.databaseTimeout());
        NamespaceName name = NamespaceName.parse(settings.namespace());
        Fleet.Server server = fleet.locate(name).orElse(null);
        if (server != null) {
            log.info("Namespace {} is on server {} of the fleet", name, server);
            return open.apply(server);
        }
        if (settings.readOnly()) {
            throw new StoreException.NoSuchNamespace("namespace " + name + " is on no server of the fleet ("
                    + fleet.names() + ")");
        }
        return fleet.createLocked(name, null, true, placed -> {
            log.info("Namespace {} is on no server of the fleet: creating it on server {}, which holds the fewest",
                    name, placed);
            return open.apply(placed);
        });
    }
}
