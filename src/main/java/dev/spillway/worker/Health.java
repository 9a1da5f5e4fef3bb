package dev.spillway.worker;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.spillway.config.Redactor;
import dev.spillway.redis.RedisLink;
import dev.spillway.runtime.RuntimeFailure;
import dev.spillway.schedule.JobScheduler;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;
import javax.sql.DataSource;

/**
 * Readiness: Redis answers PING, PostgreSQL answers {@code SELECT 1}, the scheduler fires, the
 * runtime has not stopped after an Error ({@link dev.spillway.runtime.RuntimeFailure}), and the
 * worker is not shutting down. The checks run in parallel, each within {@link #TIMEOUT}; the body
 * names every check and the failing ones:
 *
 * <pre>{@code
 * {"status":"DOWN","failing":["redis"],"checks":{"redis":{"status":"DOWN","error":"..."},...}}
 * }</pre>
 *
 * <p>Every detail passes through the {@link Redactor}: a driver's error may repeat a URL with its
 * password, and the endpoint has no authentication.
 */
final class Health {
  static final Duration TIMEOUT = Duration.ofSeconds(2);
  private static final ObjectMapper JSON = new ObjectMapper();

  /** One check's outcome. */
  record Check(String name, boolean up, String detail, long millis) {}

  /** All checks; {@code up} when every one is. */
  record Readiness(boolean up, List<Check> checks) {
    List<String> failing() {
      return checks.stream().filter(c -> !c.up()).map(Check::name).toList();
    }

    String json() {
      ObjectNode root = JSON.createObjectNode();
      root.put("status", up ? "UP" : "DOWN");
      if (!up) {
        root.putPOJO("failing", failing());
      }
      ObjectNode checks = root.putObject("checks");
      for (Check c : this.checks) {
        ObjectNode n = checks.putObject(c.name());
        n.put("status", c.up() ? "UP" : "DOWN");
        n.put(c.up() ? "detail" : "error", c.detail());
        n.put("ms", c.millis());
      }
      return root.toString();
    }
  }

  private final RedisLink<String, String> redis;
  private final DataSource postgres;
  private final JobScheduler scheduler;
  private final BooleanSupplier stopping;
  private final ExecutorService executor;
  private final Redactor redactor;
  private final RuntimeFailure failure;

  Health(
      RedisLink<String, String> redis,
      DataSource postgres,
      JobScheduler scheduler,
      BooleanSupplier stopping,
      ExecutorService executor,
      Redactor redactor,
      RuntimeFailure failure) {
    this.failure = failure;
    this.redis = redis;
    this.postgres = postgres;
    this.scheduler = scheduler;
    this.stopping = stopping;
    this.executor = executor;
    this.redactor = redactor;
  }

  Readiness ready() {
    Map<String, CompletableFuture<Check>> running = new LinkedHashMap<>();
    running.put("redis", CompletableFuture.supplyAsync(this::redis, executor));
    running.put("postgres", CompletableFuture.supplyAsync(this::postgres, executor));
    List<Check> checks = new ArrayList<>();
    long deadline = System.nanoTime() + TIMEOUT.toNanos();
    for (var e : running.entrySet()) {
      try {
        checks.add(
            e.getValue().get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS));
      } catch (TimeoutException t) {
        checks.add(
            new Check(
                e.getKey(),
                false,
                "no answer within " + TIMEOUT.toMillis() + "ms",
                TIMEOUT.toMillis()));
      } catch (ExecutionException x) {
        checks.add(new Check(e.getKey(), false, String.valueOf(x.getCause()), 0));
      } catch (InterruptedException i) {
        Thread.currentThread().interrupt();
        checks.add(new Check(e.getKey(), false, "interrupted", 0));
      }
    }
    checks.add(schedulerCheck());
    checks.add(
        failure
            .reason()
            .map(r -> new Check("runtime", false, "stopped: " + r, 0))
            .orElseGet(() -> new Check("runtime", true, "draining and flushing", 0)));
    List<Check> shown =
        checks.stream()
            .map(c -> new Check(c.name(), c.up(), redactor.redact(c.detail()), c.millis()))
            .toList();
    return new Readiness(shown.stream().allMatch(Check::up), shown);
  }

  /** PING, on every master of a cluster: one master down means its slots are not served. */
  private Check redis() {
    long t = System.nanoTime();
    try {
      List<String> pongs = redis.onMasters(c -> c.ping(), TIMEOUT);
      boolean up = pongs.stream().allMatch("PONG"::equals);
      String what =
          pongs.size() == 1
              ? "PING answered " + pongs.get(0)
              : "PING answered by " + pongs.size() + " masters";
      return new Check("redis", up, what, ms(t));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Check("redis", false, "interrupted", ms(t));
    } catch (Exception e) {
      Throwable cause = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
      return new Check("redis", false, "PING failed: " + cause.getMessage(), ms(t));
    }
  }

  private Check postgres() {
    long t = System.nanoTime();
    try (Connection c = postgres.getConnection();
        Statement s = c.createStatement()) {
      s.setQueryTimeout((int) TIMEOUT.toSeconds());
      s.execute("SELECT 1");
      return new Check("postgres", true, "SELECT 1 answered", ms(t));
    } catch (SQLException | RuntimeException e) {
      return new Check("postgres", false, "SELECT 1 failed: " + e.getMessage(), ms(t));
    }
  }

  private Check schedulerCheck() {
    if (stopping.getAsBoolean()) {
      return new Check("scheduler", false, "shutting down", 0);
    }
    return scheduler.isRunning()
        ? new Check(
            "scheduler",
            true,
            (scheduler.isClustered() ? "clustered" : "in memory")
                + ", instance "
                + scheduler.instanceId(),
            0)
        : new Check("scheduler", false, "not started", 0);
  }

  private static long ms(long startNanos) {
    return Duration.ofNanos(System.nanoTime() - startNanos).toMillis();
  }
}
