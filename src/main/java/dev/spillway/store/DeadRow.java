package dev.spillway.store;

import java.math.BigInteger;
import java.util.Objects;

/**
 * One row on its way to {@code dead_letter}: what could not be applied, why, and its class ({@link
 * DeadLetterKind#MAYBE_COUNTED} only for cells a Redis rollback resurrected).
 */
record DeadRow(
    String batchId,
    String source,
    String counter,
    String key,
    String granularity,
    Long bucketStart,
    BigInteger delta,
    String raw,
    String reason,
    DeadLetterKind kind) {
  DeadRow {
    Objects.requireNonNull(kind, "kind");
  }

  /** A row that was never counted. */
  static DeadRow unapplied(
      String batchId,
      String source,
      String counter,
      String key,
      BigInteger delta,
      String raw,
      String reason) {
    return new DeadRow(
        batchId, source, counter, key, null, null, delta, raw, reason, DeadLetterKind.UNAPPLIED);
  }

  static DeadRow total(
      String batchId, String source, CounterStore.TotalKey k, long delta, String reason) {
    return new DeadRow(
        batchId,
        source,
        k.counter(),
        k.key(),
        null,
        null,
        BigInteger.valueOf(delta),
        null,
        reason,
        DeadLetterKind.UNAPPLIED);
  }

  static DeadRow bucket(
      String batchId, String source, CounterStore.BucketKey k, long delta, String reason) {
    return new DeadRow(
        batchId,
        source,
        k.counter(),
        k.key(),
        String.valueOf(k.granularity()),
        k.startSeconds(),
        BigInteger.valueOf(delta),
        null,
        reason,
        DeadLetterKind.UNAPPLIED);
  }
}
