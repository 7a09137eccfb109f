package dev.sqlitesuperfs.cli;

import dev.sqlitesuperfs.fleet.Fleet;
import dev.sqlitesuperfs.store.NamespaceName;
import dev.sqlitesuperfs.store.StoreException;
import java.nio.file.Path;
import org.slf4j.LoggerFactory;

/**
 * The server of a fleet a command or a mount uses ({@code --fleet FILE}): the one that holds its
 * namespace, or, for a mount that creates one, the server holding the fewest namespaces.
 */
public final class FleetChoice {

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
     * The server for the mount {@code settings} describe (they name a fleet): the one holding the
     * namespace; for a writable mount of a namespace no server holds, the least loaded one, where
     * the mount creates it.
     */
    public static Fleet.Server forMount(MountSettings settings) {
        Fleet fleet = read(settings.fleetFile()).withRetryTimeout(settings.databaseTimeout());
        NamespaceName name = NamespaceName.parse(settings.namespace());
        Fleet.Server server = fleet.locate(name).orElse(null);
        if (server == null) {
            if (settings.readOnly()) {
                throw new StoreException.NoSuchNamespace("namespace " + name + " is on no server of the fleet ("
                        + fleet.names() + ")");
            }
            server = fleet.placeNew(name, null);
            LoggerFactory.getLogger(FleetChoice.class).info("Namespace {} is on no server of the fleet: creating it"
                    + " on server {}, which holds the fewest", name, server);
        } else {
            LoggerFactory.getLogger(FleetChoice.class).info("Namespace {} is on server {} of the fleet", name, server);
        }
        return server;
    }
}
