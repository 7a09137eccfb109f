package dev.sqlitesuperfs.testing;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.time.Duration;
import java.util.List;
import org.slf4j.LoggerFactory;

/** The lines one class logs while this is open, for tests that check what a failure logged. */
public final class LogCapture implements AutoCloseable {
    private final Logger logger;
    private final ListAppender<ILoggingEvent> appender = new ListAppender<>();

    private LogCapture(String source) {
        this.logger = (Logger) LoggerFactory.getLogger(source);
        appender.start();
        logger.addAppender(appender);
    }

    public static LogCapture of(Class<?> source) {
        return new LogCapture(source.getName());
    }

    /** The lines of the logger named {@code source} (a class not visible from the test). */
    public static LogCapture of(String source) {
        return new LogCapture(source);
    }

    /** The formatted messages so far, in order. */
    public List<String> lines() {
        synchronized (appender.list) {
            return appender.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
        }
    }

    /**
     * Waits until a line containing {@code text} is logged, for at most {@code timeout}.
     *
     * @throws AssertionError if none is by then
     */
    public void awaitLine(String text, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (lines().stream().noneMatch(l -> l.contains(text))) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("no line containing '" + text + "' logged within " + timeout + ":\n"
                        + String.join("\n", lines()));
            }
            Thread.sleep(20);
        }
    }

    @Override
    public void close() {
        logger.detachAppender(appender);
        appender.stop();
    }
}
