package dev.spillway.worker;

import com.sun.management.OperatingSystemMXBean;
import com.zaxxer.hikari.HikariDataSource;
import com.zaxxer.hikari.metrics.micrometer.MicrometerMetricsTrackerFactory;
import io.lettuce.core.metrics.MicrometerCommandLatencyRecorder;
import io.lettuce.core.metrics.MicrometerOptions;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmInfoMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.core.instrument.config.MeterFilter;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.lang.management.ManagementFactory;
import java.sql.SQLException;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The worker's Prometheus registry: Spillway's own meters (registered by the runtime and the jobs),
 * JVM and process meters, HikariCP pool meters ({@code hikaricp_connections_*}), Lettuce command
 * latencies ({@code lettuce_command_completion_seconds}), and Redis memory as last read by the
 * worker's probe ({@code spillway_redis_memory_used_bytes}, {@code
 * spillway_redis_memory_max_bytes}; max is 0 when Redis has no limit).
 */
final class WorkerMetrics implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(WorkerMetrics.class);

  final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private final JvmGcMetrics gc = new JvmGcMetrics();
  private volatile double redisUsed = Double.NaN;
  private volatile double redisMax = Double.NaN;

  WorkerMetrics() {
    // /metrics passes `promtool check metrics`. Two of Micrometer's process meters do not:
    // process.cpu.time is published in nanoseconds (process_cpu_time_ns_total) and
    // system.cpu.count ends in _count without being a summary. The first is replaced by the
    // Prometheus convention, process_cpu_seconds_total; the second is renamed
    // system_cpu_processors. Filters go first: they apply only to meters registered after them.
    registry
        .config()
        .meterFilter(MeterFilter.deny(id -> id.getName().equals("process.cpu.time")))
        .meterFilter(
            new MeterFilter() {
              @Override
              public Meter.Id map(Meter.Id id) {
                return id.getName().equals("system.cpu.count")
                    ? id.withName("system.cpu.processors")
                    : id;
              }
            });
    if (ManagementFactory.getOperatingSystemMXBean() instanceof OperatingSystemMXBean os) {
      FunctionCounter.builder("process.cpu", os, b -> Math.max(0, b.getProcessCpuTime()) / 1e9)
          .description("CPU time used by the worker's JVM")
          .baseUnit("seconds")
          .register(registry);
    }
    new ClassLoaderMetrics().bindTo(registry);
    new JvmMemoryMetrics().bindTo(registry);
    gc.bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new JvmInfoMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    new UptimeMetrics().bindTo(registry);
    new FileDescriptorMetrics().bindTo(registry);
    Gauge.builder("spillway.redis.memory.used", this, m -> m.redisUsed)
        .description(
            "Redis used_memory (on a cluster: of the fullest master), as last read by this worker"
                + " (every 15 s)")
        .baseUnit("bytes")
        .register(registry);
    Gauge.builder("spillway.redis.memory.max", this, m -> m.redisMax)
        .description(
            "Redis maxmemory (0: no limit; on a cluster: of the fullest master), as last read by"
                + " this worker")
        .baseUnit("bytes")
        .register(registry);
  }

  /** A Lettuce latency recorder publishing to this registry. */
  MicrometerCommandLatencyRecorder lettuceRecorder() {
    return new MicrometerCommandLatencyRecorder(
        registry, MicrometerOptions.builder().enable().histogram(false).build());
  }

  /** Publishes the pool's meters, if it is a HikariCP pool that has none yet. */
  void bindPool(DataSource ds) {
    try {
      if (ds.isWrapperFor(HikariDataSource.class)) {
        ds.unwrap(HikariDataSource.class)
            .setMetricsTrackerFactory(new MicrometerMetricsTrackerFactory(registry));
      }
    } catch (SQLException | RuntimeException e) {
      log.warn("event=pool_metrics_unavailable error=\"{}\"", e.getMessage());
    }
  }

  void redisMemory(long used, long max) {
    redisUsed = used;
    redisMax = max;
  }

  String scrape() {
    return registry.scrape();
  }

  @Override
  public void close() {
    gc.close();
    registry.close();
  }
}
