package dev.spillway.worker;

import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.pattern.ClassicConverter;
import ch.qos.logback.classic.pattern.ThrowableHandlingConverter;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.Context;
import ch.qos.logback.core.CoreConstants;
import dev.spillway.config.Redactor;
import org.slf4j.LoggerFactory;

/**
 * Redaction of every log line, whoever logs it (Spillway, HikariCP, Lettuce, Quartz): the message
 * and the stack trace pass through the {@link Redactor} kept on the logback context.
 *
 * <p>The redactor is an object of the {@link LoggerContext} (logback's own home for state that
 * converters need), put there by {@link #install} once the configuration, and with it the literal
 * secrets, is known; until then lines are redacted by shape. The CLI's {@code logback.xml} uses
 * {@code %redactedMsg} and {@code %redactedEx}; {@link LogSetup}'s layouts call {@link #redactor}
 * themselves. Another SLF4J binding gets nothing from here: Spillway's own messages that carry URLs
 * or exception text are redacted where they are built.
 */
public final class LogRedaction {
  static final String KEY = "dev.spillway.config.Redactor";

  private LogRedaction() {}

  /** Makes {@code redactor} the one every log line passes through from now on. */
  public static void install(Redactor redactor) {
    if (LoggerFactory.getILoggerFactory() instanceof LoggerContext ctx) {
      ctx.putObject(KEY, redactor);
    }
  }

  /** The installed redactor of {@code context}, or the shapes alone. */
  static Redactor redactor(Context context) {
    Object r = context == null ? null : context.getObject(KEY);
    return r instanceof Redactor redactor ? redactor : Redactor.shapes();
  }

  /** {@code %redactedMsg}: the formatted message, redacted. */
  public static final class Message extends ClassicConverter {
    @Override
    public String convert(ILoggingEvent event) {
      return redactor(getContext()).redact(event.getFormattedMessage());
    }
  }

  /**
   * {@code %redactedEx}: the stack trace, redacted, on the lines after the message (empty without
   * one). Being a throwable converter, it stops logback from appending its own {@code %ex}.
   */
  public static final class Exception extends ThrowableHandlingConverter {
    @Override
    public String convert(ILoggingEvent event) {
      IThrowableProxy proxy = event.getThrowableProxy();
      if (proxy == null) {
        return "";
      }
      return redactor(getContext()).redact(ThrowableProxyUtil.asString(proxy))
          + CoreConstants.LINE_SEPARATOR;
    }
  }
}
