package dev.spillway.cache;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.locks.ReentrantLock;

/**
 * {@link CacheAside#put} and {@link CacheAside#writeThrough}: the new value goes to L2 and this L1,
 * and a KEY message on the bus makes every other L1 drop its copy.
 *
 * <p>Why a load that began before the write cannot overwrite it:
 *
 * <ul>
 *   <li><b>L2</b>: the put moves the key's Redis generation in the same script that sets the entry
 *       ({@code L2.put}); a load writes only if the generation is still the one it snapshotted
 *       before reading the database, so its write is refused.
 *   <li><b>This L1</b>: the put moves the in-JVM generation before the Redis write; a load or L2
 *       read that snapshotted before it puts into L1 only if the generation is unchanged, checked
 *       under the entry's lock ({@link DefaultCacheAside#putL1}).
 *   <li><b>Other L1s</b>: the bus message is published after the Redis write, so a read there
 *       either began after the write (and reads the new value) or snapshotted before the message
 *       arrived, which moves that JVM's generation and voids its L1 put.
 *   <li><b>Puts of one key in this JVM</b> run one at a time (striped locks), so their L2 order and
 *       L1 order agree.
 * </ul>
 *
 * <p>{@code writeThrough} also protects against writers of one key that race each other, across
 * instances: before the database write it takes a fresh generation number ({@code L2.beginWrite}),
 * and it caches afterwards only if nothing moved the generation meanwhile. Otherwise the order of
 * the database commits is unknown, so it invalidates instead.
 *
 * <p>Whenever the new value cannot be cached (Redis failed or is skipped by the breaker, the value
 * is too large or does not serialize, a tag was bumped during the write, the write took longer than
 * {@code max-load-time}, or another write won), the key is invalidated instead, as {@link
 * CacheAside#invalidate} would (retried until Redis takes it): the old cached value is stale now,
 * so it must go.
 */
final class WriteThrough<K, V> {
  private static final int LOCK_STRIPES = 64;

  private final DefaultCacheAside<K, V> cache;
  private final EntryRules<K, V> rules;
  private final L2 l2;
  private final CacheKeys keys;
  private final String name;
  private final Duration generationLife;
  private final long maxWriteNanos;
  private final boolean tagged;
  private final ReentrantLock[] locks = new ReentrantLock[LOCK_STRIPES];

  WriteThrough(DefaultCacheAside<K, V> cache, CacheAside.Builder<K, V> b) {
    this.cache = cache;
    this.rules = cache.fetch.rules;
    this.l2 = cache.l2;
    this.keys = cache.keys;
    this.name = cache.name;
    this.generationLife = cache.runtime.settings().maxLoadTime();
    this.maxWriteNanos = generationLife.toNanos();
    this.tagged = b.tags != null;
    for (int i = 0; i < LOCK_STRIPES; i++) {
      locks[i] = new ReentrantLock();
    }
  }

  void put(K key, V value) {
    String k = cache.encode(key);
    // No snapshot: the database write happened before the call, at a moment we cannot know.
    store(k, value, null, Long.MAX_VALUE);
  }

  <X extends Exception> V writeThrough(K key, CacheWriter<? extends V, X> writer) throws X {
    String k = cache.encode(key);
    Begun begun = begin(k);
    V v;
    try {
      v = writer.write();
    } catch (Throwable t) {
      // The write may have committed before it failed: the cached value may be stale.
      cache.invalidateEncoded(k);
      throw t;
    }
    if (begun == null) {
      cache.invalidateEncoded(k);
    } else if (System.nanoTime() - begun.startedNanos() >= maxWriteNanos) {
      // The generation taken before the write may have expired and been handed out again.
      cache.invalidateEncoded(k);
    } else {
      store(k, v, begun.generation(), begun.tagSequence());
    }
    return v;
  }

  /** The generation this writer holds and the cache's tag sequence before the database write. */
  private record Begun(String generation, long tagSequence, long startedNanos) {}

  /** Null when Redis failed or is being skipped. */
  private Begun begin(String k) {
    long started = System.nanoTime();
    if (!l2.available()) {
      cache.meters.redisBypassed.increment();
      return null;
    }
    String generation = l2.beginWrite(keys.invalidations(name, k), generationLife);
    if (generation == null) {
      cache.meters.redisErrors.increment();
      return null;
    }
    long seq = 0;
    if (tagged) {
      Object s = l2.get(keys.tagSequence(name));
      if (s == null) {
        cache.meters.redisErrors.increment();
        return null;
      }
      seq = s instanceof byte[] bytes ? L2.parseLong(bytes) : 0;
    }
    return new Begun(generation, seq, started);
  }

  /**
   * Writes {@code v} to L2 (if the generation is still {@code expectedGeneration}, when given) and
   * this L1, and tells the other instances; invalidates the key instead when it cannot.
   */
  private void store(String k, V v, String expectedGeneration, long tagSequence) {
    ReentrantLock lock = locks[Math.floorMod(k.hashCode(), LOCK_STRIPES)];
    lock.lock();
    try {
      cache.generations.bump(k); // before the Redis write: see the class comment
      long gen = cache.generations.snapshot(k);
      if (!l2.available()) {
        cache.meters.redisBypassed.increment();
        cache.invalidateEncoded(k);
        return;
      }
      Map<String, Long> tagVersions;
      try {
        tagVersions = rules.tagVersions(v, tagSequence);
      } catch (RuntimeException e) {
        // An invalid tag, or the tags function failed: the database has the new value already,
        // so the old cached one must go before the caller hears about it.
        cache.invalidateEncoded(k);
        throw e;
      }
      byte[] payload = tagVersions == null ? null : rules.payload(v);
      if (payload == null) {
        cache.invalidateEncoded(k);
        return;
      }
      long now = cache.clock.millis();
      long life = rules.life(v);
      Envelope env =
          new Envelope(rules.schemaVersion(), v == null, now, 0, now + life, tagVersions, payload);
      String ek = keys.entry(name, k);
      Boolean written =
          l2.put(
              ek,
              keys.invalidations(name, k),
              env.encode(ek, rules.codec()),
              life + rules.staleWindowMillis(),
              expectedGeneration,
              generationLife);
      if (!Boolean.TRUE.equals(written)) {
        if (written == null) {
          cache.meters.redisErrors.increment();
        } else {
          cache.meters.writesRefused.increment();
        }
        cache.invalidateEncoded(k);
        return;
      }
      cache.meters.puts.increment();
      cache.putL1(k, env, v, gen);
      cache.runtime.publish(new BusMessage.Item(BusMessage.Kind.KEY, name, k));
    } finally {
      lock.unlock();
    }
  }
}
