package dev.sqlitesuperfs.store;

import java.sql.SQLTransientConnectionException;

/**
 * The server a writer reconnected to lacks commits that were confirmed to it before: after a
 * failover, an old primary that came back, or a promoted standby that replicated asynchronously.
 * Transient for the writer, which keeps trying (the multi-host URL may reach the right server
 * next) until its callers' deadline, and never writes there.
 */
final class ServerBehindException extends SQLTransientConnectionException {
    ServerBehindException(String message) {
        super(message, "08000");
    }
}
