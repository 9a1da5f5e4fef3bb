package dev.spillway.cache;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import com.github.benmanes.caffeine.cache.Ticker;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The engine behind {@link CacheAside}. A get walks L1, then L2, then the loader:
 *
 * <ol>
 *   <li><b>L1</b> (Caffeine, keyed by the encoded key). An entry lives at most {@code l1Ttl} and
 *       never past its value's freshness.
 *   <li><b>Single flight</b>: one fetch per key per JVM; concurrent gets join it.
 *   <li><b>L2</b>: one GET of the envelope (plus one MGET of its tag versions if it has tags).
 *       Fresh: served, perhaps with an XFetch early refresh in the background. Stale but within the
 *       stale-while-revalidate window: served, one background refresh per key. A Redis failure or
 *       time-out goes straight to the loader, without writing anything.
 *   <li><b>Lease</b>: {@code SET NX PX} of a random token, in the same script that snapshots the
 *       key's invalidation counter. The holder loads; the others poll L2 for its value (trying to
 *       take the lease themselves if it vanished without a value) for up to {@code leaseWait}, then
 *       load.
 *   <li><b>Store</b>: the write script sets the envelope only if the invalidation counter still
 *       equals the snapshot, so a load that began before an invalidation is never cached in L2; L1
 *       is put only after a successful write, and only if the in-JVM generation is unchanged (see
 *       {@link Generations}).
 * </ol>
 *
 * <p>This class holds L1, the single flight, the invalidations and what both read paths need to
 * judge an L2 envelope; the rest is split by concern: {@link LeasedFetch} (steps 3 to 5), {@link
 * Refresher} (stale-while-revalidate and early refresh), {@link BulkGet} ({@link #getAll}), {@link
 * WriteThrough} ({@link #put}, {@link #writeThrough}) and {@link KeyRules} (key and tag checks).
 */
final class DefaultCacheAside<K, V> implements CacheAside<K, V> {
  /** What L1 holds: the value and what early refresh and tag eviction need. */
  record L1Entry<V>(V value, long freshUntil, int computeMillis, Set<String> tags) {}

  /** A value that may be null, so it can complete a future. */
  record Holder<V>(V value) {}

  final CacheRuntime runtime;
  final String name;
  final InstantSource clock;
  final Cache<String, L1Entry<V>> l1;
  final L2 l2;
  final CacheKeys keys;
  final CacheMeters.PerCache meters;
  final Generations generations = new Generations();
  final KeyRules<K> keyRules;
  final LeasedFetch<K, V> fetch;
  final Refresher<K, V> refresher;
  private final BulkGet<K, V> bulk;
  private final WriteThrough<K, V> writes;
  private final ValueSerializer<V> serializer;
  private final ConcurrentHashMap<String, CompletableFuture<Holder<V>>> inflight =
      new ConcurrentHashMap<>();

  DefaultCacheAside(CacheAside.Builder<K, V> b) {
    this.runtime = b.runtime;
    this.name = b.name;
    this.serializer = b.serializer;
    this.clock = b.clock;
    this.l2 = runtime.l2();
    this.keys = runtime.keys();
    this.meters = runtime.meters().forCache(name);
    if (b.l1MaxSize > 0) {
      long l1TtlNanos = b.l1Ttl.toNanos();
      InstantSource c = clock;
      this.l1 =
          Caffeine.newBuilder()
              .maximumSize(b.l1MaxSize)
              .ticker(b.ticker != null ? b.ticker : Ticker.systemTicker())
              // Evictions run on the caller: no hidden ForkJoinPool work, deterministic tests.
              .executor(Runnable::run)
              .expireAfter(
                  Expiry.<String, L1Entry<V>>writing(
                      (k, e) ->
                          Duration.ofNanos(
                              Math.max(
                                  0,
                                  Math.min(
                                      l1TtlNanos, (e.freshUntil() - c.millis()) * 1_000_000L)))))
              .build();
    } else {
      this.l1 = null;
    }
    this.keyRules = new KeyRules<>(name, b.keyEncoder);
    // The helpers copy the shared fields above (all set by now) and their settings from the
    // builder; they reach one another through this object only at call time.
    this.fetch = new LeasedFetch<>(this, b);
    this.refresher = new Refresher<>(this, b);
    this.bulk = new BulkGet<>(this, b);
    this.writes = new WriteThrough<>(this, b);
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public V get(K key) {
    String k = encode(key);
    if (l1 != null) {
      L1Entry<V> e = l1.getIfPresent(k);
      if (e != null) {
        meters.l1Hits.increment();
        refresher.maybeRefreshEarly(key, k, e.freshUntil(), e.computeMillis());
        return e.value();
      }
      meters.l1Misses.increment();
    }
    return flight(key, k);
  }

  @Override
  public Map<K, V> getAll(Collection<? extends K> keysWanted) {
    return bulk.getAll(keysWanted);
  }

  V flight(K key, String k) {
    CompletableFuture<Holder<V>> mine = new CompletableFuture<>();
    CompletableFuture<Holder<V>> running = inflight.putIfAbsent(k, mine);
    if (running != null) {
      meters.coalesced.increment();
      return join(running);
    }
    try {
      V v = fetch.fetch(key, k);
      mine.complete(new Holder<>(v));
      return v;
    } catch (RuntimeException | Error e) {
      mine.completeExceptionally(e);
      throw e;
    } finally {
      inflight.remove(k, mine);
    }
  }

  void putL1(String k, Envelope env, V value, long gen) {
    if (l1 == null) {
      return;
    }
    L1Entry<V> e =
        new L1Entry<>(
            value, env.freshUntil(), env.computeMillis(), Set.copyOf(env.tags().keySet()));
    // Check and put under the entry's lock: an invalidation bumps the generation before it
    // evicts, so it either is seen here or evicts after the put; and a value older than the
    // snapshot never replaces, even briefly, what a later write-through put.
    l1.asMap().compute(k, (key, old) -> generations.unchanged(k, gen) ? e : old);
  }

  /** TRUE when every tag still has the version the entry recorded; null when Redis failed. */
  Boolean tagsCurrent(Envelope env) {
    if (env.tags().isEmpty()) {
      return Boolean.TRUE;
    }
    List<String> tagKeys = new ArrayList<>(env.tags().size());
    for (String t : env.tags().keySet()) {
      tagKeys.add(keys.tag(name, t));
    }
    long[] now = l2.versions(tagKeys);
    if (now == null) {
      return null;
    }
    int i = 0;
    for (long recorded : env.tags().values()) {
      if (now[i++] != recorded) {
        return Boolean.FALSE;
      }
    }
    return Boolean.TRUE;
  }

  Holder<V> deserialize(Envelope env) {
    if (env.nullMarker()) {
      return new Holder<>(null);
    }
    try {
      return new Holder<>(serializer.read(env.payload()));
    } catch (Exception e) {
      return null; // a class changed without a schema-version bump: a miss, not a failure
    }
  }

  @Override
  public void put(K key, V value) {
    writes.put(key, value);
  }

  @Override
  public <X extends Exception> V writeThrough(K key, CacheWriter<? extends V, X> writer) throws X {
    return writes.writeThrough(key, Objects.requireNonNull(writer, "writer"));
  }

  @Override
  public void invalidate(K key) {
    invalidateEncoded(encode(key));
  }

  /** {@link #invalidate} of an encoded key. */
  void invalidateEncoded(String k) {
    invalidateLocal(k);
    runtime.invalidateInRedis(name, k);
    runtime.publish(new BusMessage.Item(BusMessage.Kind.KEY, name, k));
  }

  @Override
  public void invalidateAll(Collection<? extends K> ks) {
    for (K key : ks) {
      invalidate(key);
    }
  }

  @Override
  public void invalidateTag(String tag) {
    keyRules.checkTag(tag);
    invalidateTagLocal(tag);
    runtime.bumpTagInRedis(name, tag);
    runtime.publish(new BusMessage.Item(BusMessage.Kind.TAG, name, tag));
  }

  /** Generation first, then the entry: see {@link Generations} for why the order matters. */
  void invalidateLocal(String k) {
    generations.bump(k);
    if (l1 != null) {
      l1.invalidate(k);
    }
  }

  void invalidateTagLocal(String tag) {
    generations.bumpAll();
    if (l1 != null) {
      l1.asMap().values().removeIf(e -> e.tags().contains(tag));
    }
  }

  void clearLocal() {
    generations.bumpAll();
    if (l1 != null) {
      l1.invalidateAll();
    }
  }

  /** For tests: whether L1 holds {@code key} right now. */
  boolean inL1(K key) {
    return l1 != null && l1.getIfPresent(encode(key)) != null;
  }

  long l1Size() {
    if (l1 == null) {
      return 0;
    }
    l1.cleanUp();
    return l1.estimatedSize();
  }

  String encode(K key) {
    return keyRules.encode(key);
  }

  private static <V> V join(CompletableFuture<Holder<V>> f) {
    try {
      return f.join().value();
    } catch (CompletionException e) {
      if (e.getCause() instanceof RuntimeException r) {
        throw r;
      }
      if (e.getCause() instanceof Error err) {
        throw err;
      }
      throw e;
    }
  }

  @Override
  public String toString() {
    return "CacheAside[" + name + "]";
  }
}
