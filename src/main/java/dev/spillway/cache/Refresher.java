package dev.spillway.cache;

import java.time.InstantSource;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Background reloads of one cache: stale-while-revalidate (a stale value is served while one reload
 * runs) and XFetch early refresh (a fresh value is sometimes reloaded shortly before it expires).
 * At most one reload per key per JVM, on the runtime's background executor; across instances the
 * load lease lets one of them reload, and a reload that finds the lease taken gives up. A failed
 * reload is logged at debug and forgotten: the next read tries again.
 */
final class Refresher<K, V> {
  // Same logger as the rest of the cache engine, so its log lines keep their category.
  private static final Logger log = LoggerFactory.getLogger(DefaultCacheAside.class);

  private final DefaultCacheAside<K, V> cache;
  private final CacheRuntime runtime;
  private final String name;
  private final double beta;
  private final InstantSource clock;
  private final L2 l2;
  private final CacheMeters.PerCache meters;
  private final Generations generations;
  private final Set<String> refreshing = ConcurrentHashMap.newKeySet();

  Refresher(DefaultCacheAside<K, V> cache, CacheAside.Builder<K, V> b) {
    this.cache = cache;
    this.runtime = cache.runtime;
    this.name = cache.name;
    this.beta = b.earlyRefreshBeta;
    this.clock = cache.clock;
    this.l2 = cache.l2;
    this.meters = cache.meters;
    this.generations = cache.generations;
  }

  /**
   * XFetch (Vattani, Chierichetti, Lowenstein, "Optimal Probabilistic Cache Stampede Prevention",
   * VLDB 2015): refresh when {@code now - delta * beta * ln(rand) >= expiry}. The closer the expiry
   * and the longer the load, the likelier; across many readers one refresh happens shortly before
   * expiry instead of a stampede at it.
   */
  void maybeRefreshEarly(K key, String k, long freshUntil, int computeMillis) {
    if (beta <= 0) {
      return;
    }
    double r = 1.0 - ThreadLocalRandom.current().nextDouble(); // (0, 1]: log is finite
    if (clock.millis() - computeMillis * beta * Math.log(r) >= freshUntil) {
      if (refreshInBackground(key, k)) {
        meters.earlyRefreshes.increment();
      }
    }
  }

  /** Starts one background reload of {@code k} per JVM; false if one is running already. */
  boolean refreshInBackground(K key, String k) {
    if (!refreshing.add(k)) {
      return false;
    }
    try {
      runtime.background().execute(() -> refresh(key, k));
      return true;
    } catch (RuntimeException rejected) {
      refreshing.remove(k); // queue full or runtime closing: a later read tries again
      return false;
    }
  }

  private void refresh(K key, String k) {
    try {
      long gen = generations.snapshot(k);
      if (!l2.available()) {
        return;
      }
      String token = Long.toHexString(ThreadLocalRandom.current().nextLong());
      LeasedFetch.Snapshot s = cache.fetch.snapshot(k, token, false);
      if (s == null || !s.leased()) {
        return; // Redis away, or another instance is refreshing it right now
      }
      cache.fetch.loadAndStore(key, k, gen, s, token);
    } catch (RuntimeException e) {
      log.debug("event=cache_refresh_failed cache={} key={} error=\"{}\"", name, k, e.toString());
    } finally {
      refreshing.remove(k);
    }
  }
}
