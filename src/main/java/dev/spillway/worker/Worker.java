package dev.spillway.worker;

import dev.spillway.Spillway;
import dev.spillway.SpillwayConfig;
import dev.spillway.SpillwayException;
import dev.spillway.api.ApiServer;
import dev.spillway.config.AdoptMapping;
import dev.spillway.config.Durations;
import dev.spillway.config.Redactor;
import dev.spillway.config.WorkerSettings;
import dev.spillway.layout.KeyLayout;
import dev.spillway.redis.RedisConnector;
import dev.spillway.redis.RedisLink;
import dev.spillway.runtime.Closeables;
import dev.spillway.runtime.RuntimeFailure;
import dev.spillway.schedule.DeadLetterMonitor;
import dev.spillway.schedule.FlushGroups;
import dev.spillway.schedule.JobScheduler;
import dev.spillway.schedule.LedgerPruner;
import dev.spillway.schedule.PendingBatches;
import dev.spillway.schedule.ScheduledTask;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.Delay;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The standalone worker process: a {@link Spillway} runtime without its own flush schedule, a
 * {@link JobScheduler} (in memory, or clustered on PostgreSQL) running the flush groups, adopt
 * mappings, ledger pruning, dead-letter checks and any extra tasks, and an HTTP endpoint for
 * metrics and health.
 *
 * <p>Lifecycle: {@link Builder#start()} opens everything (and fails with a {@link
 * SpillwayException} naming what is unreachable), {@link #awaitStop()} blocks until SIGTERM or
 * SIGINT (or {@link #requestStop}), then stops: readiness turns 503, no new job starts, running
 * jobs get {@code worker.shutdown-timeout} to finish. Whatever is still running at the deadline is
 * abandoned, which is safe by design: a claimed batch stays pending in Redis and the next flush run
 * anywhere applies it exactly once; the log says how many batches are pending.
 */
public final class Worker {
  private static final Logger log = LoggerFactory.getLogger(Worker.class);

  private final SpillwayConfig config;
  private final WorkerSettings settings;
  private final Deque<AutoCloseable> resources;
  private final WorkerMetrics metrics;
  private final Spillway spillway;
  private final RedisLink<String, String> probe;
  private final JobScheduler scheduler;
  private final WorkerHttp http;

  /** The public HTTP API (api.enabled), or null. */
  private final ApiServer api;

  private final GaugeProbes gauges;
  private final KeyLayout layout;
  private final AtomicBoolean stopping = new AtomicBoolean();
  private final AtomicReference<String> stopReason = new AtomicReference<>();
  private final CountDownLatch stopRequested = new CountDownLatch(1);
  private final AtomicBoolean stopped = new AtomicBoolean();
  private final RuntimeFailure failure = new RuntimeFailure();

  private Worker(Builder b) {
    long t0 = System.nanoTime();
    this.config = b.config.toBuilder().flushEnabled(false).build(); // the worker schedules flushes
    WorkerSettings ws = config.worker();
    if (b.httpBind != null || b.httpPort != null) {
      ws =
          ws.toBuilder()
              .httpBind(b.httpBind != null ? b.httpBind : ws.httpBind())
              .httpPort(b.httpPort != null ? b.httpPort : ws.httpPort())
              .build();
    }
    this.settings = ws;
    this.layout = new KeyLayout(config.keyPrefix(), config.stripes());
    Deque<AutoCloseable> opened = new ArrayDeque<>();
    try {
      metrics = new WorkerMetrics();
      opened.push(metrics);
      ClientResources lettuce =
          ClientResources.builder()
              .commandLatencyRecorder(metrics.lettuceRecorder())
              // Reconnect within ~2 s of Redis coming back, not Lettuce's default 30 s ceiling.
              .reconnectDelay(
                  Delay.exponential(
                      Duration.ofMillis(50), Duration.ofSeconds(2), 2, TimeUnit.MILLISECONDS))
              .build();
      // Last, after every connection closed; a quiet period lets the event loops run the
      // completions still queued (without one, each is refused and logged at ERROR by Netty).
      opened.push(
          () -> lettuce.shutdown(100, 2_000, TimeUnit.MILLISECONDS).get(3, TimeUnit.SECONDS));
      spillway =
          Spillway.builder()
              .config(config)
              .meterRegistry(metrics.registry)
              .clientResources(lettuce)
              .clock(b.clock)
              .failure(failure)
              .build();
      opened.push(spillway);
      metrics.bindPool(spillway.dataSource());
      RedisConnector client = RedisConnector.create(config, lettuce);
      opened.push(client);
      probe = client.connect();
      opened.push(probe);

      DeadLetterMonitor deadLetters =
          new DeadLetterMonitor(spillway.dataSource(), config.schema(), metrics.registry, b.clock);
      List<String> adoptNames = config.adopt().stream().map(AdoptMapping::name).toList();
      LedgerPruner pruner =
          new LedgerPruner(
              spillway.dataSource(),
              config.schema(),
              settings.ledgerRetention(),
              () ->
                  PendingBatches.scan(
                      probe.async(),
                      layout,
                      adoptNames,
                      config.redisCluster(),
                      config.redisTimeout()),
              b.clock,
              metrics.registry);
      List<ScheduledTask> tasks =
          WorkerSchedule.tasks(config, settings, spillway, deadLetters, pruner, stopping::get);
      tasks.addAll(b.extraTasks.apply(spillway));
      scheduler =
          WorkerSchedule.scheduler(
              config, settings, spillway.dataSource(), metrics.registry, failure, tasks);
      opened.push(() -> scheduler.shutdown(Duration.ZERO));

      gauges = new GaugeProbes(deadLetters, probe, metrics);
      opened.push(gauges);

      ExecutorService checks = Executors.newVirtualThreadPerTaskExecutor();
      opened.push(checks::shutdownNow);
      Redactor redactor = Redactor.of(config, System.getenv());
      Health health =
          new Health(
              probe, spillway.dataSource(), scheduler, stopping::get, checks, redactor, failure);
      try {
        http =
            new WorkerHttp(
                settings.httpBind(),
                settings.httpPort(),
                metrics::scrape,
                health::ready,
                () -> failure.reason().map(redactor::redact));
      } catch (IOException e) {
        throw new SpillwayException(
            "cannot listen on "
                + settings.httpBind()
                + ":"
                + settings.httpPort()
                + " (worker.http.bind / worker.http.port): "
                + e.getMessage(),
            e);
      }
      opened.push(http);
      api =
          ApiServer.forWorker(
              spillway,
              System.getenv(),
              metrics.registry,
              redactor,
              b.clock,
              settings.shutdownTimeout());
      if (api != null) {
        opened.push(api);
      }
      log.info(
          "event=http_listening address={}:{} endpoints=/metrics,/health/live,/health/ready",
          http.address().getHostString(),
          http.address().getPort());

      scheduler.start();
      // An Error on one of our threads: stop (exit code 1), so a supervisor restarts us.
      failure.whenFailed(() -> requestStop("runtime-failed"));
    } catch (RuntimeException e) {
      Closeables.closeAll(opened, log, "close_failed");
      throw e;
    }
    this.resources = opened;
    log.info(
        "event=worker_started instance={} store={} flush_groups={} tasks={} http={}:{}"
            + " startup_ms={} jvm_uptime_ms={}",
        scheduler.instanceId(),
        settings.cluster() ? "jdbc-clustered" : "ram",
        FlushGroups.ranges(config.stripes(), settings.flushGroups()).size(),
        scheduler.taskNames().size(),
        http.address().getHostString(),
        http.address().getPort(),
        Duration.ofNanos(System.nanoTime() - t0).toMillis(),
        ManagementFactory.getRuntimeMXBean().getUptime());
  }

  public static Builder builder(SpillwayConfig config) {
    return new Builder(config);
  }

  /** The HTTP port actually bound (useful with {@code worker.http.port: 0}). */
  public int httpPort() {
    return http.address().getPort();
  }

  public JobScheduler scheduler() {
    return scheduler;
  }

  /** Asks the worker to stop; {@link #awaitStop()} then performs the shutdown. */
  public void requestStop(String reason) {
    if (stopReason.compareAndSet(null, reason)) {
      stopping.set(true); // readiness turns 503 at once
      stopRequested.countDown();
    } else {
      log.info("event=stop_already_requested signal={}", reason);
    }
  }

  /**
   * Installs the SIGTERM/SIGINT handlers, blocks until a stop is requested, stops, and returns the
   * exit code (0: a requested stop, whether or not running jobs finished in time; 1: the runtime
   * stopped itself after an Error on one of its threads).
   */
  public int awaitStop() throws InterruptedException {
    if (!Signals.handleTermination(this::requestStop)) {
      Thread hook =
          Thread.ofPlatform()
              .unstarted(
                  () -> {
                    requestStop("shutdown-hook");
                    stop();
                  });
      Runtime.getRuntime().addShutdownHook(hook);
    }
    stopRequested.await();
    stop();
    return failure.failed() ? 1 : 0;
  }

  /** Stops now, as described in the class comment. Idempotent. */
  public void stop() {
    if (!stopped.compareAndSet(false, true)) {
      return;
    }
    stopReason.compareAndSet(null, "stop");
    stopping.set(true);
    long t0 = System.nanoTime();
    Duration timeout = settings.shutdownTimeout();
    // Keep a slice of the budget for closing connections after the jobs.
    Duration reserve =
        timeout.dividedBy(5).compareTo(Duration.ofSeconds(2)) > 0
            ? Duration.ofSeconds(2)
            : timeout.dividedBy(5);
    log.info(
        "event=shutdown_begin signal={} timeout={} running_jobs={}",
        stopReason.get(),
        Durations.format(timeout),
        list(scheduler.running()));
    if (api != null) {
      api.close(); // first: no new increment is accepted while the last flushes run
    }
    Set<String> left = scheduler.shutdown(timeout.minus(reserve));
    gauges.close();
    String pending = pendingSummary();
    if (!left.isEmpty()) {
      log.warn(
          "event=shutdown_timeout running_jobs={} {} action=exit_without_waiting note=\"claimed"
              + " batches stay pending in Redis; the next flush run, here or on another worker,"
              + " applies each exactly once\"",
          list(left),
          pending);
      http.close();
    } else {
      Thread closer =
          Thread.ofPlatform()
              .name("spillway-close")
              .start(() -> Closeables.closeAll(resources, log, "close_failed"));
      try {
        closer.join(Math.max(1, timeout.minus(elapsed(t0)).toMillis()));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      if (closer.isAlive()) {
        log.warn("event=shutdown_close_timeout action=exit_without_waiting");
      }
    }
    log.info(
        "event=stopped graceful={} took_ms={} {}", left.isEmpty(), elapsed(t0).toMillis(), pending);
  }

  private String pendingSummary() {
    try {
      PendingBatches.Summary s =
          PendingBatches.scan(
              probe.async(),
              layout,
              config.adopt().stream().map(AdoptMapping::name).toList(),
              config.redisCluster(),
              Duration.ofSeconds(1));
      return "pending_batches_in_redis=" + s.batches();
    } catch (RuntimeException e) {
      return "pending_batches_in_redis=unknown";
    }
  }

  /** A set as one space-free log value: {@code [a,b]}. */
  static String list(Set<String> names) {
    return "[" + String.join(",", new TreeSet<>(names)) + "]";
  }

  private static Duration elapsed(long t0) {
    return Duration.ofNanos(System.nanoTime() - t0);
  }

  /** What the worker runs besides the configuration: overrides from the command line, tasks. */
  public static final class Builder {
    private final SpillwayConfig config;
    private String httpBind;
    private Integer httpPort;
    private InstantSource clock = InstantSource.system();
    private Function<Spillway, List<ScheduledTask>> extraTasks = sw -> List.of();

    private Builder(SpillwayConfig config) {
      this.config = Objects.requireNonNull(config, "config");
    }

    /** Overrides {@code worker.http.bind}. */
    public Builder httpBind(String bind) {
      this.httpBind = bind;
      return this;
    }

    /** Overrides {@code worker.http.port} (0: any free port). */
    public Builder httpPort(int port) {
      this.httpPort = port;
      return this;
    }

    public Builder clock(InstantSource clock) {
      this.clock = Objects.requireNonNull(clock);
      return this;
    }

    /**
     * More tasks, made once the runtime exists (reporting exports, say). In a cluster every worker
     * must add the same ones.
     */
    public Builder extraTasks(Function<Spillway, List<ScheduledTask>> tasks) {
      this.extraTasks = Objects.requireNonNull(tasks);
      return this;
    }

    /** Opens everything and starts the schedules; fails naming what is unreachable. */
    public Worker start() {
      return new Worker(this);
    }
  }
}
