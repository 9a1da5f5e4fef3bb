package dev.spillway.spring;

import dev.spillway.Spillway;
import dev.spillway.config.Redactor;
import dev.spillway.redis.RedisConnector;
import dev.spillway.redis.RedisLink;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import org.springframework.beans.factory.DisposableBean;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;

/**
 * {@code /actuator/health}'s {@code spillway} component: the checks of the worker's {@code
 * /health/ready} that apply to an application runtime. Redis answers PING (on every master of a
 * cluster), PostgreSQL answers {@code SELECT 1} through the runtime's DataSource, and the runtime
 * has not stopped after an Error ({@link Spillway#failed()}). Each check within {@link #TIMEOUT};
 * UP when all pass. Details pass through the {@link Redactor}, as the worker's do. The worker's
 * scheduler check does not apply (an application runs no job scheduler).
 */
public final class SpillwayHealthIndicator implements HealthIndicator, DisposableBean {
  static final Duration TIMEOUT = Duration.ofSeconds(2);

  private final Spillway spillway;
  private final Redactor redactor;

  /** A connection of its own, opened on the first check: a PING never queues behind counters. */
  private RedisConnector redis;

  private RedisLink<String, String> link;

  public SpillwayHealthIndicator(Spillway spillway) {
    this.spillway = spillway;
    this.redactor = Redactor.of(spillway.config());
  }

  @Override
  public Health health() {
    Map<String, Object> checks = new LinkedHashMap<>();
    boolean up = check(checks, "redis", this::redis);
    up &= check(checks, "postgres", this::postgres);
    String failed = spillway.failed().orElse(null);
    checks.put(
        "runtime",
        failed == null ? "UP: draining and flushing" : "DOWN: stopped: " + redactor.redact(failed));
    up &= failed == null;
    return (up ? Health.up() : Health.down()).withDetails(checks).build();
  }

  private interface Probe {
    String run() throws Exception;
  }

  private boolean check(Map<String, Object> checks, String name, Probe probe) {
    try {
      checks.put(name, "UP: " + redactor.redact(probe.run()));
      return true;
    } catch (Exception e) {
      Throwable cause = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
      checks.put(
          name,
          "DOWN: "
              + redactor.redact(
                  String.valueOf(cause.getMessage() != null ? cause.getMessage() : cause)));
      return false;
    }
  }

  private String redis() throws Exception {
    List<String> pongs = link().onMasters(c -> c.ping(), TIMEOUT);
    if (!pongs.stream().allMatch("PONG"::equals)) {
      throw new IllegalStateException("PING answered " + pongs);
    }
    return pongs.size() == 1
        ? "PING answered PONG"
        : "PING answered by " + pongs.size() + " masters";
  }

  private String postgres() throws Exception {
    try (Connection c = spillway.dataSource().getConnection();
        Statement s = c.createStatement()) {
      s.setQueryTimeout((int) TIMEOUT.toSeconds());
      s.execute("SELECT 1");
      return "SELECT 1 answered";
    }
  }

  private synchronized RedisLink<String, String> link() {
    if (link == null) {
      redis = RedisConnector.create(spillway.config(), null);
      link = redis.connect();
    }
    return link;
  }

  @Override
  public synchronized void destroy() {
    if (link != null) {
      link.close();
    }
    if (redis != null) {
      redis.close();
    }
  }
}
