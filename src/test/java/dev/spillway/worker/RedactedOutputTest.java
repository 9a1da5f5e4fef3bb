package dev.spillway.worker;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.joran.JoranConfigurator;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.LoggingEvent;
import ch.qos.logback.core.LayoutBase;
import ch.qos.logback.core.OutputStreamAppender;
import dev.spillway.SpillwayConfig;
import dev.spillway.config.Redactor;
import dev.spillway.redis.RedisConnector;
import dev.spillway.redis.RedisLink;
import dev.spillway.runtime.RuntimeFailure;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.TestEnv;
import java.io.PrintWriter;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.logging.Logger;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Log lines (all three layouts) and the /health/ready body pass through the redactor. */
@ExtendWith(ServicesExtension.class)
class RedactedOutputTest {
  static final String HARD = "S3cr/t,p@ss:w%rd";
  static final String SIMPLE = "hunter2pw";

  static void assertHidden(String shown) {
    for (String s : List.of(HARD, SIMPLE)) {
      assertThat(shown)
          .doesNotContain(s)
          .doesNotContain(URLEncoder.encode(s, StandardCharsets.UTF_8));
    }
    assertThat(shown).doesNotContain("S3cr").doesNotContain("w%rd");
  }

  /** An error event whose message and stack trace carry both secrets, as drivers write them. */
  static ILoggingEvent errorEvent(LoggerContext ctx) {
    Exception cause =
        new IllegalStateException(
            "Unable to parse URL jdbc:postgresql://h:99999/db?password="
                + HARD
                + " (AUTH failed for "
                + SIMPLE
                + ")");
    return new LoggingEvent(
        RedactedOutputTest.class.getName(),
        ctx.getLogger("dev.spillway.flush.Flusher"),
        Level.ERROR,
        "event=flush_error uri={} error=\"{}\"",
        new RuntimeException("flush failed", cause),
        new Object[] {"redis://:" + HARD + "@cache:6379", "WRONGPASS for " + SIMPLE});
  }

  @Test
  void workerLayouts_redactMessageAndStackTrace() {
    LoggerContext ctx = new LoggerContext();
    ctx.putObject(LogRedaction.KEY, Redactor.of(List.of(SIMPLE)));
    for (LayoutBase<ILoggingEvent> layout :
        List.<LayoutBase<ILoggingEvent>>of(
            new LogSetup.KeyValueLayout(), new LogSetup.JsonLayout())) {
      layout.setContext(ctx);
      layout.start();
      String line = layout.doLayout(errorEvent(ctx));
      assertHidden(line);
      assertThat(line).contains("redis://<masked>@cache:6379").contains("password=<masked>");
    }
  }

  @Test
  void cliLogbackXml_redactsMessageAndStackTrace() throws Exception {
    LoggerContext ctx = new LoggerContext();
    JoranConfigurator joran = new JoranConfigurator();
    joran.setContext(ctx);
    joran.doConfigure(getClass().getResource("/logback.xml"));
    ctx.putObject(LogRedaction.KEY, Redactor.of(List.of(SIMPLE)));
    var appender =
        (OutputStreamAppender<ILoggingEvent>)
            ctx.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME).getAppender("STDERR");
    String line = new String(appender.getEncoder().encode(errorEvent(ctx)), StandardCharsets.UTF_8);
    assertHidden(line);
    assertThat(line)
        .contains("event=flush_error uri=redis://<masked>@cache:6379")
        .contains("java.lang.IllegalStateException: Unable to parse URL")
        .contains("password=<masked>");
  }

  @Test
  void healthReady_redactsDriverMessages(TestEnv env) throws Exception {
    String badUrl = "jdbc:postgresql://127.0.0.1:99999/test?password=" + HARD;
    SpillwayConfig config =
        SpillwayConfig.builder()
            .redisUri(env.redisUri())
            .redisCluster(env.redisCluster())
            .jdbcUrl(badUrl)
            .jdbcPassword(SIMPLE)
            .build();
    // The real driver on a URL it cannot parse: its message repeats the URL, password and all.
    DataSource postgres = new DriverManagerSource(badUrl);
    ExecutorService checks = Executors.newVirtualThreadPerTaskExecutor();
    try (RedisConnector connector = RedisConnector.create(config, null);
        RedisLink<String, String> redis = connector.connect()) {
      Health health =
          new Health(
              redis,
              postgres,
              null,
              () -> true,
              checks,
              Redactor.of(config, System.getenv()),
              new RuntimeFailure());
      String json = health.ready().json();
      assertHidden(json);
      assertThat(json)
          .contains("\"status\":\"DOWN\"")
          .contains("Unable to parse URL jdbc:postgresql://127.0.0.1:99999/test?password=<masked>");
    } finally {
      checks.shutdownNow();
    }
  }

  /** A {@link DataSource} over {@link DriverManager}: the driver, not a stand-in for it. */
  private record DriverManagerSource(String url) implements DataSource {
    @Override
    public Connection getConnection() throws SQLException {
      return DriverManager.getConnection(url);
    }

    @Override
    public Connection getConnection(String user, String password) throws SQLException {
      return DriverManager.getConnection(url, user, password);
    }

    @Override
    public PrintWriter getLogWriter() {
      return null;
    }

    @Override
    public void setLogWriter(PrintWriter out) {}

    @Override
    public void setLoginTimeout(int seconds) {}

    @Override
    public int getLoginTimeout() {
      return 0;
    }

    @Override
    public Logger getParentLogger() throws SQLFeatureNotSupportedException {
      throw new SQLFeatureNotSupportedException();
    }

    @Override
    public <T> T unwrap(Class<T> type) throws SQLException {
      throw new SQLException("not a wrapper");
    }

    @Override
    public boolean isWrapperFor(Class<?> type) {
      return false;
    }
  }
}
