package dev.spillway.metrics;

/**
 * Where a flush spends its time, phase by phase ({@code claim}, {@code read}, {@code aggregate},
 * {@code ledger}, {@code ship}, {@code upsert}, {@code commit}, {@code ack}), for the benchmark's
 * breakdown and the {@code spillway.flush.phase} timer. Called from the flushing and the apply
 * thread; implementations must be thread-safe and quick.
 */
@FunctionalInterface
public interface PhaseTimer {
  PhaseTimer NONE = (phase, nanos) -> {};

  void record(String phase, long nanos);
}
