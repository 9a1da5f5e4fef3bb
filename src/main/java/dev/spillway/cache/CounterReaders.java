package dev.spillway.cache;

import dev.spillway.config.CacheSettings;
import java.time.Duration;

/**
 * Whether any runtime reads counters through the cache ({@code cachedCounters()}): one Redis key,
 * {@code <cache.prefix>readers:spillway.counters}, that every such runtime sets before it reads and
 * keeps alive while it reads. A flush invalidates cached counter reads only while that key exists;
 * with no reader anywhere it sends nothing (no invalidation script per key, no bus message per
 * key), which was a third of a flush's CPU on two cores (README, "Performance").
 *
 * <p>Why a flush cannot miss a reader: a reader sets the key (and waits for Redis to say so) before
 * its first load from PostgreSQL, and again every {@link #refreshNanos} while it keeps reading; the
 * key lives three times as long as any entry loaded in between can live (the counters' TTL with its
 * jitter and stale-while-revalidate, plus the longest load). A flush looks for the key after its
 * transaction committed. Either it finds the key and invalidates as before, or the reader set it
 * later, and then that reader's load ran after the commit and read the new total.
 *
 * <p>The key's TTL only ever grows (a runtime with shorter TTLs cannot cut short the life another
 * counts on). When Redis does not confirm the key, the reader caches nothing: it reads PostgreSQL
 * directly and tries again on its next read. A flush that cannot check invalidates as before. Not
 * covered: the key lost with an unreplicated write in a Redis failover, or evicted; what was cached
 * meanwhile is then stale for at most its TTL, as after a lost bus message.
 */
final class CounterReaders {
  private final L2 l2;
  private final String key;
  private final long lifeMillis;
  private final long refreshNanos;
  private volatile long lastSetNanos;
  private volatile boolean everSet;

  CounterReaders(L2 l2, CacheKeys keys, CacheSettings s) {
    this.l2 = l2;
    this.key = keys.prefix() + "readers:" + CacheRuntime.COUNTERS_CACHE;
    Duration entry =
        s.countersTtl()
            .multipliedBy(100 + s.ttlJitterPercent())
            .dividedBy(100)
            .plus(s.staleWhileRevalidate())
            .plus(s.maxLoadTime());
    this.refreshNanos = entry.toNanos();
    this.lifeMillis = entry.multipliedBy(3).toMillis();
  }

  /**
   * Before a cached counter read: says "a reader is here", at most once per refresh interval. True
   * when the key is known to outlive whatever this read caches; false when Redis did not confirm
   * it, and then the read must not cache.
   */
  boolean reading() {
    long now = System.nanoTime();
    if (everSet && now - lastSetNanos < refreshNanos) {
      return true;
    }
    if (l2.available() && l2.extend(key, lifeMillis)) {
      lastSetNanos = now;
      everSet = true;
      return true;
    }
    return false;
  }

  /** After a flush committed: false only when Redis says that no runtime reads cached counters. */
  boolean anyone() {
    return l2.get(key) != L2.Absent.ABSENT;
  }
}
