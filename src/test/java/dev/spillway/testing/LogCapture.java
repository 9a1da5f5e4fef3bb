package dev.spillway.testing;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.util.List;
import org.slf4j.LoggerFactory;

/**
 * Captures every event that reaches the root logger (Spillway's, Lettuce's, Netty's) while open.
 * What reaches it is what logback-test.xml lets through: WARN and above from everyone, INFO from
 * Spillway. Test classes run in parallel: a class that asserts on what it captured should be
 * {@code @Isolated}.
 */
public final class LogCapture implements AutoCloseable {
  private final Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
  private final ListAppender<ILoggingEvent> appender = new ListAppender<>();

  public LogCapture() {
    appender.setContext(root.getLoggerContext());
    appender.start();
    root.addAppender(appender);
  }

  /** Events at {@code level} or above, formatted as {@code LEVEL logger - message}. */
  public List<String> atLeast(Level level) {
    synchronized (appender.list) {
      return appender.list.stream()
          .filter(e -> e.getLevel().isGreaterOrEqual(level))
          .map(e -> e.getLevel() + " " + e.getLoggerName() + " - " + e.getFormattedMessage())
          .toList();
    }
  }

  /** Messages containing {@code fragment}, at any level. */
  public List<String> containing(String fragment) {
    synchronized (appender.list) {
      return appender.list.stream()
          .map(ILoggingEvent::getFormattedMessage)
          .filter(m -> m.contains(fragment))
          .toList();
    }
  }

  @Override
  public void close() {
    root.detachAppender(appender);
    appender.stop();
  }
}
