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
 * the buffer and read through a {@link FunctionCounter}. The engine sees only {@link
 * SpillwayMetrics}.
 */
public final class SpillwayMeters implements SpillwayMetrics {
  private final MeterRegistry registry;
  private final Counter cellsDrained;
  private final Timer drainLatency;
  private final Counter drainFailures;
  private final Counter directBatches;
  private final Counter batchesClaimed;
  private final Counter batchesApplied;
  private final Counter batchesDuplicate;
  private final Counter batchesFailed;
  private final Counter rowsUpserted;
  private final Counter deadLetters;
  private final Timer flushDuration;
  private final Counter claimRetries;
  private final FlushPhaseMeters flushPhases;

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
  @Override
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

  @Override
  public <T> void incrementsAccepted(T obj, ToDoubleFunction<T> f) {
    FunctionCounter.builder("spillway.client.increments.accepted", obj, f)
        .description("Calls to increment() accepted into the local buffer")
        .register(registry);
  }

  @Override
  public <T> void pendingCells(T obj, ToDoubleFunction<T> f) {
    Gauge.builder("spillway.client.cells.pending", obj, f)
        .description("Distinct cells in the local buffer not yet acknowledged by Redis")
        .register(registry);
  }

  @Override
  public <T> void oldestPendingBatchAge(T obj, ToLongFunction<T> millis) {
    Gauge.builder("spillway.flush.oldest.batch.age", obj, o -> millis.applyAsLong(o) / 1000.0)
        .description("Age of the oldest claimed batch still pending, as of the last flush run")
        .baseUnit("seconds")
        .register(registry);
  }

  @Override
  public void drainTook(Duration d) {
    drainLatency.record(d);
  }

  @Override
  public void cellsDrained(int cells) {
    cellsDrained.increment(cells);
  }

  @Override
  public void drainFailed() {
    drainFailures.increment();
  }

  @Override
  public void directBatch() {
    directBatches.increment();
  }

  @Override
  public void batchClaimed() {
    batchesClaimed.increment();
  }

  @Override
  public void claimRetries(int n) {
    claimRetries.increment(n);
  }

  @Override
  public void applied(int batches, int duplicates, long rows, long deadLetters) {
    batchesApplied.increment(batches);
    batchesDuplicate.increment(duplicates);
    rowsUpserted.increment(rows);
    this.deadLetters.increment(deadLetters);
  }

  @Override
  public void batchesFailed(int n) {
    batchesFailed.increment(n);
  }

  @Override
  public void deadLetters(long n) {
    deadLetters.increment(n);
  }

  @Override
  public void flushTook(Duration d) {
    flushDuration.record(d);
  }

  @Override
  public FlushPhaseMeters phases() {
    return flushPhases;
  }

  public MeterRegistry registry() {
    return registry;
  }
}
