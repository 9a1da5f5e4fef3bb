package dev.spillway.worker;

import dev.spillway.redis.RedisLink;
import dev.spillway.schedule.DeadLetterMonitor;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The gauges every worker refreshes on its own thread ({@code spillway-probe}), every {@link
 * #PROBE_INTERVAL}: the dead-letter gauges and the Redis memory gauges (on a cluster, those of the
 * fullest master). A failed probe is logged at debug and tried again next time. It owns its
 * executor: {@link #close()} shuts it down.
 */
final class GaugeProbes implements AutoCloseable {
  // The worker's logger: these lines keep the name they have always been logged under.
  private static final Logger log = LoggerFactory.getLogger(Worker.class);

  /** How often every worker refreshes the dead-letter and Redis memory gauges. */
  static final Duration PROBE_INTERVAL = Duration.ofSeconds(15);

  private final DeadLetterMonitor deadLetters;
  private final RedisLink<String, String> probe;
  private final WorkerMetrics metrics;
  private final ScheduledExecutorService probes;

  /** Starts refreshing at once, then every {@link #PROBE_INTERVAL}. */
  GaugeProbes(
      DeadLetterMonitor deadLetters, RedisLink<String, String> probe, WorkerMetrics metrics) {
    this.deadLetters = deadLetters;
    this.probe = probe;
    this.metrics = metrics;
    this.probes =
        Executors.newSingleThreadScheduledExecutor(
            r -> Thread.ofPlatform().daemon().name("spillway-probe").unstarted(r));
    probes.scheduleWithFixedDelay(
        this::refreshGauges, 0, PROBE_INTERVAL.toMillis(), TimeUnit.MILLISECONDS);
  }

  private void refreshGauges() {
    try {
      deadLetters.refresh();
    } catch (RuntimeException e) {
      log.debug("event=probe_failed probe=dead_letters error=\"{}\"", e.getMessage());
    }
    try {
      // On a cluster, the fullest master: the first to refuse writes or evict.
      long used = 0;
      long max = 0;
      double fullest = -1;
      for (String info : probe.infoOfMasters("memory", Health.TIMEOUT)) {
        long u = infoLong(info, "used_memory");
        long m = infoLong(info, "maxmemory");
        double ratio = m > 0 ? (double) u / m : 0;
        if (ratio > fullest || (ratio == fullest && u > used)) {
          fullest = ratio;
          used = u;
          max = m;
        }
      }
      metrics.redisMemory(used, max);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (Exception e) {
      log.debug("event=probe_failed probe=redis_memory error=\"{}\"", e.getMessage());
    }
  }

  static long infoLong(String info, String field) {
    for (String line : info.split("\r?\n")) {
      if (line.startsWith(field + ":")) {
        return Long.parseLong(line.substring(field.length() + 1).trim());
      }
    }
    throw new IllegalStateException("INFO has no " + field);
  }

  /** Stops the probes, without waiting for one that is running. */
  @Override
  public void close() {
    probes.shutdownNow();
  }
}
