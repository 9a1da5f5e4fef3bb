package dev.spillway.spring;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.spillway.ConfigException;
import dev.spillway.config.ConfigLoader;
import dev.spillway.SpillwayConfig;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * {@code spillway.*} in {@code application.yaml}: the keys of {@code spillway.yaml} (see the
 * README's Configuration section), below {@code spillway.}, with the same names. Durations are
 * written as in the file ({@code 250ms}, {@code 5s}, {@code PT1S}).
 *
 * <p>The values go through the file's own parser ({@link ConfigLoader#fromTree}): the same checks
 * and the same sentences, prefixed with {@code spillway.}. Environment variables work the Spring
 * way ({@code SPILLWAY_REDIS_URI} sets {@code spillway.redis.uri}). The worker-only sections
 * ({@code worker}, {@code reporting}, {@code adopt}) are not read here.
 */
@ConfigurationProperties("spillway")
public class SpillwayProperties {
  /** Redis connection. */
  private final Redis redis = new Redis();

  /** PostgreSQL connection. Without jdbc-url, Spillway uses the application's single PostgreSQL DataSource when there is one. */
  private final Postgres postgres = new Postgres();

  /** Redis key layout. */
  private final Keys keys = new Keys();

  /** The embedded counter client. */
  private final Client client = new Client();

  /** Flushing Redis into PostgreSQL inside this application (normally the worker does it). */
  private final Flush flush = new Flush();

  /** Cache-aside defaults (the cache: section of spillway.yaml). */
  private final Cache cache = new Cache();

  /** Spring's CacheManager over Spillway caches (with @EnableCaching). */
  private final SpringCache springCache = new SpringCache();

  /** Counters declared up front, by name: {@code spillway.counters.page_views.buckets=HOUR,DAY}. */
  private final Map<String, Counter> counters = new LinkedHashMap<>();

  public Redis getRedis() {
    return redis;
  }

  public Postgres getPostgres() {
    return postgres;
  }

  public Keys getKeys() {
    return keys;
  }

  public Client getClient() {
    return client;
  }

  public Flush getFlush() {
    return flush;
  }

  public Cache getCache() {
    return cache;
  }

  public SpringCache getSpringCache() {
    return springCache;
  }

  public Map<String, Counter> getCounters() {
    return counters;
  }

  /** The configuration these properties describe, checked as the file would be. */
  public SpillwayConfig toConfig() {
    ObjectNode root = JsonNodeFactory.instance.objectNode();
    section(root, "redis", redis::toTree);
    section(root, "postgres", postgres::toTree);
    section(root, "keys", keys::toTree);
    section(root, "client", client::toTree);
    section(root, "flush", flush::toTree);
    section(root, "cache", cache::toTree);
    if (!counters.isEmpty()) {
      ObjectNode cs = root.putObject("counters");
      counters.forEach(
          (name, c) -> {
            ObjectNode spec = cs.putObject(name);
            c.getBuckets().forEach(spec.putArray("buckets")::add);
          });
    }
    try {
      return ConfigLoader.fromTree(root);
    } catch (ConfigException e) {
      throw new ConfigException(prefixed(e.getMessage()));
    }
  }

  /** The file's sentences name keys below the top ({@code flush.interval}); here they sit below spillway. */
  static String prefixed(String message) {
    return message != null
            && message.matches("(?s)(redis|postgres|keys|client|flush|counters|cache)[.\\s\\[].*")
        ? "spillway." + message
        : message;
  }

  private static void section(ObjectNode root, String name, java.util.function.Consumer<ObjectNode> fill) {
    ObjectNode n = root.objectNode();
    fill.accept(n);
    if (!n.isEmpty()) {
      root.set(name, n);
    }
  }

  private static void put(ObjectNode n, String key, Object v) {
    switch (v) {
      case null -> {}
      case String s -> n.put(key, s);
      case Integer i -> n.put(key, i);
      case Boolean b -> n.put(key, b);
      default -> n.putPOJO(key, v);
    }
  }

  /** A counter's time buckets: {@code spillway.counters.page_views.buckets=HOUR,DAY}. */
  public static final class Counter {
    /** Time buckets kept besides the total: MINUTE, HOUR, DAY (see Granularity). */
    private List<String> buckets = new ArrayList<>();

    public List<String> getBuckets() {
      return buckets;
    }

    public void setBuckets(List<String> v) {
      this.buckets = v;
    }
  }

  /** Redis connection. */
  public static final class Redis {
    /** Redis URI (redis://host:port; rediss:// for TLS); with cluster, comma-separated seed nodes. Default redis://127.0.0.1:6379. */
    private String uri;
    /** Time box of each Redis command, a duration like 250ms, 5s, 2m, 1h, 7d or PT1S. Default 5s. */
    private String timeout;
    /** Whether Redis runs as a Redis Cluster. Default false. */
    private Boolean cluster;
    public String getUri() {
      return uri;
    }

    public void setUri(String v) {
      this.uri = v;
    }
    public String getTimeout() {
      return timeout;
    }

    public void setTimeout(String v) {
      this.timeout = v;
    }
    public Boolean getCluster() {
      return cluster;
    }

    public void setCluster(Boolean v) {
      this.cluster = v;
    }
    void toTree(ObjectNode n) {
      put(n, "uri", uri);
      put(n, "timeout", timeout);
      put(n, "cluster", cluster);
    }
  }

  /** PostgreSQL connection. Without jdbc-url, Spillway uses the application's single PostgreSQL DataSource when there is one. */
  public static final class Postgres {
    /** JDBC URL of the PostgreSQL database; when unset and the application has exactly one PostgreSQL DataSource, Spillway uses that DataSource. */
    private String jdbcUrl;
    /** PostgreSQL user. Default postgres. */
    private String user;
    /** PostgreSQL password; keep it in the environment (SPILLWAY_POSTGRES_PASSWORD). */
    private String password;
    /** Schema holding Spillway's tables. Default spillway. */
    private String schema;
    /** Connections in Spillway's own pool (not used with the application's DataSource). */
    private Integer poolSize;
    /** How long connecting to PostgreSQL may take, a duration like 250ms, 5s, 2m, 1h, 7d or PT1S. Default 5s. */
    private String connectTimeout;
    public String getJdbcUrl() {
      return jdbcUrl;
    }

    public void setJdbcUrl(String v) {
      this.jdbcUrl = v;
    }
    public String getUser() {
      return user;
    }

    public void setUser(String v) {
      this.user = v;
    }
    public String getPassword() {
      return password;
    }

    public void setPassword(String v) {
      this.password = v;
    }
    public String getSchema() {
      return schema;
    }

    public void setSchema(String v) {
      this.schema = v;
    }
    public Integer getPoolSize() {
      return poolSize;
    }

    public void setPoolSize(Integer v) {
      this.poolSize = v;
    }
    public String getConnectTimeout() {
      return connectTimeout;
    }

    public void setConnectTimeout(String v) {
      this.connectTimeout = v;
    }
    void toTree(ObjectNode n) {
      put(n, "jdbc-url", jdbcUrl);
      put(n, "user", user);
      put(n, "password", password);
      put(n, "schema", schema);
      put(n, "pool-size", poolSize);
      put(n, "connect-timeout", connectTimeout);
    }
  }

  /** Redis key layout. */
  public static final class Keys {
    /** Prefix of every Redis key Spillway writes. Default sw:. */
    private String prefix;
    /** Number of stripes (hash slots of the write-behind buffer). Default 4096; the worker must use the same. */
    private Integer stripes;
    public String getPrefix() {
      return prefix;
    }

    public void setPrefix(String v) {
      this.prefix = v;
    }
    public Integer getStripes() {
      return stripes;
    }

    public void setStripes(Integer v) {
      this.stripes = v;
    }
    void toTree(ObjectNode n) {
      put(n, "prefix", prefix);
      put(n, "stripes", stripes);
    }
  }

  /** The embedded counter client. */
  public static final class Client {
    /** How often the local buffer drains to Redis, a duration like 250ms, 5s, 2m, 1h, 7d or PT1S. Default 100ms. */
    private String drainInterval;
    /** Counter cells the local buffer holds before the overflow policy applies. Default 1000000. */
    private Integer maxPendingCells;
    /** What increment() does when the buffer is full: BLOCK, DIRECT or FAIL (see OverflowPolicy). */
    private String overflow;
    /** Longest wait of a blocked increment(), a duration like 250ms, 5s, 2m, 1h, 7d or PT1S. Default 30s. */
    private String blockTimeout;
    /** How long closing may take to drain the buffer, a duration like 250ms, 5s, 2m, 1h, 7d or PT1S. Default 10s. */
    private String closeTimeout;
    public String getDrainInterval() {
      return drainInterval;
    }

    public void setDrainInterval(String v) {
      this.drainInterval = v;
    }
    public Integer getMaxPendingCells() {
      return maxPendingCells;
    }

    public void setMaxPendingCells(Integer v) {
      this.maxPendingCells = v;
    }
    public String getOverflow() {
      return overflow;
    }

    public void setOverflow(String v) {
      this.overflow = v;
    }
    public String getBlockTimeout() {
      return blockTimeout;
    }

    public void setBlockTimeout(String v) {
      this.blockTimeout = v;
    }
    public String getCloseTimeout() {
      return closeTimeout;
    }

    public void setCloseTimeout(String v) {
      this.closeTimeout = v;
    }
    void toTree(ObjectNode n) {
      put(n, "drain-interval", drainInterval);
      put(n, "max-pending-cells", maxPendingCells);
      put(n, "overflow", overflow);
      put(n, "block-timeout", blockTimeout);
      put(n, "close-timeout", closeTimeout);
    }
  }

  /** Flushing Redis into PostgreSQL inside this application (normally the worker does it). */
  public static final class Flush {
    /** Whether this application flushes on a schedule itself. Default false. */
    private Boolean enabled;
    /** Flush interval when enabled, a duration like 250ms, 5s, 2m, 1h, 7d or PT1S. Default 1s. */
    private String interval;
    /** Cells per PostgreSQL transaction. Default 50000. */
    private Integer maxCellsPerTransaction;
    /** Batches a stripe may hold before its writers wait. Default 4. */
    private Integer maxPendingBatchesPerStripe;
    public Boolean getEnabled() {
      return enabled;
    }

    public void setEnabled(Boolean v) {
      this.enabled = v;
    }
    public String getInterval() {
      return interval;
    }

    public void setInterval(String v) {
      this.interval = v;
    }
    public Integer getMaxCellsPerTransaction() {
      return maxCellsPerTransaction;
    }

    public void setMaxCellsPerTransaction(Integer v) {
      this.maxCellsPerTransaction = v;
    }
    public Integer getMaxPendingBatchesPerStripe() {
      return maxPendingBatchesPerStripe;
    }

    public void setMaxPendingBatchesPerStripe(Integer v) {
      this.maxPendingBatchesPerStripe = v;
    }
    void toTree(ObjectNode n) {
      put(n, "enabled", enabled);
      put(n, "interval", interval);
      put(n, "max-cells-per-transaction", maxCellsPerTransaction);
      put(n, "max-pending-batches-per-stripe", maxPendingBatchesPerStripe);
    }
  }

  /** Cache-aside defaults (the cache: section of spillway.yaml). */
  public static final class Cache {
    /** Prefix of cache keys in Redis. Default <keys.prefix>c:. */
    private String prefix;
    /** Pub/sub channel of the invalidation bus. */
    private String channel;
    /** How long a loaded value is fresh in Redis, a duration like 250ms, 5s, 2m, 1h, 7d or PT1S. Default 5m. */
    private String ttl;
    /** How long 'the loader found nothing' is remembered, a duration like 250ms, 5s, 2m, 1h, 7d or PT1S. Default 30s. */
    private String negativeTtl;
    /** Every TTL is stretched by a random 0..this percent. Default 10. */
    private Integer ttlJitterPercent;
    /** How long a value is served after its TTL while one reload runs, a duration like 250ms, 5s, 2m, 1h, 7d or PT1S; not used by Spring caches. */
    private String staleWhileRevalidate;
    /** XFetch beta (a number like 1.0); zero turns early refresh off; not used by Spring caches. */
    private String earlyRefreshBeta;
    /** Values whose encoding is larger are served but never cached. Default 1048576. */
    private Integer maxValueBytes;
    /** How long one instance holds the right to load a key for every instance, a duration like 250ms, 5s, 2m, 1h, 7d or PT1S. Default 5s. */
    private String leaseTime;
    /** How long other instances wait for that load, a duration like 250ms, 5s, 2m, 1h, 7d or PT1S. Default 3s. */
    private String leaseWait;
    /** Time box of each cache read from Redis, a duration like 250ms, 5s, 2m, 1h, 7d or PT1S. Default 250ms. */
    private String redisTimeout;
    /** After a Redis failure, how long readers skip Redis, a duration like 250ms, 5s, 2m, 1h, 7d or PT1S. Default 1s. */
    private String redisRetryAfter;
    /** The in-process cache (L1) of each instance. */
    private L1 l1 = new L1();
    /** TTL of counters().cached(), a duration like 250ms, 5s, 2m, 1h, 7d or PT1S. Default 5s. */
    private String countersTtl;
    /** Life of a tag's version key, a duration like 250ms, 5s, 2m, 1h, 7d or PT1S. Default 1d. */
    private String tagTtl;
    /** A load that takes longer is served but not cached, a duration like 250ms, 5s, 2m, 1h, 7d or PT1S. Default 1m. */
    private String maxLoadTime;
    /** Environment variable holding the AES-GCM keys. Default SPILLWAY_CACHE_KEYS. */
    private String encryptionKeysEnv;
    /** Whether this instance relays PostgreSQL NOTIFY to the bus (turn it on in the worker). Default false. */
    private Boolean listenDatabase;
    /** How often the bus checks its own subscription, a duration like 250ms, 5s, 2m, 1h, 7d or PT1S. Default 5s. */
    private String heartbeat;
    /** Flushed counter cells whose invalidation may wait. Default 100000. */
    private Integer countersInvalidationQueue;
    /** Pub/sub channel of JSON invalidation events from other services. */
    private String foreignChannel;
    /** Entity names of foreign events mapped to cache names. */
    private java.util.Map<String, String> foreignEntities = new java.util.LinkedHashMap<>();
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
    public L1 getL1() {
      return l1;
    }

    public void setL1(L1 v) {
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
    public java.util.Map<String, String> getForeignEntities() {
      return foreignEntities;
    }

    public void setForeignEntities(java.util.Map<String, String> v) {
      this.foreignEntities = v;
    }
    void toTree(ObjectNode n) {
      put(n, "prefix", prefix);
      put(n, "channel", channel);
      put(n, "ttl", ttl);
      put(n, "negative-ttl", negativeTtl);
      put(n, "ttl-jitter-percent", ttlJitterPercent);
      put(n, "stale-while-revalidate", staleWhileRevalidate);
      put(n, "early-refresh-beta", earlyRefreshBeta);
      put(n, "max-value-bytes", maxValueBytes);
      put(n, "lease-time", leaseTime);
      put(n, "lease-wait", leaseWait);
      put(n, "redis-timeout", redisTimeout);
      put(n, "redis-retry-after", redisRetryAfter);
      ObjectNode l1Node = n.objectNode();
      l1.toTree(l1Node);
      if (!l1Node.isEmpty()) {
        n.set("l1", l1Node);
      }
      put(n, "counters-ttl", countersTtl);
      put(n, "tag-ttl", tagTtl);
      put(n, "max-load-time", maxLoadTime);
      put(n, "encryption-keys-env", encryptionKeysEnv);
      put(n, "listen-database", listenDatabase);
      put(n, "heartbeat", heartbeat);
      put(n, "counters-invalidation-queue", countersInvalidationQueue);
      put(n, "foreign-channel", foreignChannel);
      if (!foreignEntities.isEmpty()) {
        ObjectNode m = n.putObject("foreign-entities");
        foreignEntities.forEach(m::put);
      }
    }
  }

  /** The in-process cache (L1). */
  public static final class L1 {
    /** Entries per cache in each instance's L1; zero disables L1. Default 10000. */
    private Integer maxSize;
    /** Longest life of an L1 entry, a duration like 250ms, 5s, 2m, 1h, 7d or PT1S. Default 10s. */
    private String ttl;
    public Integer getMaxSize() {
      return maxSize;
    }

    public void setMaxSize(Integer v) {
      this.maxSize = v;
    }
    public String getTtl() {
      return ttl;
    }

    public void setTtl(String v) {
      this.ttl = v;
    }
    void toTree(ObjectNode n) {
      put(n, "max-size", maxSize);
      put(n, "ttl", ttl);
    }
  }

  /** Spring's CacheManager over Spillway caches (with @EnableCaching). */
  public static final class SpringCache {
    /** Classes (com.example.Book) or packages (com.example.dto.*) whose instances Spring caches may hold. A value is stored as JSON with its class name; read back only when that class is allowed (String, numbers and Boolean always are); anything else is a miss, never instantiated. */
    private java.util.List<String> allowedTypes = new java.util.ArrayList<>();
    public java.util.List<String> getAllowedTypes() {
      return allowedTypes;
    }

    public void setAllowedTypes(java.util.List<String> v) {
      this.allowedTypes = v;
    }
    void toTree(ObjectNode n) {
    }
  }
}
