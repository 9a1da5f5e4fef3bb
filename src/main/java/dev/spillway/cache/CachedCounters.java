package dev.spillway.cache;

/**
 * A cache-aside view of counter totals: {@code cachedCounters()}. {@link #get} returns the total
 * that PostgreSQL holds for (counter, key) as of the last flush that touched it (0 if none), from
 * L1 or Redis when cached. Every flush publishes an invalidation for each counter key it applied,
 * so a flushed increment shows in every instance's cached view right after its flush; {@code
 * cache.counters-ttl} bounds the staleness should a message be lost.
 *
 * <p>Not exact: increments still pending in Redis or in a local buffer are not included. Use {@link
 * dev.spillway.counter.Counters#get} for the exact value (PostgreSQL plus pending, a few round
 * trips); use this for the cheap read a page shows to every visitor.
 */
public interface CachedCounters {
  /**
   * The flushed total of (counter, key), cached.
   *
   * @throws IllegalArgumentException when the counter name or key breaks its rule
   */
  long get(String counter, String key);

  /** Evicts (counter, key) everywhere now (flushes do this by themselves). */
  void invalidate(String counter, String key);
}
