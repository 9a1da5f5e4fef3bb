package dev.spillway.metrics;

import java.time.Duration;
import java.util.Map;
import java.util.function.ToDoubleFunction;
import java.util.function.ToLongFunction;

/**
 * What the counter client and the flusher report, one method per event and no meter types: the
 * engine says what happened, and the implementation decides what to record. The runtime's
 * implementation is {@link SpillwayMeters}, which registers Micrometer meters on the application's
 * registry; {@link #NONE} records nothing, for parts run outside a runtime.
 */
public interface SpillwayMetrics {
  /** Records nothing. */
  SpillwayMetrics NONE = new SpillwayMetrics() {};

  /** Cells sent from the local buffer and acknowledged by Redis. */
  default void cellsDrained(int cells) {}

  /** One drain round trip. */
  default void drainTook(Duration d) {}

  /** A drain Redis did not acknowledge (retried). */
  default void drainFailed() {}

  /** A local-buffer batch written straight to PostgreSQL (overflow {@code DIRECT}). */
  default void directBatch() {}

  /** Reads the accepted increments from {@code obj} when the meter is scraped. */
  default <T> void incrementsAccepted(T obj, ToDoubleFunction<T> f) {}

  /** Reads the cells buffered or unacknowledged from {@code obj} when the meter is scraped. */
  default <T> void pendingCells(T obj, ToDoubleFunction<T> f) {}

  /** A batch claimed from a live stripe hash (or adopted keys). */
  default void batchClaimed() {}

  /** Stripe claims tried again within a run. */
  default void claimRetries(int n) {}

  /**
   * A committed apply: batches applied, found in the ledger already, rows written, dead letters.
   */
  default void applied(int batches, int duplicates, long rows, long deadLetters) {}

  /** Batch applications that failed (left pending, retried). */
  default void batchesFailed(int n) {}

  /** Cells dead-lettered outside a committed apply (a poisoned batch). */
  default void deadLetters(long n) {}

  /** One flush run over its stripes. */
  default void flushTook(Duration d) {}

  /** Where a flush run's time goes, by phase. */
  default PhaseTimer phases() {
    return PhaseTimer.NONE;
  }

  /** Reads the oldest pending batch's age from {@code obj} when the meter is scraped. */
  default <T> void oldestPendingBatchAge(T obj, ToLongFunction<T> millis) {}

  /** Keys an adopt run left untouched, by reason. */
  default void adoptKeysLeftAlone(
      String mapping, long notMatchingRegex, long notText, Map<String, Long> wrongType) {}
}
