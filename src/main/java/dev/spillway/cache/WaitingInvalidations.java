package dev.spillway.cache;

import dev.spillway.config.CacheSettings;
import dev.spillway.runtime.RuntimeFailure;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Invalidations that Redis did not take when they were made (Redis away or slow), replayed in order
 * on the runtime's timer until Redis answers. Bounded: past {@value #MAX_PENDING} waiting items, a
 * cache's individual invalidations give way to one purge of all its L2 entries, which is correct
 * (every entry goes) and costs one SCAN instead of unbounded memory.
 */
final class WaitingInvalidations {
  private static final Logger log = LoggerFactory.getLogger(CacheRuntime.class);
  static final int MAX_PENDING = 100_000;

  private final L2 l2;
  private final CacheKeys keys;
  private final CacheSettings settings;
  private final CacheMeters meters;
  private final RuntimeFailure failure;
  private final ConcurrentLinkedQueue<BusMessage.Item> pending = new ConcurrentLinkedQueue<>();
  private final AtomicInteger pendingCount = new AtomicInteger();
  private final Set<String> purgeNeeded = ConcurrentHashMap.newKeySet();

  WaitingInvalidations(
      L2 l2, CacheKeys keys, CacheSettings settings, CacheMeters meters, RuntimeFailure failure) {
    this.l2 = l2;
    this.keys = keys;
    this.settings = settings;
    this.meters = meters;
    this.failure = failure;
  }

  /** Purges {@code cache}'s L2 entries on the next tick that finds Redis answering. */
  void purgeWhenRedisReturns(String cache) {
    purgeNeeded.add(cache);
  }

  void retryLater(BusMessage.Item item) {
    if (pendingCount.incrementAndGet() > MAX_PENDING) {
      pendingCount.decrementAndGet();
      if (purgeNeeded.add(item.cache())) {
        // The documented policy, not a fault: once per cache until the purge is done.
        log.warn(
            "event=cache_invalidations_overflow cache={} action=purge_cache_when_redis_returns",
            item.cache());
      }
      return;
    }
    pending.add(item);
  }

  /** One tick of the runtime's timer: purges first, then the waiting items in order. */
  void retry() {
    try {
      if (pending.isEmpty() && purgeNeeded.isEmpty()) {
        return;
      }
      for (String cache : List.copyOf(purgeNeeded)) {
        if (l2.unlinkMatching(keys.pattern(cache))) {
          purgeNeeded.remove(cache);
          log.warn("event=cache_purged cache={} reason=invalidations_overflowed", cache);
        } else {
          return;
        }
      }
      BusMessage.Item item;
      while ((item = pending.peek()) != null) {
        boolean ok =
            switch (item.kind()) {
              case KEY ->
                  l2.invalidate(
                      keys.entry(item.cache(), item.value()),
                      keys.invalidations(item.cache(), item.value()),
                      settings.maxLoadTime());
              case TAG ->
                  l2.bumpTag(
                          keys.tagSequence(item.cache()),
                          keys.tag(item.cache(), item.value()),
                          settings.tagTtl())
                      != null;
              case CLEAR -> true;
            };
        if (!ok) {
          return; // still away: try again next tick, in order
        }
        pending.poll();
        pendingCount.decrementAndGet();
        meters.invalidationsRetried.increment();
      }
    } catch (RuntimeException e) {
      log.warn("event=cache_retry_error error=\"{}\"", e.toString());
    } catch (Error e) {
      failure.record(Thread.currentThread().getName(), e);
      throw e;
    }
  }

  int size() {
    return pendingCount.get();
  }
}
