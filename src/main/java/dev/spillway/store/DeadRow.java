package dev.spillway.store;

import java.math.BigInteger;

/** One row on its way to {@code dead_letter}: what could not be applied, and why. */
record DeadRow(
    String batchId,
    String source,
    String counter,
    String key,
    String granularity,
    Long bucketStart,
    BigInteger delta,
    String raw,
    String reason) {
  static DeadRow total(String batchId, String source, CounterStore.TotalKey k, long delta, String reason) {
    return new DeadRow(batchId, source, k.counter(), k.key(), null, null,
        BigInteger.valueOf(delta), null, reason);
  }

  static DeadRow bucket(String batchId, String source, CounterStore.BucketKey k, long delta, String reason) {
    return new DeadRow(batchId, source, k.counter(), k.key(), String.valueOf(k.granularity()),
        k.startSeconds(), BigInteger.valueOf(delta), null, reason);
  }
}
