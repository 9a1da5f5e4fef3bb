package dev.spillway.schedule;

import dev.spillway.flush.AdoptKeys;
import dev.spillway.layout.KeyLayout;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * What is claimed but not yet acknowledged in Redis: every stripe's {@code batches} set and every
 * adopt mapping's, read with one pipelined SMEMBERS per set. Batch ids carry their claim time
 * ({@code <millis base 36>-<random>}, adopt batches {@code a.<mapping>.<millis base 36>-<random>}),
 * so the oldest claim needs no further reads.
 *
 * <p>Ledger pruning rests on this: a ledger row may go only when no batch that could still need it
 * is pending, i.e. when the oldest pending batch is younger than the retention.
 */
public final class PendingBatches {
  /**
   * @param batches how many batches are pending
   * @param oldestClaim when the oldest of them was claimed, if any
   */
  public record Summary(int batches, Optional<Instant> oldestClaim) {
    public Duration oldestAge(Instant now) {
      return oldestClaim.map(t -> Duration.between(t, now)).orElse(Duration.ZERO);
    }
  }

  private PendingBatches() {}

  /**
   * Reads every pending-batch set.
   *
   * @throws IllegalStateException when Redis does not answer within {@code timeout}
   */
  public static Summary scan(
      RedisClusterAsyncCommands<String, String> redis,
      KeyLayout layout,
      Collection<String> adoptMappings,
      boolean cluster,
      Duration timeout) {
    List<String> keys = new ArrayList<>(layout.stripes() + adoptMappings.size());
    for (int s = 0; s < layout.stripes(); s++) {
      keys.add(layout.batches(s));
    }
    AdoptKeys adopt = new AdoptKeys(layout, cluster);
    for (String m : adoptMappings) {
      keys.addAll(adopt.batchesSets(redis, m, () -> {}, timeout));
    }
    List<RedisFuture<Set<String>>> futures = new ArrayList<>(keys.size());
    for (String k : keys) {
      futures.add(redis.smembers(k));
    }
    long deadline = System.nanoTime() + timeout.toNanos();
    int count = 0;
    long oldest = Long.MAX_VALUE;
    for (RedisFuture<Set<String>> f : futures) {
      Set<String> ids;
      try {
        ids = f.get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while reading pending batches", e);
      } catch (ExecutionException | TimeoutException e) {
        throw new IllegalStateException(
            "reading pending batches from Redis failed: "
                + (e.getCause() != null ? e.getCause().getMessage() : e.toString()),
            e);
      }
      for (String id : ids) {
        count++;
        // An id we cannot read counts as claimed at the epoch: pruning then refuses, which is
        // the safe side.
        oldest = Math.min(oldest, claimedAtMillis(id).orElse(0));
      }
    }
    return new Summary(
        count,
        oldest == Long.MAX_VALUE ? Optional.empty() : Optional.of(Instant.ofEpochMilli(oldest)));
  }

  /** The claim time a batch id carries, if it has the expected shape. */
  static OptionalLong claimedAtMillis(String batchId) {
    String tail = batchId.substring(batchId.lastIndexOf('.') + 1);
    int dash = tail.indexOf('-');
    if (dash <= 0) {
      return OptionalLong.empty();
    }
    try {
      return OptionalLong.of(Long.parseLong(tail.substring(0, dash), 36));
    } catch (NumberFormatException e) {
      return OptionalLong.empty();
    }
  }
}
