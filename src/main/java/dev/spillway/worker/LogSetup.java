package dev.spillway.worker;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.LayoutBase;
import ch.qos.logback.core.encoder.LayoutWrappingEncoder;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import dev.spillway.config.Redactor;
import dev.spillway.config.WorkerSettings.LogFormat;
import java.io.IOException;
import java.io.StringWriter;
import java.time.Instant;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The worker's logging: one line per event on standard error (systemd's journal takes it from
 * there), either {@code key=value} or one JSON object per line. Every line starts with {@code ts}
 * (UTC, milliseconds), {@code level}, {@code logger} and {@code thread}, then the event's own pairs
 * (in JSON, dotted keys become nested objects: {@code worker.http.port=9464} is {@code
 * "worker":{"http":{"port":9464}}}); a stack trace stays on the line, escaped, under {@code
 * exception}. Spillway's loggers log at the configured level; everyone else's (Quartz, Lettuce,
 * HikariCP, Flyway) at WARN. Message and stack trace pass through the installed {@link
 * LogRedaction} redactor.
 */
public final class LogSetup {
  private LogSetup() {}

  /** Replaces the console configuration of the logback context. */
  public static void apply(LogFormat format, String level) {
    if (!(LoggerFactory.getILoggerFactory() instanceof LoggerContext ctx)) {
      return; // another SLF4J binding: leave its configuration alone
    }
    LayoutBase<ILoggingEvent> layout =
        format == LogFormat.JSON ? new JsonLayout() : new KeyValueLayout();
    layout.setContext(ctx);
    layout.start();
    LayoutWrappingEncoder<ILoggingEvent> encoder = new LayoutWrappingEncoder<>();
    encoder.setContext(ctx);
    encoder.setLayout(layout);
    encoder.start();
    ConsoleAppender<ILoggingEvent> appender = new ConsoleAppender<>();
    appender.setContext(ctx);
    appender.setName("spillway-worker");
    appender.setTarget("System.err");
    appender.setEncoder(encoder);
    appender.start();
    ch.qos.logback.classic.Logger root = ctx.getLogger(Logger.ROOT_LOGGER_NAME);
    root.detachAndStopAllAppenders();
    root.addAppender(appender);
    root.setLevel(Level.WARN);
    ctx.getLogger("dev.spillway").setLevel(Level.toLevel(level, Level.INFO));
    for (String quiet :
        new String[] {
          "org.quartz", "io.lettuce", "com.zaxxer.hikari", "org.flywaydb", "io.netty"
        }) {
      ctx.getLogger(quiet).setLevel(Level.WARN);
    }
  }

  static String simpleName(String logger) {
    int dot = logger.lastIndexOf('.');
    return dot < 0 ? logger : logger.substring(dot + 1);
  }

  /** {@code ts=... level=INFO logger=Flusher thread=main event=...}. */
  static final class KeyValueLayout extends LayoutBase<ILoggingEvent> {
    @Override
    public String doLayout(ILoggingEvent e) {
      StringBuilder b = new StringBuilder(160);
      b.append("ts=").append(Instant.ofEpochMilli(e.getTimeStamp()));
      b.append(" level=").append(e.getLevel());
      b.append(" logger=").append(KeyValues.quote(simpleName(e.getLoggerName())));
      b.append(" thread=").append(KeyValues.quote(e.getThreadName()));
      Redactor redactor = LogRedaction.redactor(getContext());
      String message = redactor.redact(e.getFormattedMessage());
      Map<String, String> pairs = KeyValues.parse(message);
      if (pairs.containsKey("msg") && pairs.size() == 1) {
        b.append(" msg=").append(KeyValues.quote(message));
      } else {
        // Already key=value (and what follows a stray word is under msg, quoted).
        for (var p : pairs.entrySet()) {
          b.append(' ').append(p.getKey()).append('=').append(KeyValues.quote(p.getValue()));
        }
      }
      if (e.getThrowableProxy() != null) {
        b.append(" exception=")
            .append(
                KeyValues.quote(
                    redactor.redact(ThrowableProxyUtil.asString(e.getThrowableProxy())).strip()));
      }
      return b.append('\n').toString();
    }
  }

  /** {@code {"ts":"...","level":"INFO","logger":"Flusher","thread":"main","event":"..."}}. */
  static final class JsonLayout extends LayoutBase<ILoggingEvent> {
    private static final JsonFactory JSON = new JsonFactory();
    private static final Pattern INTEGER = Pattern.compile("-?(0|[1-9][0-9]{0,17})");
    private static final Set<String> RESERVED =
        Set.of("ts", "level", "logger", "thread", "exception");

    @Override
    public String doLayout(ILoggingEvent e) {
      StringWriter out = new StringWriter(200);
      try (JsonGenerator g = JSON.createGenerator(out)) {
        g.writeStartObject();
        g.writeStringField("ts", Instant.ofEpochMilli(e.getTimeStamp()).toString());
        g.writeStringField("level", e.getLevel().toString());
        g.writeStringField("logger", simpleName(e.getLoggerName()));
        g.writeStringField("thread", e.getThreadName());
        Redactor redactor = LogRedaction.redactor(getContext());
        Map<String, Object> tree = new LinkedHashMap<>();
        for (var p : KeyValues.parse(redactor.redact(e.getFormattedMessage())).entrySet()) {
          String key = RESERVED.contains(p.getKey()) ? "msg_" + p.getKey() : p.getKey();
          put(tree, key, p.getValue());
        }
        write(g, tree);
        if (e.getThrowableProxy() != null) {
          g.writeStringField(
              "exception",
              redactor.redact(ThrowableProxyUtil.asString(e.getThrowableProxy())).strip());
        }
        g.writeEndObject();
      } catch (IOException impossible) {
        return "{\"level\":\"ERROR\",\"msg\":\"log line could not be written as JSON\"}\n";
      }
      return out.append('\n').toString();
    }

    /**
     * Puts {@code value} at {@code key}, a dotted key ({@code worker.http.port}) as a path of
     * nested objects, so the effective configuration comes out in YAML's shape. A key whose path
     * runs into a value already there stays flat ({@code msg_}-prefixed if an object holds its
     * name).
     */
    @SuppressWarnings("unchecked")
    static void put(Map<String, Object> tree, String key, String value) {
      String[] path = key.split("\\.", -1);
      Map<String, Object> node = Arrays.asList(path).contains("") ? null : tree;
      for (int i = 0; i < path.length - 1 && node != null; i++) {
        Object child = node.computeIfAbsent(path[i], k -> new LinkedHashMap<String, Object>());
        node = child instanceof Map<?, ?> m ? (Map<String, Object>) m : null;
      }
      String leaf = path[path.length - 1];
      if (node != null && !(node.get(leaf) instanceof Map<?, ?>)) {
        node.put(leaf, value);
      } else {
        // Kept flat; a plain key that an object already took is renamed like a reserved one.
        tree.put(tree.get(key) instanceof Map<?, ?> ? "msg_" + key : key, value);
      }
    }

    private static void write(JsonGenerator g, Map<String, Object> tree) throws IOException {
      for (var p : tree.entrySet()) {
        if (p.getValue() instanceof Map<?, ?> m) {
          g.writeObjectFieldStart(p.getKey());
          @SuppressWarnings("unchecked")
          Map<String, Object> nested = (Map<String, Object>) m;
          write(g, nested);
          g.writeEndObject();
        } else if (INTEGER.matcher((String) p.getValue()).matches()) {
          g.writeNumberField(p.getKey(), Long.parseLong((String) p.getValue()));
        } else {
          g.writeStringField(p.getKey(), (String) p.getValue());
        }
      }
    }
  }
}
