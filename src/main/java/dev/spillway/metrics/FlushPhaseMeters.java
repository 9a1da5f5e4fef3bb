package dev.spillway.metrics;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * {@code spillway.flush.phase}: time spent per flush phase, tagged {@code phase} (a fixed set:
 * claim, read, aggregate, ledger, ship, upsert, commit, ack). Phases of one run overlap (Redis
 * reads go on while PostgreSQL applies), so their sum can exceed the run's duration.
 */
public final class FlushPhaseMeters implements PhaseTimer {
  private final MeterRegistry registry;
  private final Map<String, Timer> timers = new ConcurrentHashMap<>();

  public FlushPhaseMeters(MeterRegistry registry) {
    this.registry = registry;
  }

  @Override
  public void record(String phase, long nanos) {
    timers
        .computeIfAbsent(
            phase,
            p ->
                Timer.builder("spillway.flush.phase")
                    .tag("phase", p)
                    .description("Time spent in one phase of the flush (phases overlap)")
                    .register(registry))
        .record(nanos, TimeUnit.NANOSECONDS);
  }
}
