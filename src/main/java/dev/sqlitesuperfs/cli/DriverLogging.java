package dev.sqlitesuperfs.cli;

import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogManager;
import java.util.logging.LogRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The PostgreSQL driver logs through java.util.logging, whose default handler prints to stderr:
 * a certificate refusal came out as two extra lines before the command's own one. Its records go
 * to this program's log instead, at debug level: every failure they describe also reaches the
 * user as the command's message.
 */
final class DriverLogging {
    private DriverLogging() {}

    static void routeToOwnLog() {
        LogManager.getLogManager().reset();
        java.util.logging.Logger root = java.util.logging.Logger.getLogger("");
        root.setLevel(Level.INFO);
        root.addHandler(new Handler() {
            @Override
            public void publish(LogRecord record) {
                Logger target = LoggerFactory.getLogger(record.getLoggerName() == null ? "jul" : record.getLoggerName());
                if (target.isDebugEnabled()) {
                    String message = record.getMessage();
                    Object[] params = record.getParameters();
                    if (params != null && message != null && message.contains("{0")) {
                        message = java.text.MessageFormat.format(message, params);
                    }
                    target.debug("{}", message, record.getThrown());
                }
            }

            @Override
            public void flush() {}

            @Override
            public void close() {}
        });
    }
}
