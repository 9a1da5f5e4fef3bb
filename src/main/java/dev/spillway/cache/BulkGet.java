package dev.spillway.cache;

import com.github.benmanes.caffeine.cache.Cache;
import dev.spillway.cache.DefaultCacheAside.Holder;
import dev.spillway.cache.DefaultCacheAside.L1Entry;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;

/**
 * The multi-key read behind {@link CacheAside#getAll}: L1 for each key, one MGET for the misses,
 * then the remaining keys through {@link DefaultCacheAside}'s single-key path (single flight,
 * lease), at most eight at a time.
 */
final class BulkGet<K, V> {
  private static final int GET_ALL_PARALLELISM = 8;

  private final DefaultCacheAside<K, V> cache;
  private final String name;
  private final int schemaVersion;
  private final AesGcmCodec codec;
  private final InstantSource clock;
  private final Cache<String, L1Entry<V>> l1;
  private final L2 l2;
  private final CacheKeys keys;
  private final CacheMeters.PerCache meters;
  private final Generations generations;

  BulkGet(DefaultCacheAside<K, V> cache, CacheAside.Builder<K, V> b) {
    this.cache = cache;
    this.name = cache.name;
    this.schemaVersion = b.schemaVersion;
    this.codec = b.codec;
    this.clock = cache.clock;
    this.l1 = cache.l1;
    this.l2 = cache.l2;
    this.keys = cache.keys;
    this.meters = cache.meters;
    this.generations = cache.generations;
  }

  Map<K, V> getAll(Collection<? extends K> keysWanted) {
    Map<K, V> out = new LinkedHashMap<>();
    Map<String, K> missing = new LinkedHashMap<>();
    for (K key : keysWanted) {
      String k = cache.encode(key);
      L1Entry<V> e = l1 == null ? null : l1.getIfPresent(k);
      if (e != null) {
        meters.l1Hits.increment();
        if (e.value() != null) {
          out.put(key, e.value());
        }
      } else {
        if (l1 != null) {
          meters.l1Misses.increment();
        }
        missing.put(k, key);
      }
    }
    if (missing.isEmpty()) {
      return out;
    }
    if (missing.size() > 1 && l2.available()) {
      readManyFromL2(missing, out);
    }
    if (missing.size() == 1) {
      var only = missing.entrySet().iterator().next();
      V v = cache.flight(only.getValue(), only.getKey());
      if (v != null) {
        out.put(only.getValue(), v);
      }
      return out;
    }
    // The rest load concurrently, each with its own single flight and lease, but at most
    // GET_ALL_PARALLELISM at a time: a getAll of 10,000 cold keys must not take every database
    // connection at once.
    Semaphore permits = new Semaphore(GET_ALL_PARALLELISM);
    try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
      Map<K, Future<V>> futures = new LinkedHashMap<>();
      for (var e : missing.entrySet()) {
        futures.put(
            e.getValue(),
            pool.submit(
                () -> {
                  permits.acquire();
                  try {
                    return cache.flight(e.getValue(), e.getKey());
                  } finally {
                    permits.release();
                  }
                }));
      }
      for (var f : futures.entrySet()) {
        V v = joinFuture(f.getValue());
        if (v != null) {
          out.put(f.getKey(), v);
        }
      }
    }
    return out;
  }

  /** One MGET for all misses; fresh hits move from {@code missing} to {@code out}. */
  private void readManyFromL2(Map<String, K> missing, Map<K, V> out) {
    List<String> ks = new ArrayList<>(missing.keySet());
    List<Long> gens = new ArrayList<>(ks.size());
    List<String> entryKeys = new ArrayList<>(ks.size());
    for (String k : ks) {
      gens.add(generations.snapshot(k));
      entryKeys.add(keys.entry(name, k));
    }
    List<byte[]> raw = l2.mget(entryKeys);
    if (raw == null) {
      meters.redisErrors.increment();
      return;
    }
    long now = clock.millis();
    for (int i = 0; i < ks.size(); i++) {
      if (raw.get(i) == null) {
        continue;
      }
      Envelope env = Envelope.decode(entryKeys.get(i), raw.get(i), schemaVersion, codec);
      if (env == null || now >= env.freshUntil() || !Boolean.TRUE.equals(cache.tagsCurrent(env))) {
        continue; // the single-key path sorts out stale, unreadable and re-tagged entries
      }
      Holder<V> h = cache.deserialize(env);
      if (h == null) {
        continue;
      }
      meters.l2Hits.increment();
      String k = ks.get(i);
      cache.putL1(k, env, h.value(), gens.get(i));
      K key = missing.remove(k);
      if (h.value() != null) {
        out.put(key, h.value());
      }
    }
  }

  private static <V> V joinFuture(Future<V> f) {
    try {
      return f.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new CacheLoadException("interrupted while loading", e);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof RuntimeException r) {
        throw r;
      }
      throw new CacheLoadException("loading failed: " + e.getCause(), e.getCause());
    }
  }
}
