package dev.spillway.cache;

import com.github.benmanes.caffeine.cache.Ticker;
import dev.spillway.ConfigException;
import dev.spillway.config.CacheSettings;
import java.time.Duration;
import java.time.InstantSource;
import java.util.Collection;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * A cache-aside reader: an in-process L1 (Caffeine) in front of Redis (L2) in front of a loader,
 * kept honest across instances by the invalidation bus. Created by {@code sw.cache(name, K, V)}.
 *
 * <pre>{@code
 * CacheAside<Long, User> users = sw.cache("user", Long.class, User.class)
 *     .loader(id -> userDao.find(id))              // null is cached for negativeTtl
 *     .ttl(Duration.ofMinutes(5)).negativeTtl(Duration.ofSeconds(30))
 *     .l1(10_000, Duration.ofSeconds(30))
 *     .tags(user -> List.of("team:" + user.teamId()))
 *     .build();
 * }</pre>
 *
 * <p>Contract:
 *
 * <ul>
 *   <li>One load per key per JVM at a time (concurrent gets wait for it), and across instances one
 *       holder of a short lease loads while the others wait up to {@code leaseWait} for its value;
 *       if it has not come by then they load themselves, so a slow loader runs at most once per
 *       instance per lease-wait, never once per request.
 *   <li>A value loaded (or read from L2) before an invalidation of its key or of one of its tags is
 *       returned to that caller but cached neither in L1 nor in L2.
 *   <li>After {@link #invalidate} returns, no instance's L2 serves the old value; other instances'
 *       L1 drop it when the bus message arrives (typically well under a millisecond after
 *       publication), or at the latest after one L1 TTL if the message is lost. The same holds for
 *       {@link #put} and {@link #writeThrough}, which leave the new value in L2 and this L1.
 *   <li>Redis being slow or down never makes a read fail: past {@code cache.redis-timeout} the
 *       loader answers (and L1 still serves). A loader exception is never cached.
 * </ul>
 *
 * <p>Hazards: the invalidations a writer sends are only as good as the writer's discipline; attach
 * the database trigger (db/cache_invalidation_trigger.sql) to catch writers that forget. A value
 * returned from L1 is the cached instance itself: treat it as immutable.
 */
public interface CacheAside<K, V> {
  /** The cache's name (part of its Redis keys and its bus messages). */
  String name();

  /**
   * The value of {@code key}: from L1, L2, or the loader.
   *
   * @return the value, or null when the loader found nothing
   * @throws CacheLoadException when the loader had to run and failed
   * @throws IllegalArgumentException when the key encodes to an empty string, to more than 1,024
   *     characters, or to one with control characters
   */
  V get(K key);

  /**
   * The values of several keys; keys whose value is null are left out. L2 is read in one round
   * trip; the misses load concurrently, each as {@link #get} would.
   */
  Map<K, V> getAll(Collection<? extends K> keys);

  /**
   * Write-through after the caller wrote the database: caches {@code value} (null: the row is gone,
   * remembered for the negative TTL) in L2 and in this L1, and makes every other L1 drop its old
   * copy through the bus. Tags are recorded as for a loaded value; the value rules of a load apply
   * (serializer, encryption, {@code maxValueBytes}).
   *
   * <p>Contract: a load of {@code key} that began before this call, in any instance, can never
   * cache what it read over {@code value}: the put moves the key's generation in the same Redis
   * script that writes the entry, and a load writes only under the generation it started with. When
   * the value cannot be cached (Redis down or slow, too large, not serializable, a tag unreadable)
   * the key is invalidated instead, exactly as {@link #invalidate} does; nothing is thrown for the
   * cache's sake.
   *
   * <p>Hazard: call it only after the database write committed, and not for writers of one key that
   * race each other: among concurrent puts the last to reach Redis wins, which need not be the last
   * to commit. {@link #writeThrough} handles that race.
   *
   * @throws IllegalArgumentException when the key or a tag of the value is not valid (as for {@link
   *     #get}); for an invalid tag the key is invalidated first, since the database already holds
   *     the new value
   */
  void put(K key, V value);

  /**
   * Runs the caller's database write, then caches the value it returned as {@link #put} does.
   *
   * <p>Contract, beyond {@link #put}'s:
   *
   * <ul>
   *   <li>If {@code writer} throws, nothing is cached, the key is invalidated (the write may have
   *       committed before it failed), and the exception is rethrown unchanged.
   *   <li>Before the write the key's generation is moved on, so loads already running cannot cache
   *       what they read before it; after the write the value is cached only if nothing (another
   *       {@code writeThrough}, a {@code put}, an invalidation) moved the generation meanwhile, and
   *       only if none of its tags was invalidated meanwhile. Otherwise the key is invalidated:
   *       when two writers race, which commit came last is unknown, so neither value is trusted and
   *       the next read loads.
   *   <li>Redis being down never fails the write: the writer runs and the key is invalidated
   *       (retried until Redis takes it).
   * </ul>
   *
   * <p>Call it outside any database transaction of the caller's, so that the writer's commit
   * precedes the cache write.
   *
   * @return what the writer returned
   * @throws X what the writer threw
   */
  <X extends Exception> V writeThrough(K key, CacheWriter<? extends V, X> writer) throws X;

  /**
   * Evicts {@code key} from L2 and this L1 now, and from every other L1 through the bus. If Redis
   * cannot be reached the L2 part is kept and retried until it lands (never thrown); the bus part
   * reaches instances whose subscription is up, and the others clear their L1 on reconnect.
   */
  void invalidate(K key);

  /** {@link #invalidate} for several keys. */
  void invalidateAll(Collection<? extends K> keys);

  /**
   * Makes every entry written under {@code tag} a miss, in every instance: the tag gets a new
   * version in Redis (entries record the versions they were written under), and every L1 drops the
   * entries carrying it. No set of member keys is kept: one key per tag, with a TTL.
   */
  void invalidateTag(String tag);

  /**
   * Fluent configuration of one cache; defaults come from the {@code cache:} section. Setters check
   * single values; {@link #build()} checks combinations. Not thread-safe.
   */
  final class Builder<K, V> {
    private static final Pattern NAME = Pattern.compile("[a-z][a-z0-9_.-]{0,63}");

    final CacheRuntime runtime;
    final String name;
    final Class<K> keyType;
    final Class<V> valueType;
    CacheLoader<? super K, ? extends V> loader;
    Duration ttl;
    Duration negativeTtl;
    int ttlJitterPercent;
    Duration staleWhileRevalidate;
    double earlyRefreshBeta;
    int maxValueBytes;
    Duration leaseTime;
    Duration leaseWait;
    int l1MaxSize;
    Duration l1Ttl;
    Function<? super V, ? extends Collection<String>> tags;
    ValueSerializer<V> serializer;
    Function<? super K, String> keyEncoder;
    int schemaVersion = 1;
    AesGcmCodec codec;
    boolean encryptFromEnvironment;
    InstantSource clock;
    Ticker ticker;

    Builder(CacheRuntime runtime, String name, Class<K> keyType, Class<V> valueType) {
      if (name == null || !NAME.matcher(name).matches()) {
        throw new IllegalArgumentException("cache name '" + name + "' must match " + NAME);
      }
      this.runtime = runtime;
      this.name = name;
      this.keyType = Objects.requireNonNull(keyType, "keyType");
      this.valueType = Objects.requireNonNull(valueType, "valueType");
      CacheSettings s = runtime.settings();
      ttl = s.ttl();
      negativeTtl = s.negativeTtl();
      ttlJitterPercent = s.ttlJitterPercent();
      staleWhileRevalidate = s.staleWhileRevalidate();
      earlyRefreshBeta = s.earlyRefreshBeta();
      maxValueBytes = s.maxValueBytes();
      leaseTime = s.leaseTime();
      leaseWait = s.leaseWait();
      l1MaxSize = s.l1MaxSize();
      l1Ttl = s.l1Ttl();
      clock = runtime.clock();
    }

    /** Required: computes a missing value (may return null). */
    public Builder<K, V> loader(CacheLoader<? super K, ? extends V> loader) {
      this.loader = Objects.requireNonNull(loader, "loader");
      return this;
    }

    /** How long a loaded value is fresh (default {@code cache.ttl}); at least 10ms. */
    public Builder<K, V> ttl(Duration ttl) {
      this.ttl = between("ttl", ttl, Duration.ofMillis(10), Duration.ofDays(366));
      return this;
    }

    /** How long a null from the loader is remembered (default {@code cache.negative-ttl}). */
    public Builder<K, V> negativeTtl(Duration ttl) {
      this.negativeTtl = between("negativeTtl", ttl, Duration.ofMillis(10), Duration.ofDays(366));
      return this;
    }

    /** Random stretch of every TTL, 0..percent (default {@code cache.ttl-jitter-percent}). */
    public Builder<K, V> ttlJitterPercent(int percent) {
      if (percent < 0 || percent > 100) {
        throw new IllegalArgumentException(
            "cache '" + name + "': ttlJitterPercent must be between 0 and 100 but was " + percent);
      }
      this.ttlJitterPercent = percent;
      return this;
    }

    /** After the TTL, serve the old value this long while one background reload runs. */
    public Builder<K, V> staleWhileRevalidate(Duration window) {
      this.staleWhileRevalidate =
          between("staleWhileRevalidate", window, Duration.ZERO, Duration.ofDays(366));
      return this;
    }

    /** XFetch's beta (default 1.0); 0 turns probabilistic early refresh off. */
    public Builder<K, V> earlyRefreshBeta(double beta) {
      if (!(beta >= 0 && beta <= 1_000_000)) {
        throw new IllegalArgumentException(
            "cache '" + name + "': earlyRefreshBeta must be between 0 and 1000000 but was " + beta);
      }
      this.earlyRefreshBeta = beta;
      return this;
    }

    /** Values encoding to more bytes are served but not cached (default 1 MiB). */
    public Builder<K, V> maxValueBytes(int bytes) {
      if (bytes < 1) {
        throw new IllegalArgumentException(
            "cache '" + name + "': maxValueBytes must be at least 1 but was " + bytes);
      }
      this.maxValueBytes = bytes;
      return this;
    }

    /**
     * How long one instance holds the right to load a key for all (default {@code
     * cache.lease-time}).
     */
    public Builder<K, V> leaseTime(Duration d) {
      this.leaseTime = between("leaseTime", d, Duration.ofMillis(10), Duration.ofHours(1));
      return this;
    }

    /** How long the others wait for that load before loading themselves. */
    public Builder<K, V> leaseWait(Duration d) {
      this.leaseWait = between("leaseWait", d, Duration.ZERO, Duration.ofHours(1));
      return this;
    }

    /** L1 size and the longest life of an L1 entry; {@code maxSize} 0 disables L1. */
    public Builder<K, V> l1(int maxSize, Duration ttl) {
      if (maxSize < 0) {
        throw new IllegalArgumentException(
            "cache '" + name + "': l1 maxSize must not be negative but was " + maxSize);
      }
      this.l1MaxSize = maxSize;
      this.l1Ttl = between("l1 ttl", ttl, Duration.ofMillis(1), Duration.ofDays(1));
      return this;
    }

    /**
     * The tags of a value; entries are invalidated together by {@link CacheAside#invalidateTag}.
     */
    public Builder<K, V> tags(Function<? super V, ? extends Collection<String>> tags) {
      this.tags = Objects.requireNonNull(tags, "tags");
      return this;
    }

    /** How values become bytes (default JSON through Jackson). */
    public Builder<K, V> serializer(ValueSerializer<V> serializer) {
      this.serializer = Objects.requireNonNull(serializer, "serializer");
      return this;
    }

    /**
     * How keys become strings, which name the Redis entry and travel on the bus (default {@code
     * String.valueOf} for strings, numbers, UUIDs and enums; required for other key types). Two
     * different keys must never encode alike. The database trigger sends the key column(s) as text
     * joined with ':', so match that for keys invalidated from the database.
     */
    public Builder<K, V> keyEncoder(Function<? super K, String> encoder) {
      this.keyEncoder = Objects.requireNonNull(encoder, "keyEncoder");
      return this;
    }

    /**
     * Version of the value's shape (default 1). Bump it when {@code V} changes incompatibly: an
     * entry written under another version is a miss, so old and new instances can run side by side
     * without reading each other's values.
     */
    public Builder<K, V> schemaVersion(int version) {
      this.schemaVersion = version;
      return this;
    }

    /** Encrypts values in Redis with AES-GCM under these keys. */
    public Builder<K, V> encryption(AesGcmCodec codec) {
      this.codec = Objects.requireNonNull(codec, "codec");
      return this;
    }

    /**
     * Encrypts values in Redis with the keys in the environment variable named by {@code
     * cache.encryption-keys-env} (default {@code SPILLWAY_CACHE_KEYS}); build() fails if it is not
     * set.
     */
    public Builder<K, V> encrypted() {
      this.encryptFromEnvironment = true;
      return this;
    }

    /** Time for envelope timestamps, TTLs and early refresh (default: the runtime's clock). */
    public Builder<K, V> clock(InstantSource clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /** Time for L1 expiry (default {@link Ticker#systemTicker()}). */
    public Builder<K, V> ticker(Ticker ticker) {
      this.ticker = Objects.requireNonNull(ticker, "ticker");
      return this;
    }

    /**
     * Checks the combination and creates the cache.
     *
     * @throws IllegalStateException when no loader was set, or a cache of this name already exists
     *     in this runtime
     * @throws ConfigException when encryption was asked for and its keys are not in the environment
     */
    public CacheAside<K, V> build() {
      if (loader == null) {
        throw new IllegalStateException("cache '" + name + "' needs a loader(...)");
      }
      if (keyEncoder == null) {
        keyEncoder = CacheChecks.defaultKeyEncoder(name, keyType);
      }
      if (tags != null) {
        CacheChecks.requireTagsOutliveEntries(
            name, longestLife(ttl).plus(staleWhileRevalidate), runtime.settings().tagTtl());
      }
      if (serializer == null) {
        serializer = ValueSerializer.json(valueType);
      }
      if (encryptFromEnvironment && codec == null) {
        codec = runtime.environmentCodec();
      }
      DefaultCacheAside<K, V> cache = new DefaultCacheAside<>(this);
      runtime.register(cache);
      return cache;
    }

    Duration longestLife(Duration base) {
      return base.plus(base.multipliedBy(ttlJitterPercent).dividedBy(100));
    }

    private Duration between(String what, Duration d, Duration min, Duration max) {
      return CacheChecks.between(name, what, d, min, max);
    }
  }
}
