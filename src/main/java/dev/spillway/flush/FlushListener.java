package dev.spillway.flush;

import java.util.List;
import java.util.Set;

/**
 * Callbacks at the step boundaries of a flush run. {@code afterClaim} and {@code afterAck} run on
 * the flushing thread; {@code beforeCommit} and {@code afterCommit} on the apply lanes, up to
 * {@code flush.apply-connections} at once, so an implementation must be thread-safe. For
 * observability and for the crash tests, which halt the JVM at each boundary to prove that a fresh
 * flusher recovers exactly. A listener that throws aborts the run at that point, which is safe by
 * design: every state between two steps is one a crash can leave.
 */
public interface FlushListener {
  FlushListener NONE = new FlushListener() {};

  /** After the claim step: ids of every batch now pending in the stripes of this window. */
  default void afterClaim(List<String> pendingBatchIds) {}

  /** Inside the apply transaction, after all writes, before COMMIT. */
  default void beforeCommit(Set<String> appliedBatchIds) {}

  /** After COMMIT, before the batches are acknowledged (deleted) in Redis. */
  default void afterCommit(Set<String> batchIds) {}

  /** After the acknowledgement. */
  default void afterAck(Set<String> batchIds) {}
}
