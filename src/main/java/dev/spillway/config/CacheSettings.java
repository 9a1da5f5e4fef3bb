package dev.spillway.config;

import com.fasterxml.jackson.databind.JsonNode;
import dev.spillway.ConfigException;
import dev.spillway.SpillwayConfig;
import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * Defaults of the cache-aside readers and the invalidation bus (section {@code cache:} of the YAML
 * file). Every value is a default that a cache's own builder may override ({@code sw.cache("user",
 * Long.class, User.class).ttl(...)}), except the deployment-wide ones: the key prefix, the channel,
 * {@code tag-ttl}, {@code max-load-time} and the database relay.
 *
 * <p>Code builds them with {@link CacheSettingsBuilder} ({@link #builder()}); the YAML section is
 * read by {@code CacheSettingsParser} ({@link #parse}).
 *
 * @param prefix prefix of every cache key in Redis; null means {@code <keys.prefix>c:}
 * @param channel the pub/sub channel of the invalidation bus, one per deployment; null means {@code
 *     <cache prefix>bus}
 * @param ttl how long a loaded value is fresh in Redis (L2)
 * @param negativeTtl how long "the loader found nothing" (null) is remembered
 * @param ttlJitterPercent every TTL is stretched by a random 0..this percent, so that keys written
 *     together do not expire together
 * @param staleWhileRevalidate after a value's TTL, how long it is still served (once per key per
 *     JVM triggering one background reload); zero turns it off
 * @param earlyRefreshBeta XFetch's beta: how eagerly a value is reloaded before its TTL, in units
 *     of its load time; zero turns early refresh off
 * @param maxValueBytes values whose encoding is larger are served but never cached
 * @param leaseTime how long one instance holds the right to load a key for every instance
 * @param leaseWait how long other instances wait for that load before loading themselves
 * @param redisTimeout time box of each cache read from Redis; past it the loader answers
 * @param redisRetryAfter after a Redis failure, how long readers skip Redis altogether
 * @param l1MaxSize entries per cache in each JVM's L1; zero disables L1
 * @param l1Ttl longest life of an L1 entry: bounds staleness if an invalidation message is lost
 * @param countersTtl TTL of {@code cachedCounters()}, which flushes also invalidate
 * @param tagTtl life of a tag's version key; a tagged cache's TTL plus stale window must fit in it
 * @param maxLoadTime a load that takes longer is served but not written to Redis (the marker that
 *     tells it an invalidation happened meanwhile lives this long)
 * @param encryptionKeysEnv environment variable holding the AES-GCM keys ({@code
 *     id:base64,id:base64}, the first one encrypts)
 * @param listenDatabase whether this runtime LISTENs for the trigger's NOTIFY and relays it to the
 *     bus (turn it on in the worker)
 * @param heartbeat how often the bus checks its own subscription by sending itself a message
 * @param countersInvalidationQueue flushed counter cells whose invalidation may wait for the
 *     invalidator thread; a flush that does not fit replaces the queue by one purge of every cached
 *     counter read (memory stays bounded; see {@code CacheRuntime})
 * @param foreignChannel a pub/sub channel on which services in any language publish JSON
 *     invalidation events ({@code {"entity":"user","id":"42","action":"update"}}); null (the
 *     default) means none is listened to
 * @param foreignEntities entity names of those events mapped to cache names; an entity not in the
 *     map names its cache itself
 */
public record CacheSettings(
    String prefix,
    String channel,
    Duration ttl,
    Duration negativeTtl,
    int ttlJitterPercent,
    Duration staleWhileRevalidate,
    double earlyRefreshBeta,
    int maxValueBytes,
    Duration leaseTime,
    Duration leaseWait,
    Duration redisTimeout,
    Duration redisRetryAfter,
    int l1MaxSize,
    Duration l1Ttl,
    Duration countersTtl,
    Duration tagTtl,
    Duration maxLoadTime,
    String encryptionKeysEnv,
    boolean listenDatabase,
    Duration heartbeat,
    int countersInvalidationQueue,
    String foreignChannel,
    Map<String, String> foreignEntities) {

  public static final Duration DEFAULT_TTL = Duration.ofMinutes(5);
  public static final Duration DEFAULT_NEGATIVE_TTL = Duration.ofSeconds(30);
  public static final int DEFAULT_TTL_JITTER_PERCENT = 10;
  public static final double DEFAULT_EARLY_REFRESH_BETA = 1.0;
  public static final int DEFAULT_MAX_VALUE_BYTES = 1 << 20;
  public static final Duration DEFAULT_LEASE_TIME = Duration.ofSeconds(5);
  public static final Duration DEFAULT_LEASE_WAIT = Duration.ofSeconds(3);

  /**
   * A cache read that takes longer than this is slower than most loaders: give up and load. Loose
   * enough for a busy 2-core machine, tight enough that a hung Redis costs a request little.
   */
  public static final Duration DEFAULT_REDIS_TIMEOUT = Duration.ofMillis(250);

  public static final Duration DEFAULT_REDIS_RETRY_AFTER = Duration.ofSeconds(1);
  public static final int DEFAULT_L1_MAX_SIZE = 10_000;
  public static final Duration DEFAULT_L1_TTL = Duration.ofSeconds(10);
  public static final Duration DEFAULT_COUNTERS_TTL = Duration.ofSeconds(5);
  public static final Duration DEFAULT_TAG_TTL = Duration.ofDays(1);
  public static final Duration DEFAULT_MAX_LOAD_TIME = Duration.ofMinutes(1);
  public static final String DEFAULT_ENCRYPTION_KEYS_ENV = "SPILLWAY_CACHE_KEYS";
  public static final Duration DEFAULT_HEARTBEAT = Duration.ofSeconds(5);
  public static final int DEFAULT_COUNTERS_INVALIDATION_QUEUE = 100_000;

  static final Pattern PREFIX_PATTERN = Pattern.compile("[A-Za-z0-9_.:-]{1,40}");
  static final Pattern CHANNEL_PATTERN = Pattern.compile("[A-Za-z0-9_.:-]{1,100}");

  /** Entity names as other services spell them; they appear in logs, so no spaces. */
  static final Pattern ENTITY_PATTERN = Pattern.compile("[A-Za-z0-9_.:-]{1,100}");

  /** The rule of {@code CacheAside.Builder}'s cache names. */
  static final Pattern CACHE_NAME_PATTERN = Pattern.compile("[a-z][a-z0-9_.-]{0,63}");

  static final Pattern ENV_PATTERN = Pattern.compile("[A-Za-z_][A-Za-z0-9_]{0,100}");

  public CacheSettings {
    if (prefix != null && !PREFIX_PATTERN.matcher(prefix).matches()) {
      throw new ConfigException(
          "cache.prefix must match " + PREFIX_PATTERN + " but was '" + prefix + "'");
    }
    if (channel != null && !CHANNEL_PATTERN.matcher(channel).matches()) {
      throw new ConfigException(
          "cache.channel must match " + CHANNEL_PATTERN + " but was '" + channel + "'");
    }
    Checks.requireBetween("cache.ttl", ttl, Duration.ofMillis(10), Duration.ofDays(366));
    Checks.requireBetween(
        "cache.negative-ttl", negativeTtl, Duration.ofMillis(10), Duration.ofDays(366));
    Checks.requireRange("cache.ttl-jitter-percent", ttlJitterPercent, 0, 100);
    Checks.requireBetween(
        "cache.stale-while-revalidate", staleWhileRevalidate, Duration.ZERO, Duration.ofDays(366));
    if (!(earlyRefreshBeta >= 0 && earlyRefreshBeta <= 100)) {
      throw new ConfigException(
          "cache.early-refresh-beta must be between 0 and 100 but was " + earlyRefreshBeta);
    }
    Checks.requireRange("cache.max-value-bytes", maxValueBytes, 1, 512 << 20);
    Checks.requireBetween(
        "cache.lease-time", leaseTime, Duration.ofMillis(10), Duration.ofHours(1));
    Checks.requireBetween("cache.lease-wait", leaseWait, Duration.ZERO, Duration.ofHours(1));
    Checks.requireBetween(
        "cache.redis-timeout", redisTimeout, Duration.ofMillis(1), Duration.ofMinutes(1));
    Checks.requireBetween(
        "cache.redis-retry-after", redisRetryAfter, Duration.ZERO, Duration.ofHours(1));
    Checks.requireRange("cache.l1.max-size", l1MaxSize, 0, 100_000_000);
    Checks.requireBetween("cache.l1.ttl", l1Ttl, Duration.ofMillis(1), Duration.ofDays(1));
    Checks.requireBetween(
        "cache.counters-ttl", countersTtl, Duration.ofMillis(10), Duration.ofDays(1));
    Checks.requireBetween("cache.tag-ttl", tagTtl, Duration.ofMinutes(1), Duration.ofDays(3660));
    Checks.requireBetween(
        "cache.max-load-time", maxLoadTime, Duration.ofSeconds(1), Duration.ofDays(1));
    if (maxLoadTime.compareTo(leaseTime) < 0) {
      throw new ConfigException(
          "cache.max-load-time must be at least cache.lease-time ("
              + Durations.format(leaseTime)
              + ") but was "
              + Durations.format(maxLoadTime));
    }
    if (encryptionKeysEnv == null || !ENV_PATTERN.matcher(encryptionKeysEnv).matches()) {
      throw new ConfigException(
          "cache.encryption-keys-env must be an environment variable name matching "
              + ENV_PATTERN
              + " but was '"
              + encryptionKeysEnv
              + "'");
    }
    Checks.requireBetween(
        "cache.heartbeat", heartbeat, Duration.ofMillis(100), Duration.ofHours(1));
    Checks.requireRange(
        "cache.counters-invalidation-queue", countersInvalidationQueue, 1, 10_000_000);
    if (foreignChannel != null && !CHANNEL_PATTERN.matcher(foreignChannel).matches()) {
      throw new ConfigException(
          "cache.foreign-channel must match "
              + CHANNEL_PATTERN
              + " but was '"
              + foreignChannel
              + "'");
    }
    foreignEntities = foreignEntities == null ? Map.of() : copyEntities(foreignEntities);
  }

  private static Map<String, String> copyEntities(Map<String, String> m) {
    Map<String, String> copy = new LinkedHashMap<>();
    for (Map.Entry<String, String> e : m.entrySet()) {
      if (e.getKey() == null || !ENTITY_PATTERN.matcher(e.getKey()).matches()) {
        throw new ConfigException(
            "cache.foreign-entities: entity name must match "
                + ENTITY_PATTERN
                + " but was '"
                + e.getKey()
                + "'");
      }
      if (e.getValue() == null || !CACHE_NAME_PATTERN.matcher(e.getValue()).matches()) {
        throw new ConfigException(
            "cache.foreign-entities."
                + e.getKey()
                + " must be a cache name matching "
                + CACHE_NAME_PATTERN
                + " but was '"
                + e.getValue()
                + "'");
      }
      copy.put(e.getKey(), e.getValue());
    }
    return Collections.unmodifiableMap(copy);
  }

  /** The cache an entity of a foreign event names: its mapping, else the entity name itself. */
  public String cacheForEntity(String entity) {
    return foreignEntities.getOrDefault(entity, entity);
  }

  /**
   * The effective key prefix of cache entries for a deployment whose keys start with {@code
   * keysPrefix}.
   */
  public String prefixFor(String keysPrefix) {
    return prefix != null ? prefix : keysPrefix + "c:";
  }

  /** The effective bus channel for a deployment whose keys start with {@code keysPrefix}. */
  public String channelFor(String keysPrefix) {
    return channel != null ? channel : prefixFor(keysPrefix) + "bus";
  }

  public static CacheSettings defaults() {
    return builder().build();
  }

  public static CacheSettingsBuilder builder() {
    return new CacheSettingsBuilder();
  }

  /** A builder pre-filled with these settings. */
  public CacheSettingsBuilder toBuilder() {
    return CacheSettingsBuilder.from(this);
  }

  /** Parses the {@code cache:} section (may be missing). */
  public static CacheSettings parse(JsonNode node) {
    return CacheSettingsParser.parse(node);
  }

  /**
   * The {@code cache:} section, for the effective configuration ({@link SpillwayConfig#effective}).
   */
  public Map<String, Object> effective() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("prefix", prefix == null ? "<keys.prefix>c:" : prefix);
    if (channel != null) {
      m.put("channel", channel);
    }
    m.put("ttl", Durations.format(ttl));
    m.put("negative-ttl", Durations.format(negativeTtl));
    m.put("ttl-jitter-percent", ttlJitterPercent);
    m.put("stale-while-revalidate", Durations.format(staleWhileRevalidate));
    m.put("early-refresh-beta", earlyRefreshBeta);
    m.put("max-value-bytes", maxValueBytes);
    m.put("lease-time", Durations.format(leaseTime));
    m.put("lease-wait", Durations.format(leaseWait));
    m.put("redis-timeout", Durations.format(redisTimeout));
    m.put("l1", Checks.tree("max-size", l1MaxSize, "ttl", Durations.format(l1Ttl)));
    m.put("counters-ttl", Durations.format(countersTtl));
    m.put("listen-database", listenDatabase);
    m.put("counters-invalidation-queue", countersInvalidationQueue);
    if (foreignChannel != null) {
      m.put("foreign-channel", foreignChannel);
    }
    if (!foreignEntities.isEmpty()) {
      m.put("foreign-entities", new TreeMap<String, String>(foreignEntities));
    }
    return m;
  }

  /** The section's effective values as logfmt, keys relative to {@code cache.}. */
  @Override
  public String toString() {
    return Logfmt.pairs(effective());
  }
}
