package dev.spillway.schedule;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The meters of one scheduled task in {@link JobScheduler}: its runs by outcome ({@code
 * spillway.job.runs}) and their duration ({@code spillway.job.duration}), tagged with the task
 * name.
 */
record JobMeters(Counter ok, Counter error, Timer duration) {

  static Map<String, JobMeters> of(MeterRegistry registry, Collection<String> names) {
    if (registry == null) {
      return Map.of();
    }
    Map<String, JobMeters> out = new LinkedHashMap<>();
    for (String n : names) {
      // Task names come from the configuration: a bounded set, so fine as a tag. The tag is
      // "task", not "job": Prometheus owns "job" (and "instance") and would rename ours to
      // exported_job.
      out.put(
          n,
          new JobMeters(
              runs(registry, n, "ok"),
              runs(registry, n, "error"),
              Timer.builder("spillway.job.duration")
                  .tag("task", n)
                  .description("Duration of one run of a scheduled job in this worker")
                  .register(registry)));
    }
    return Map.copyOf(out);
  }

  private static Counter runs(MeterRegistry registry, String task, String outcome) {
    return Counter.builder("spillway.job.runs")
        .tag("task", task)
        .tag("outcome", outcome)
        .description("Runs of a scheduled job in this worker, by outcome")
        .register(registry);
  }
}
