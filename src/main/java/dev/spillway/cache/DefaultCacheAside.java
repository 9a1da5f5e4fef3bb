package dev.spillway.cache;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import com.github.benmanes.caffeine.cache.Ticker;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The engine behind {@link CacheAside}. A get walks L1, then L2, then the loader:
 *
 * <ol>
 *   <li><b>L1</b> (Caffeine, keyed by the encoded key). An entry lives at most {@code l1Ttl} and
 *       never past its value's freshness.
 *   <li><b>Single flight</b>: one fetch per key per JVM; concurrent gets join it.
 *   <li><b>L2</b>: one GET of the envelope (plus one MGET of its tag versions if it has tags).
 *       Fresh: served, perhaps with an XFetch early refresh in the background. Stale but within
 *       the stale-while-revalidate window: served, one background refresh per key. A Redis
 *       failure or time-out goes straight to the loader, without writing anything.
 *   <li><b>Lease</b>: {@code SET NX PX} of a random token, in the same script that snapshots the
 *       key's invalidation counter. The holder loads; the others poll L2 for its value (trying to
 *       take the lease themselves if it vanished without a value) for up to {@code leaseWait},
 *       then load.
 *   <li><b>Store</b>: the write script sets the envelope only if the invalidation counter still
 *       equals the snapshot, so a load that began before an invalidation is never cached in L2;
 *       L1 is put only after a successful write, and then checked against the in-JVM generation
 *       (see {@link Generations}).
 * </ol>
 */
final class DefaultCacheAside<K, V> implements CacheAside<K, V> {
  private static final Logger log = LoggerFactory.getLogger(DefaultCacheAside.class);
  private static final int MAX_KEY_CHARS = 1024;
  private static final int GET_ALL_PARALLELISM = 8;

  /** What L1 holds: the value and what early refresh and tag eviction need. */
  record L1Entry<V>(V value, long freshUntil, int computeMillis, Set<String> tags) {}

  /** A value that may be null, so it can complete a future. */
  private record Holder<V>(V value) {}

  private final CacheRuntime runtime;
  private final String name;
  private final CacheLoader<? super K, ? extends V> loader;
  private final Function<? super K, String> keyEncoder;
  private final Function<? super V, ? extends Collection<String>> tagsOf;
  private final ValueSerializer<V> serializer;
  private final AesGcmCodec codec;
  private final int schemaVersion;
  private final long ttlMillis;
  private final long negativeTtlMillis;
  private final int jitterPercent;
  private final long swrMillis;
  private final double beta;
  private final int maxValueBytes;
  private final Duration leaseTime;
  private final long leaseWaitNanos;
  private final long maxLoadNanos;
  private final InstantSource clock;
  private final Cache<String, L1Entry<V>> l1;
  private final L2 l2;
  private final CacheKeys keys;
  private final CacheMeters.PerCache meters;
  private final Generations generations = new Generations();
  private final ConcurrentHashMap<String, CompletableFuture<Holder<V>>> inflight =
      new ConcurrentHashMap<>();
  private final Set<String> refreshing = ConcurrentHashMap.newKeySet();
  private volatile boolean oversizeWarned;

  DefaultCacheAside(CacheAside.Builder<K, V> b) {
    this.runtime = b.runtime;
    this.name = b.name;
    this.loader = b.loader;
    this.keyEncoder = b.keyEncoder;
    this.tagsOf = b.tags;
    this.serializer = b.serializer;
    this.codec = b.codec;
    this.schemaVersion = b.schemaVersion;
    this.ttlMillis = b.ttl.toMillis();
    this.negativeTtlMillis = b.negativeTtl.toMillis();
    this.jitterPercent = b.ttlJitterPercent;
    this.swrMillis = b.staleWhileRevalidate.toMillis();
    this.beta = b.earlyRefreshBeta;
    this.maxValueBytes = b.maxValueBytes;
    this.leaseTime = b.leaseTime;
    this.leaseWaitNanos = b.leaseWait.toNanos();
    this.maxLoadNanos = runtime.settings().maxLoadTime().toNanos();
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
                                      l1TtlNanos,
                                      (e.freshUntil() - c.millis()) * 1_000_000L)))))
              .build();
    } else {
      this.l1 = null;
    }
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
        maybeRefreshEarly(key, k, e.freshUntil(), e.computeMillis());
        return e.value();
      }
      meters.l1Misses.increment();
    }
    return flight(key, k);
  }

  @Override
  public Map<K, V> getAll(Collection<? extends K> keysWanted) {
    Map<K, V> out = new LinkedHashMap<>();
    Map<String, K> missing = new LinkedHashMap<>();
    for (K key : keysWanted) {
      String k = encode(key);
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
      V v = flight(only.getValue(), only.getKey());
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
                    return flight(e.getValue(), e.getKey());
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
      if (env == null || now >= env.freshUntil() || !Boolean.TRUE.equals(tagsCurrent(env))) {
        continue; // the single-key path sorts out stale, unreadable and re-tagged entries
      }
      Holder<V> h = deserialize(env);
      if (h == null) {
        continue;
      }
      meters.l2Hits.increment();
      String k = ks.get(i);
      putL1(k, env, h.value(), gens.get(i));
      K key = missing.remove(k);
      if (h.value() != null) {
        out.put(key, h.value());
      }
    }
  }

  private V flight(K key, String k) {
    CompletableFuture<Holder<V>> mine = new CompletableFuture<>();
    CompletableFuture<Holder<V>> running = inflight.putIfAbsent(k, mine);
    if (running != null) {
      meters.coalesced.increment();
      return join(running);
    }
    try {
      V v = fetch(key, k);
      mine.complete(new Holder<>(v));
      return v;
    } catch (RuntimeException | Error e) {
      mine.completeExceptionally(e);
      throw e;
    } finally {
      inflight.remove(k, mine);
    }
  }

  private V fetch(K key, String k) {
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
      Envelope env = Envelope.decode(ek, bytes, schemaVersion, codec);
      Holder<V> h = env == null ? null : deserialize(env);
      if (h == null) {
        meters.unreadable.increment();
      } else {
        Boolean current = tagsCurrent(env);
        if (current == null) {
          meters.redisErrors.increment();
          return loadWithoutRedis(key, k, gen);
        }
        long now = clock.millis();
        if (current && now < env.freshUntil()) {
          meters.l2Hits.increment();
          putL1(k, env, h.value(), gen);
          maybeRefreshEarly(key, k, env.freshUntil(), env.computeMillis());
          return h.value();
        }
        if (current && now < env.freshUntil() + swrMillis) {
          meters.staleServed.increment();
          refreshInBackground(key, k);
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
  private record Snapshot(
      boolean leased, String generation, long tagSequence, long startedNanos, byte[] existing) {}

  /**
   * Takes the lease if free (and, if {@code unlessEntryExists}, if there is still no entry) and
   * snapshots the generations; null when Redis failed.
   */
  private Snapshot snapshot(String k, String token, boolean unlessEntryExists) {
    long started = System.nanoTime();
    L2.Acquired a =
        l2.acquire(
            keys.lease(name, k), keys.invalidations(name, k), keys.entry(name, k), token, leaseTime,
            unlessEntryExists);
    if (a == null) {
      return null;
    }
    if (a.existing() != null) {
      return new Snapshot(false, "0", 0, started, a.existing());
    }
    long seq = 0;
    if (tagsOf != null) {
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
    Envelope env = Envelope.decode(ek, raw, schemaVersion, codec);
    Holder<V> h = env == null ? null : deserialize(env);
    if (h == null || clock.millis() >= env.freshUntil() || !Boolean.TRUE.equals(tagsCurrent(env))) {
      return null;
    }
    meters.l2Hits.increment();
    putL1(k, env, h.value(), gen);
    return h;
  }

  private V loadShared(K key, String k, long gen) {
    String token = Long.toHexString(ThreadLocalRandom.current().nextLong()) + Long.toHexString(System.nanoTime());
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

  private V loadAndStore(K key, String k, long gen, Snapshot s, String token) {
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
    Map<String, Long> tagVersions = Map.of();
    if (v != null && tagsOf != null) {
      List<String> tags = new ArrayList<>(new LinkedHashSet<>(tagsOf.apply(v)));
      List<String> tagKeys = new ArrayList<>(tags.size());
      for (String t : tags) {
        tagKeys.add(keys.tag(name, checkTag(t)));
      }
      long[] versions = l2.versions(tagKeys);
      if (versions == null) {
        meters.redisErrors.increment();
        releaseQuietly(lk, token);
        return v; // tags unknown: caching without them could outlive a tag invalidation
      }
      Map<String, Long> tv = new LinkedHashMap<>();
      for (int i = 0; i < tags.size(); i++) {
        if (versions[i] > s.tagSequence()) {
          // A tag was bumped while we loaded: what we read may predate that change.
          meters.writesRefused.increment();
          releaseQuietly(lk, token);
          return v;
        }
        tv.put(tags.get(i), versions[i]);
      }
      tagVersions = tv;
    }
    byte[] payload;
    try {
      payload = v == null ? new byte[0] : serializer.write(v);
    } catch (Exception e) {
      log.warn(
          "event=cache_serialize_failed cache={} error=\"{}\" action=served_not_cached", name,
          e.toString());
      releaseQuietly(lk, token);
      return v;
    }
    if (payload.length > maxValueBytes) {
      meters.oversize.increment();
      if (!oversizeWarned) {
        oversizeWarned = true;
        log.warn(
            "event=cache_value_too_large cache={} bytes={} max={} action=served_not_cached",
            name, payload.length, maxValueBytes);
      }
      releaseQuietly(lk, token);
      return v;
    }
    long now = clock.millis();
    long life = jittered(v == null ? negativeTtlMillis : ttlMillis);
    Envelope env = new Envelope(schemaVersion, v == null, now, computeMillis, now + life, tagVersions, payload);
    if (System.nanoTime() - s.startedNanos() >= maxLoadNanos) {
      // The invalidation marker this write would check may have expired: serve, don't cache.
      log.warn("event=cache_load_too_slow cache={} action=served_not_cached", name);
      releaseQuietly(lk, token);
      return v;
    }
    Boolean written =
        l2.write(ek, keys.invalidations(name, k), lk, env.encode(ek, codec), life + swrMillis,
            s.generation(), token);
    if (written == null) {
      meters.redisErrors.increment();
      putL1(k, env, v, gen); // Redis failed, the generation check still guards L1
    } else if (written) {
      putL1(k, env, v, gen);
    } else {
      meters.writesRefused.increment();
    }
    return v;
  }

  /** Redis unavailable: the loader answers; only L1 (guarded by the generation) is filled. */
  private V loadWithoutRedis(K key, String k, long gen) {
    long t0 = System.nanoTime();
    V v = callLoader(key, k);
    if (tagsOf != null && v != null) {
      return v; // the tag versions cannot be recorded, so the value cannot be tag-invalidated
    }
    long now = clock.millis();
    int computeMillis = (int) Math.min(Integer.MAX_VALUE, (System.nanoTime() - t0) / 1_000_000);
    long life = jittered(v == null ? negativeTtlMillis : ttlMillis);
    putL1(k, new Envelope(schemaVersion, v == null, now, computeMillis, now + life, Map.of(), null), v, gen);
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

  private void putL1(String k, Envelope env, V value, long gen) {
    if (l1 == null) {
      return;
    }
    L1Entry<V> e =
        new L1Entry<>(value, env.freshUntil(), env.computeMillis(), Set.copyOf(env.tags().keySet()));
    l1.put(k, e);
    if (!generations.unchanged(k, gen)) {
      l1.asMap().remove(k, e); // invalidated since the snapshot: the value may predate it
    }
  }

  /**
   * XFetch (Vattani, Chierichetti, Lowenstein, "Optimal Probabilistic Cache Stampede
   * Prevention", VLDB 2015): refresh when {@code now - delta * beta * ln(rand) >= expiry}. The
   * closer the expiry and the longer the load, the likelier; across many readers one refresh
   * happens shortly before expiry instead of a stampede at it.
   */
  private void maybeRefreshEarly(K key, String k, long freshUntil, int computeMillis) {
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
  private boolean refreshInBackground(K key, String k) {
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
      Snapshot s = snapshot(k, token, false);
      if (s == null || !s.leased()) {
        return; // Redis away, or another instance is refreshing it right now
      }
      loadAndStore(key, k, gen, s, token);
    } catch (RuntimeException e) {
      log.debug("event=cache_refresh_failed cache={} key={} error=\"{}\"", name, k, e.toString());
    } finally {
      refreshing.remove(k);
    }
  }

  /** TRUE when every tag still has the version the entry recorded; null when Redis failed. */
  private Boolean tagsCurrent(Envelope env) {
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

  private Holder<V> deserialize(Envelope env) {
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
  public void invalidate(K key) {
    String k = encode(key);
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
    checkTag(tag);
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
    if (key == null) {
      throw new IllegalArgumentException("cache '" + name + "': key must not be null");
    }
    String k = keyEncoder.apply(key);
    if (k == null || k.isEmpty() || k.length() > MAX_KEY_CHARS) {
      throw new IllegalArgumentException(
          "cache '" + name + "': key must encode to 1.." + MAX_KEY_CHARS + " characters but was "
              + (k == null ? "null" : k.length() + " characters"));
    }
    for (int i = 0; i < k.length(); i++) {
      if (Character.isISOControl(k.charAt(i))) {
        throw new IllegalArgumentException(
            "cache '" + name + "': key must not contain control characters (at index " + i + ")");
      }
    }
    return k;
  }

  private String checkTag(String tag) {
    if (tag == null || tag.isEmpty() || tag.length() > 256) {
      throw new IllegalArgumentException(
          "cache '" + name + "': a tag must be 1..256 characters but was "
              + (tag == null ? "null" : tag.length() + " characters"));
    }
    for (int i = 0; i < tag.length(); i++) {
      if (Character.isISOControl(tag.charAt(i))) {
        throw new IllegalArgumentException(
            "cache '" + name + "': a tag must not contain control characters");
      }
    }
    return tag;
  }

  private long jittered(long millis) {
    if (jitterPercent == 0) {
      return millis;
    }
    return millis + (long) (millis * (jitterPercent / 100.0) * ThreadLocalRandom.current().nextDouble());
  }

  private void releaseQuietly(String leaseKey, String token) {
    if (token != null) {
      l2.release(leaseKey, token);
    }
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

  private static <V> V joinFuture(Future<V> f) {
    try {
      return f.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new CacheLoadException("interrupted while loading", e);
    } catch (java.util.concurrent.ExecutionException e) {
      if (e.getCause() instanceof RuntimeException r) {
        throw r;
      }
      throw new CacheLoadException("loading failed: " + e.getCause(), e.getCause());
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

  @Override
  public String toString() {
    return "CacheAside[" + name + "]";
  }
}
