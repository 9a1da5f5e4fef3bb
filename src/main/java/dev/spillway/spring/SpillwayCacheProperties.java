package dev.spillway.spring;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.LinkedHashMap;
import java.util.Map;
import org.springframework.boot.context.properties.NestedConfigurationProperty;

/** Cache-aside defaults (the cache: section of spillway.yaml). */
public class SpillwayCacheProperties {
  /** Prefix of cache keys in Redis. Default <keys.prefix>c:. */
  private String prefix;

  /** Pub/sub channel of the invalidation bus. */
  private String channel;

  /**
   * How long a loaded value is fresh in Redis, a duration like 250ms, 5s, 2m, 1h, 7d or PT1S.
   * Default 5m.
   */
  private String ttl;

  /**
   * How long 'the loader found nothing' is remembered, a duration like 250ms, 5s, 2m, 1h, 7d or
   * PT1S. Default 30s.
   */
  private String negativeTtl;

  /** Every TTL is stretched by a random 0..this percent. Default 10. */
  private Integer ttlJitterPercent;

  /**
   * How long a value is served after its TTL while one reload runs, a duration like 250ms, 5s, 2m,
   * 1h, 7d or PT1S; not used by Spring caches.
   */
  private String staleWhileRevalidate;

  /** XFetch beta (a number like 1.0); zero turns early refresh off; not used by Spring caches. */
  private String earlyRefreshBeta;

  /** Values whose encoding is larger are served but never cached. Default 1048576. */
  private Integer maxValueBytes;

  /**
   * How long one instance holds the right to load a key for every instance, a duration like 250ms,
   * 5s, 2m, 1h, 7d or PT1S. Default 5s.
   */
  private String leaseTime;

  /**
   * How long other instances wait for that load, a duration like 250ms, 5s, 2m, 1h, 7d or PT1S.
   * Default 3s.
   */
  private String leaseWait;

  /**
   * Time box of each cache read from Redis, a duration like 250ms, 5s, 2m, 1h, 7d or PT1S. Default
   * 250ms.
   */
  private String redisTimeout;

  /**
   * After a Redis failure, how long readers skip Redis, a duration like 250ms, 5s, 2m, 1h, 7d or
   * PT1S. Default 1s.
   */
  private String redisRetryAfter;

  /** The in-process cache (L1) of each instance. */
  @NestedConfigurationProperty private SpillwayL1Properties l1 = new SpillwayL1Properties();

  /** TTL of counters().cached(), a duration like 250ms, 5s, 2m, 1h, 7d or PT1S. Default 5s. */
  private String countersTtl;

  /** Life of a tag's version key, a duration like 250ms, 5s, 2m, 1h, 7d or PT1S. Default 1d. */
  private String tagTtl;

  /**
   * A load that takes longer is served but not cached, a duration like 250ms, 5s, 2m, 1h, 7d or
   * PT1S. Default 1m.
   */
  private String maxLoadTime;

  /** Environment variable holding the AES-GCM keys. Default SPILLWAY_CACHE_KEYS. */
  private String encryptionKeysEnv;

  /**
   * Whether this instance relays PostgreSQL NOTIFY to the bus (turn it on in the worker). Default
   * false.
   */
  private Boolean listenDatabase;

  /**
   * How often the bus checks its own subscription, a duration like 250ms, 5s, 2m, 1h, 7d or PT1S.
   * Default 5s.
   */
  private String heartbeat;

  /** Flushed counter cells whose invalidation may wait. Default 100000. */
  private Integer countersInvalidationQueue;

  /** Pub/sub channel of JSON invalidation events from other services. */
  private String foreignChannel;

  /** Entity names of foreign events mapped to cache names. */
  private Map<String, String> foreignEntities = new LinkedHashMap<>();

  public String getPrefix() {
    return prefix;
  }

  public void setPrefix(String v) {
    this.prefix = v;
  }

  public String getChannel() {
    return channel;
  }

  public void setChannel(String v) {
    this.channel = v;
  }

  public String getTtl() {
    return ttl;
  }

  public void setTtl(String v) {
    this.ttl = v;
  }

  public String getNegativeTtl() {
    return negativeTtl;
  }

  public void setNegativeTtl(String v) {
    this.negativeTtl = v;
  }

  public Integer getTtlJitterPercent() {
    return ttlJitterPercent;
  }

  public void setTtlJitterPercent(Integer v) {
    this.ttlJitterPercent = v;
  }

  public String getStaleWhileRevalidate() {
    return staleWhileRevalidate;
  }

  public void setStaleWhileRevalidate(String v) {
    this.staleWhileRevalidate = v;
  }

  public String getEarlyRefreshBeta() {
    return earlyRefreshBeta;
  }

  public void setEarlyRefreshBeta(String v) {
    this.earlyRefreshBeta = v;
  }

  public Integer getMaxValueBytes() {
    return maxValueBytes;
  }

  public void setMaxValueBytes(Integer v) {
    this.maxValueBytes = v;
  }

  public String getLeaseTime() {
    return leaseTime;
  }

  public void setLeaseTime(String v) {
    this.leaseTime = v;
  }

  public String getLeaseWait() {
    return leaseWait;
  }

  public void setLeaseWait(String v) {
    this.leaseWait = v;
  }

  public String getRedisTimeout() {
    return redisTimeout;
  }

  public void setRedisTimeout(String v) {
    this.redisTimeout = v;
  }

  public String getRedisRetryAfter() {
    return redisRetryAfter;
  }

  public void setRedisRetryAfter(String v) {
    this.redisRetryAfter = v;
  }

  public SpillwayL1Properties getL1() {
    return l1;
  }

  public void setL1(SpillwayL1Properties v) {
    this.l1 = v;
  }

  public String getCountersTtl() {
    return countersTtl;
  }

  public void setCountersTtl(String v) {
    this.countersTtl = v;
  }

  public String getTagTtl() {
    return tagTtl;
  }

  public void setTagTtl(String v) {
    this.tagTtl = v;
  }

  public String getMaxLoadTime() {
    return maxLoadTime;
  }

  public void setMaxLoadTime(String v) {
    this.maxLoadTime = v;
  }

  public String getEncryptionKeysEnv() {
    return encryptionKeysEnv;
  }

  public void setEncryptionKeysEnv(String v) {
    this.encryptionKeysEnv = v;
  }

  public Boolean getListenDatabase() {
    return listenDatabase;
  }

  public void setListenDatabase(Boolean v) {
    this.listenDatabase = v;
  }

  public String getHeartbeat() {
    return heartbeat;
  }

  public void setHeartbeat(String v) {
    this.heartbeat = v;
  }

  public Integer getCountersInvalidationQueue() {
    return countersInvalidationQueue;
  }

  public void setCountersInvalidationQueue(Integer v) {
    this.countersInvalidationQueue = v;
  }

  public String getForeignChannel() {
    return foreignChannel;
  }

  public void setForeignChannel(String v) {
    this.foreignChannel = v;
  }

  public Map<String, String> getForeignEntities() {
    return foreignEntities;
  }

  public void setForeignEntities(Map<String, String> v) {
    this.foreignEntities = v;
  }

  void toTree(ObjectNode n) {
    SpillwayProperties.put(n, "prefix", prefix);
    SpillwayProperties.put(n, "channel", channel);
    SpillwayProperties.put(n, "ttl", ttl);
    SpillwayProperties.put(n, "negative-ttl", negativeTtl);
    SpillwayProperties.put(n, "ttl-jitter-percent", ttlJitterPercent);
    SpillwayProperties.put(n, "stale-while-revalidate", staleWhileRevalidate);
    SpillwayProperties.put(n, "early-refresh-beta", earlyRefreshBeta);
    SpillwayProperties.put(n, "max-value-bytes", maxValueBytes);
    SpillwayProperties.put(n, "lease-time", leaseTime);
    SpillwayProperties.put(n, "lease-wait", leaseWait);
    SpillwayProperties.put(n, "redis-timeout", redisTimeout);
    SpillwayProperties.put(n, "redis-retry-after", redisRetryAfter);
    ObjectNode l1Node = n.objectNode();
    l1.toTree(l1Node);
    if (!l1Node.isEmpty()) {
      n.set("l1", l1Node);
    }
    SpillwayProperties.put(n, "counters-ttl", countersTtl);
    SpillwayProperties.put(n, "tag-ttl", tagTtl);
    SpillwayProperties.put(n, "max-load-time", maxLoadTime);
    SpillwayProperties.put(n, "encryption-keys-env", encryptionKeysEnv);
    SpillwayProperties.put(n, "listen-database", listenDatabase);
    SpillwayProperties.put(n, "heartbeat", heartbeat);
    SpillwayProperties.put(n, "counters-invalidation-queue", countersInvalidationQueue);
    SpillwayProperties.put(n, "foreign-channel", foreignChannel);
    if (!foreignEntities.isEmpty()) {
      ObjectNode m = n.putObject("foreign-entities");
      foreignEntities.forEach(m::put);
    }
  }
}
