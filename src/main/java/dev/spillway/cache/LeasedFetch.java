package dev.spillway.cache;

import dev.spillway.cache.DefaultCacheAside.Holder;
import java.time.Duration;
import java.time.InstantSource;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a get does after an L1 miss, under the key's single flight (steps 3 to 5 of {@link
 * DefaultCacheAside}): read the L2 envelope, serve it if fresh or within the stale-while-revalidate
 * window, else take the load lease (or wait for its holder's value), call the loader and write the
 * result back only if no invalidation happened meanwhile. Redis failing at any point sends the get
 * to the loader, filling only L1.
 */
final class LeasedFetch<K, V> {
  // Same logger as the rest of the cache engine, so its log lines keep their category.
  private static final Logger log = LoggerFactory.getLogger(DefaultCacheAside.class);

  private final DefaultCacheAside<K, V> cache;
  private final String name;
  private final CacheLoader<? super K, ? extends V> loader;
  private final Duration leaseTime;
  private final long leaseWaitNanos;
  private final long maxLoadNanos;
  private final InstantSource clock;
  private final L2 l2;
  private final CacheKeys keys;
  private final CacheMeters.PerCache meters;
  private final Generations generations;
  final EntryRules<K, V> rules;

  LeasedFetch(DefaultCacheAside<K, V> cache, CacheAside.Builder<K, V> b) {
    this.cache = cache;
    this.name = cache.name;
    this.loader = b.loader;
    this.leaseTime = b.leaseTime;
    this.leaseWaitNanos = b.leaseWait.toNanos();
    this.maxLoadNanos = cache.runtime.settings().maxLoadTime().toNanos();
    this.clock = cache.clock;
    this.l2 = cache.l2;
    this.keys = cache.keys;
    this.meters = cache.meters;
    this.generations = cache.generations;
    this.rules = new EntryRules<>(cache, b);
  }

  V fetch(K key, String k) {
    long gen = generations.snapshot(k);
    if (!l2.available()) {
      meters.redisBypassed.increment();
      return loadWithoutRedis(key, k, gen);
    }
    String ek = keys.entry(name, k);
    Object raw = l2.get(ek);
    if (raw == null) {
      meters.redisErrors.increment();
      return loadWithoutRedis(key, k, gen);
    }
    if (raw instanceof byte[] bytes) {
      Envelope env = Envelope.decode(ek, bytes, rules.schemaVersion(), rules.codec());
      Holder<V> h = env == null ? null : cache.deserialize(env);
      if (h == null) {
        meters.unreadable.increment();
      } else {
        Boolean current = cache.tagsCurrent(env);
        if (current == null) {
          meters.redisErrors.increment();
          return loadWithoutRedis(key, k, gen);
        }
        long now = clock.millis();
        if (current && now < env.freshUntil()) {
          meters.l2Hits.increment();
          cache.putL1(k, env, h.value(), gen);
          cache.refresher.maybeRefreshEarly(key, k, env.freshUntil(), env.computeMillis());
          return h.value();
        }
        if (current && now < env.freshUntil() + rules.staleWindowMillis()) {
          meters.staleServed.increment();
          cache.refresher.refreshInBackground(key, k);
          return h.value();
        }
      }
    }
    meters.l2Misses.increment();
    return loadShared(key, k, gen);
  }

  /**
   * Snapshot taken just before a load: the lease outcome, the key's and the tags' generations; or
   * the entry that appeared meanwhile ({@code existing}).
   */
  record Snapshot(
      boolean leased, String generation, long tagSequence, long startedNanos, byte[] existing) {}

  /**
   * Takes the lease if free (and, if {@code unlessEntryExists}, if there is still no entry) and
   * snapshots the generations; null when Redis failed.
   */
  Snapshot snapshot(String k, String token, boolean unlessEntryExists) {
    long started = System.nanoTime();
    L2.Acquired a =
        l2.acquire(
            keys.lease(name, k),
            keys.invalidations(name, k),
            keys.entry(name, k),
            token,
            leaseTime,
            unlessEntryExists);
    if (a == null) {
      return null;
    }
    if (a.existing() != null) {
      return new Snapshot(false, "0", 0, started, a.existing());
    }
    long seq = 0;
    if (rules.tagged()) {
      Object s = l2.get(keys.tagSequence(name));
      if (s == null) {
        return null;
      }
      seq = s instanceof byte[] b ? L2.parseLong(b) : 0;
    }
    return new Snapshot(a.acquired(), a.generation(), seq, started, null);
  }

  /**
   * The value of an entry found in L2 (written by another instance meanwhile) if it is fresh and
   * its tags current, put into L1; null otherwise.
   */
  private Holder<V> takeExisting(String k, String ek, byte[] raw, long gen) {
    Envelope env = Envelope.decode(ek, raw, rules.schemaVersion(), rules.codec());
    Holder<V> h = env == null ? null : cache.deserialize(env);
    if (h == null
        || clock.millis() >= env.freshUntil()
        || !Boolean.TRUE.equals(cache.tagsCurrent(env))) {
      return null;
    }
    meters.l2Hits.increment();
    cache.putL1(k, env, h.value(), gen);
    return h;
  }

  private V loadShared(K key, String k, long gen) {
    String token =
        Long.toHexString(ThreadLocalRandom.current().nextLong())
            + Long.toHexString(System.nanoTime());
    String ek = keys.entry(name, k);
    Snapshot s = snapshot(k, token, true);
    if (s != null && s.existing() != null) {
      Holder<V> other = takeExisting(k, ek, s.existing(), gen);
      if (other != null) {
        return other.value(); // written by another instance since our GET
      }
      s = snapshot(k, token, false); // an unusable entry (stale, re-tagged): load over it
    }
    if (s == null) {
      meters.redisErrors.increment();
      return loadWithoutRedis(key, k, gen);
    }
    if (s.leased()) {
      return loadAndStore(key, k, gen, s, token);
    }
    meters.leaseWaits.increment();
    long deadline = System.nanoTime() + leaseWaitNanos;
    long pause = 2;
    while (System.nanoTime() - deadline < 0) {
      sleep(Math.min(pause, Math.max(1, (deadline - System.nanoTime()) / 1_000_000)));
      pause = Math.min(pause * 2, 50);
      // One script looks for the holder's value and, if there is none, tries the lease: if the
      // holder failed or its write was refused (an invalidation), we load now rather than wait
      // out the clock; looking and taking atomically means a holder that just wrote is not missed.
      long g = generations.snapshot(k);
      Snapshot again = snapshot(k, token, true);
      if (again == null) {
        meters.redisErrors.increment();
        return loadWithoutRedis(key, k, gen);
      }
      if (again.existing() != null) {
        Holder<V> other = takeExisting(k, ek, again.existing(), g);
        if (other != null) {
          return other.value();
        }
      } else if (again.leased()) {
        return loadAndStore(key, k, g, again, token);
      }
    }
    // Waited out a slow holder: load without the lease (by design, a second load).
    long g = generations.snapshot(k);
    Snapshot last = snapshot(k, token, false);
    if (last == null) {
      meters.redisErrors.increment();
      return loadWithoutRedis(key, k, gen);
    }
    return loadAndStore(key, k, g, last, last.leased() ? token : null);
  }

  V loadAndStore(K key, String k, long gen, Snapshot s, String token) {
    String ek = keys.entry(name, k);
    String lk = keys.lease(name, k);
    V v;
    long t0 = System.nanoTime();
    try {
      v = callLoader(key, k);
    } catch (RuntimeException e) {
      if (token != null) {
        l2.release(lk, token);
      }
      throw e;
    }
    int computeMillis = (int) Math.min(Integer.MAX_VALUE, (System.nanoTime() - t0) / 1_000_000);
    Map<String, Long> tagVersions = rules.tagVersions(v, s.tagSequence());
    byte[] payload = tagVersions == null ? null : rules.payload(v);
    if (payload == null) {
      releaseQuietly(lk, token);
      return v;
    }
    long now = clock.millis();
    long life = rules.life(v);
    Envelope env =
        new Envelope(
            rules.schemaVersion(), v == null, now, computeMillis, now + life, tagVersions, payload);
    if (System.nanoTime() - s.startedNanos() >= maxLoadNanos) {
      // The invalidation marker this write would check may have expired: serve, don't cache.
      log.warn("event=cache_load_too_slow cache={} action=served_not_cached", name);
      releaseQuietly(lk, token);
      return v;
    }
    Boolean written =
        l2.write(
            ek,
            keys.invalidations(name, k),
            lk,
            env.encode(ek, rules.codec()),
            life + rules.staleWindowMillis(),
            s.generation(),
            token);
    if (written == null) {
      meters.redisErrors.increment();
      cache.putL1(k, env, v, gen); // Redis failed, the generation check still guards L1
    } else if (written) {
      cache.putL1(k, env, v, gen);
    } else {
      meters.writesRefused.increment();
    }
    return v;
  }

  /** Redis unavailable: the loader answers; only L1 (guarded by the generation) is filled. */
  private V loadWithoutRedis(K key, String k, long gen) {
    long t0 = System.nanoTime();
    V v = callLoader(key, k);
    if (rules.tagged() && v != null) {
      return v; // the tag versions cannot be recorded, so the value cannot be tag-invalidated
    }
    long now = clock.millis();
    int computeMillis = (int) Math.min(Integer.MAX_VALUE, (System.nanoTime() - t0) / 1_000_000);
    long life = rules.life(v);
    cache.putL1(
        k,
        new Envelope(
            rules.schemaVersion(), v == null, now, computeMillis, now + life, Map.of(), null),
        v,
        gen);
    return v;
  }

  private V callLoader(K key, String k) {
    long t0 = System.nanoTime();
    try {
      V v = loader.load(key);
      meters.loads.increment();
      meters.loadDuration.record(Duration.ofNanos(System.nanoTime() - t0));
      return v;
    } catch (Exception e) {
      meters.loadFailures.increment();
      if (e instanceof InterruptedException) {
        Thread.currentThread().interrupt();
      }
      throw new CacheLoadException(
          "cache '" + name + "': the loader failed for key '" + k + "': " + e, e);
    }
  }

  private void releaseQuietly(String leaseKey, String token) {
    if (token != null) {
      l2.release(leaseKey, token);
    }
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new CacheLoadException("interrupted while waiting for another instance's load", e);
    }
  }
}
