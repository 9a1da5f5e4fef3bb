package dev.spillway.config;

import java.time.Duration;
import java.util.Map;

/**
 * The mutable builder of {@link CacheSettings} ({@link CacheSettings#builder()}, {@link
 * CacheSettings#toBuilder()}): it starts from the documented defaults ({@code
 * CacheSettings.DEFAULT_*}) and lets code and tests override single values; the record's
 * constructor checks every value when {@link #build()} creates it.
 */
public final class CacheSettingsBuilder {
  private String prefix;
  private String channel;
  private Duration ttl = CacheSettings.DEFAULT_TTL;
  private Duration negativeTtl = CacheSettings.DEFAULT_NEGATIVE_TTL;
  private int ttlJitterPercent = CacheSettings.DEFAULT_TTL_JITTER_PERCENT;
  private Duration staleWhileRevalidate = Duration.ZERO;
  private double earlyRefreshBeta = CacheSettings.DEFAULT_EARLY_REFRESH_BETA;
  private int maxValueBytes = CacheSettings.DEFAULT_MAX_VALUE_BYTES;
  private Duration leaseTime = CacheSettings.DEFAULT_LEASE_TIME;
  private Duration leaseWait = CacheSettings.DEFAULT_LEASE_WAIT;
  private Duration redisTimeout = CacheSettings.DEFAULT_REDIS_TIMEOUT;
  private Duration redisRetryAfter = CacheSettings.DEFAULT_REDIS_RETRY_AFTER;
  private int l1MaxSize = CacheSettings.DEFAULT_L1_MAX_SIZE;
  private Duration l1Ttl = CacheSettings.DEFAULT_L1_TTL;
  private Duration countersTtl = CacheSettings.DEFAULT_COUNTERS_TTL;
  private Duration tagTtl = CacheSettings.DEFAULT_TAG_TTL;
  private Duration maxLoadTime = CacheSettings.DEFAULT_MAX_LOAD_TIME;
  private String encryptionKeysEnv = CacheSettings.DEFAULT_ENCRYPTION_KEYS_ENV;
  private boolean listenDatabase;
  private Duration heartbeat = CacheSettings.DEFAULT_HEARTBEAT;
  private int countersInvalidationQueue = CacheSettings.DEFAULT_COUNTERS_INVALIDATION_QUEUE;
  private String foreignChannel;
  private Map<String, String> foreignEntities = Map.of();

  CacheSettingsBuilder() {}

  /** A builder pre-filled with {@code s} ({@link CacheSettings#toBuilder}). */
  static CacheSettingsBuilder from(CacheSettings s) {
    CacheSettingsBuilder b = new CacheSettingsBuilder();
    b.prefix = s.prefix();
    b.channel = s.channel();
    b.ttl = s.ttl();
    b.negativeTtl = s.negativeTtl();
    b.ttlJitterPercent = s.ttlJitterPercent();
    b.staleWhileRevalidate = s.staleWhileRevalidate();
    b.earlyRefreshBeta = s.earlyRefreshBeta();
    b.maxValueBytes = s.maxValueBytes();
    b.leaseTime = s.leaseTime();
    b.leaseWait = s.leaseWait();
    b.redisTimeout = s.redisTimeout();
    b.redisRetryAfter = s.redisRetryAfter();
    b.l1MaxSize = s.l1MaxSize();
    b.l1Ttl = s.l1Ttl();
    b.countersTtl = s.countersTtl();
    b.tagTtl = s.tagTtl();
    b.maxLoadTime = s.maxLoadTime();
    b.encryptionKeysEnv = s.encryptionKeysEnv();
    b.listenDatabase = s.listenDatabase();
    b.heartbeat = s.heartbeat();
    b.countersInvalidationQueue = s.countersInvalidationQueue();
    b.foreignChannel = s.foreignChannel();
    b.foreignEntities = s.foreignEntities();
    return b;
  }

  public CacheSettingsBuilder prefix(String v) {
    this.prefix = v;
    return this;
  }

  public CacheSettingsBuilder channel(String v) {
    this.channel = v;
    return this;
  }

  public CacheSettingsBuilder ttl(Duration v) {
    this.ttl = v;
    return this;
  }

  public CacheSettingsBuilder negativeTtl(Duration v) {
    this.negativeTtl = v;
    return this;
  }

  public CacheSettingsBuilder ttlJitterPercent(int v) {
    this.ttlJitterPercent = v;
    return this;
  }

  public CacheSettingsBuilder staleWhileRevalidate(Duration v) {
    this.staleWhileRevalidate = v;
    return this;
  }

  public CacheSettingsBuilder earlyRefreshBeta(double v) {
    this.earlyRefreshBeta = v;
    return this;
  }

  public CacheSettingsBuilder maxValueBytes(int v) {
    this.maxValueBytes = v;
    return this;
  }

  public CacheSettingsBuilder leaseTime(Duration v) {
    this.leaseTime = v;
    return this;
  }

  public CacheSettingsBuilder leaseWait(Duration v) {
    this.leaseWait = v;
    return this;
  }

  public CacheSettingsBuilder redisTimeout(Duration v) {
    this.redisTimeout = v;
    return this;
  }

  public CacheSettingsBuilder redisRetryAfter(Duration v) {
    this.redisRetryAfter = v;
    return this;
  }

  public CacheSettingsBuilder l1MaxSize(int v) {
    this.l1MaxSize = v;
    return this;
  }

  public CacheSettingsBuilder l1Ttl(Duration v) {
    this.l1Ttl = v;
    return this;
  }

  public CacheSettingsBuilder countersTtl(Duration v) {
    this.countersTtl = v;
    return this;
  }

  public CacheSettingsBuilder tagTtl(Duration v) {
    this.tagTtl = v;
    return this;
  }

  public CacheSettingsBuilder maxLoadTime(Duration v) {
    this.maxLoadTime = v;
    return this;
  }

  public CacheSettingsBuilder encryptionKeysEnv(String v) {
    this.encryptionKeysEnv = v;
    return this;
  }

  public CacheSettingsBuilder listenDatabase(boolean v) {
    this.listenDatabase = v;
    return this;
  }

  public CacheSettingsBuilder heartbeat(Duration v) {
    this.heartbeat = v;
    return this;
  }

  /** Flushed counter cells waiting to be invalidated; past it, one purge instead (cells). */
  public CacheSettingsBuilder countersInvalidationQueue(int v) {
    this.countersInvalidationQueue = v;
    return this;
  }

  /**
   * The channel other services publish invalidation events on (see the README, "Events from other
   * services"); null turns it off.
   */
  public CacheSettingsBuilder foreignChannel(String v) {
    this.foreignChannel = v;
    return this;
  }

  /** Entity names of foreign events mapped to cache names ({@code user -> users}). */
  public CacheSettingsBuilder foreignEntities(Map<String, String> v) {
    this.foreignEntities = v;
    return this;
  }

  public CacheSettings build() {
    return new CacheSettings(
        prefix,
        channel,
        ttl,
        negativeTtl,
        ttlJitterPercent,
        staleWhileRevalidate,
        earlyRefreshBeta,
        maxValueBytes,
        leaseTime,
        leaseWait,
        redisTimeout,
        redisRetryAfter,
        l1MaxSize,
        l1Ttl,
        countersTtl,
        tagTtl,
        maxLoadTime,
        encryptionKeysEnv,
        listenDatabase,
        heartbeat,
        countersInvalidationQueue,
        foreignChannel,
        foreignEntities);
  }
}
