package dev.spillway.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.Map;
import java.util.function.ToDoubleFunction;
import java.util.function.ToLongFunction;

/**
 * Spillway's meters, registered once per runtime on the given registry. Names are dotted with base
 * units ({@code spillway.flush.duration}); no tag has unbounded cardinality (no counter names, no
 * keys). The hot path ({@code increment()}) touches no meter: accepted increments are counted by
 * the buffer and read through a {@link FunctionCounter}.
 */
public final class SpillwayMeters {
  private final MeterRegistry registry;
  public final Counter cellsDrained;
  public final Timer drainLatency;
  public final Counter drainFailures;
  public final Counter directBatches;
  public final Counter batchesClaimed;
  public final Counter batchesApplied;
  public final Counter batchesDuplicate;
  public final Counter batchesFailed;
  public final Counter rowsUpserted;
  public final Counter deadLetters;
  public final Timer flushDuration;
  public final Counter claimRetries;
  public final FlushPhaseMeters flushPhases;

  public SpillwayMeters(MeterRegistry registry) {
    this.registry = registry;
    flushPhases = new FlushPhaseMeters(registry);
    cellsDrained =
        Counter.builder("spillway.client.cells.drained")
            .description("Cells sent from the local buffer to Redis and acknowledged")
            .register(registry);
    drainLatency =
        Timer.builder("spillway.client.drain.duration")
            .description("Time to send one drain of the local buffer to Redis")
            .publishPercentiles(0.5, 0.99)
            .register(registry);
    drainFailures =
        Counter.builder("spillway.client.drain.failures")
            .description("Drains that Redis did not acknowledge (retried with backoff)")
            .register(registry);
    directBatches =
        Counter.builder("spillway.client.direct.batches")
            .description("Local-buffer batches written straight to PostgreSQL (overflow DIRECT)")
            .register(registry);
    batchesClaimed = batches("claimed", "Batches claimed from live stripe hashes");
    batchesApplied = batches("applied", "Batches applied to PostgreSQL");
    batchesDuplicate =
        batches("duplicate", "Batches found in the ledger already (acknowledged, not re-applied)");
    batchesFailed = batches("failed", "Batch applications that failed (left pending, retried)");
    rowsUpserted =
        Counter.builder("spillway.flush.rows.upserted")
            .description("Rows inserted or updated in counter_totals and counter_buckets")
            .register(registry);
    deadLetters =
        Counter.builder("spillway.flush.dead.letters")
            .description("Cells routed to dead_letter")
            .register(registry);
    flushDuration =
        Timer.builder("spillway.flush.duration")
            .description("Duration of one flush run over all stripes")
            .register(registry);
    claimRetries =
        Counter.builder("spillway.flush.claim.retries")
            .description(
                "Stripe claims tried again within a run after TRYAGAIN, a failover or a lost"
                    + " connection (Redis Cluster resharding and failover)")
            .register(registry);
  }

  private Counter batches(String outcome, String description) {
    return Counter.builder("spillway.flush.batches")
        .tag("outcome", outcome)
        .description(description)
        .register(registry);
  }

  /**
   * Keys an adopt run found under its pattern and left untouched, by reason ({@code key-regex},
   * {@code not-text}, {@code type}) and, for {@code type}, the Redis type they hold. Tagged by
   * mapping: mappings are configured, so the cardinality is bounded.
   */
  public void adoptKeysLeftAlone(
      String mapping, long notMatchingRegex, long notText, Map<String, Long> wrongType) {
    leftAlone(mapping, "key-regex", "", notMatchingRegex);
    leftAlone(mapping, "not-text", "", notText);
    wrongType.forEach((type, n) -> leftAlone(mapping, "type", type, n));
  }

  private void leftAlone(String mapping, String reason, String type, long n) {
    if (n > 0) {
      Counter.builder("spillway.adopt.keys.left.alone")
          .description("Keys under an adopt mapping's match pattern that it left untouched")
          .tag("mapping", mapping)
          .tag("reason", reason)
          .tag("type", type.isEmpty() ? "-" : type)
          .register(registry)
          .increment(n);
    }
  }

  public <T> void incrementsAccepted(T obj, ToDoubleFunction<T> f) {
    FunctionCounter.builder("spillway.client.increments.accepted", obj, f)
        .description("Calls to increment() accepted into the local buffer")
        .register(registry);
  }

  public <T> void pendingCells(T obj, ToDoubleFunction<T> f) {
    Gauge.builder("spillway.client.cells.pending", obj, f)
        .description("Distinct cells in the local buffer not yet acknowledged by Redis")
        .register(registry);
  }

  public <T> void oldestPendingBatchAge(T obj, ToLongFunction<T> millis) {
    Gauge.builder("spillway.flush.oldest.batch.age", obj, o -> millis.applyAsLong(o) / 1000.0)
        .description("Age of the oldest claimed batch still pending, as of the last flush run")
        .baseUnit("seconds")
        .register(registry);
  }

  public void recordDrain(Duration d) {
    drainLatency.record(d);
  }

  public MeterRegistry registry() {
    return registry;
  }
}
