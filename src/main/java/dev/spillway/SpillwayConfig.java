package dev.spillway;

import static dev.spillway.config.Checks.requireBetween;
import static dev.spillway.config.Checks.requireUri;

import dev.spillway.config.AdoptMapping;
import dev.spillway.config.ApiSettings;
import dev.spillway.config.CacheSettings;
import dev.spillway.config.ConfigCopy;
import dev.spillway.config.CoreChecks;
import dev.spillway.config.EffectiveConfig;
import dev.spillway.config.Logfmt;
import dev.spillway.config.Redactor;
import dev.spillway.config.ReportSettings;
import dev.spillway.config.WorkerSettings;
import dev.spillway.redis.RedisSeeds;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The effective, immutable configuration of one Spillway runtime. Built by {@link Builder} (from
 * code) or by {@link ConfigLoader} (from YAML plus environment); either way every value has been
 * checked against its rule before an instance exists, and the names used in error messages are the
 * YAML keys, so a message points at the line to fix.
 *
 * <p>{@link #toString()} hides the database password and every secret inside the Redis URI and the
 * JDBC URL ({@link Redactor}); so does every message that rejects one of them.
 */
public record SpillwayConfig(
    String redisUri,
    Duration redisTimeout,
    boolean redisCluster,
    String jdbcUrl,
    String jdbcUser,
    String jdbcPassword,
    String schema,
    int poolSize,
    Duration postgresConnectTimeout,
    String keyPrefix,
    int stripes,
    Duration drainInterval,
    int maxPendingCells,
    OverflowPolicy overflowPolicy,
    Duration blockTimeout,
    Duration closeTimeout,
    boolean flushEnabled,
    Duration flushInterval,
    int flushMaxCellsPerTransaction,
    int flushMaxPendingBatchesPerStripe,
    int flushApplyConnections,
    Map<String, Set<Granularity>> counters,
    List<AdoptMapping> adopt,
    WorkerSettings worker,
    ReportSettings reporting,
    CacheSettings cache,
    ApiSettings api,
    Durability durability,
    int durableReplicas) {

  public static final String DEFAULT_REDIS_URI = "redis://127.0.0.1:6379";
  public static final String DEFAULT_JDBC_URL = "jdbc:postgresql://127.0.0.1:5432/test";
  public static final String DEFAULT_JDBC_USER = "postgres";
  public static final String DEFAULT_SCHEMA = "spillway";
  public static final String DEFAULT_KEY_PREFIX = "sw:";

  /**
   * 4096 stripes keep each stripe hash in Redis's compact listpack encoding (below 512 fields) up
   * to ~2M cells pending between two flushes (DESIGN.md, "Redis layout"), at the cost of one claim
   * call per stripe per flush run (~20 ms of Redis time per run when idle).
   */
  public static final int DEFAULT_STRIPES = 4096;

  public static final Duration DEFAULT_REDIS_TIMEOUT = Duration.ofSeconds(5);

  /**
   * How long opening one PostgreSQL connection may take (TCP connect and login), and how long a
   * caller waits for a pooled one. The CLI's one-shot commands cap it at {@code 3s} so that an
   * unreachable database is reported at once rather than after a long retry.
   */
  public static final Duration DEFAULT_POSTGRES_CONNECT_TIMEOUT = Duration.ofSeconds(5);

  public static final Duration DEFAULT_DRAIN_INTERVAL = Duration.ofMillis(100);
  public static final int DEFAULT_MAX_PENDING_CELLS = 1_000_000;
  public static final Duration DEFAULT_BLOCK_TIMEOUT = Duration.ofSeconds(30);
  public static final Duration DEFAULT_CLOSE_TIMEOUT = Duration.ofSeconds(10);
  public static final Duration DEFAULT_FLUSH_INTERVAL = Duration.ofSeconds(1);
  public static final int DEFAULT_MAX_CELLS_PER_TRANSACTION = 50_000;
  public static final int DEFAULT_MAX_PENDING_BATCHES_PER_STRIPE = 4;

  /** Two transactions at once: a second PostgreSQL backend works on another core. */
  public static final int DEFAULT_APPLY_CONNECTIONS = 2;

  public SpillwayConfig {
    requireUri("redis.uri", redisUri, "redis", "rediss", "redis-sentinel", "rediss-sentinel");
    RedisSeeds.parse(redisUri, redisCluster, Duration.ofSeconds(1));
    requireBetween("redis.timeout", redisTimeout, Duration.ofMillis(100), Duration.ofMinutes(1));
    CoreChecks.postgres(jdbcUrl, jdbcUser, schema, poolSize, postgresConnectTimeout);
    jdbcPassword = jdbcPassword == null ? "" : jdbcPassword;
    CoreChecks.keys(keyPrefix, stripes);
    CoreChecks.client(
        drainInterval,
        maxPendingCells,
        overflowPolicy,
        durability,
        durableReplicas,
        blockTimeout,
        closeTimeout);
    CoreChecks.flush(
        flushInterval,
        flushMaxCellsPerTransaction,
        flushMaxPendingBatchesPerStripe,
        flushApplyConnections,
        poolSize);
    counters = CoreChecks.counters(counters);
    adopt = CoreChecks.adopt(adopt);
    worker = worker == null ? WorkerSettings.defaults() : worker;
    reporting = reporting == null ? ReportSettings.defaults() : reporting;
    cache = cache == null ? CacheSettings.defaults() : cache;
    api = api == null ? ApiSettings.defaults() : api;
    CoreChecks.acrossSections(keyPrefix, cache, adopt);
  }

  /** The adopt mapping of that name. */
  public Optional<AdoptMapping> adoptMapping(String name) {
    return adopt.stream().filter(m -> m.name().equals(name)).findFirst();
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Buckets configured for a counter; empty when it keeps only its total. */
  public Set<Granularity> bucketsOf(String counter) {
    return counters.getOrDefault(counter, Set.of());
  }

  /** A builder pre-filled with this configuration ({@link ConfigCopy}). */
  public Builder toBuilder() {
    return ConfigCopy.toBuilder(this);
  }

  /** The Redis URI with any password replaced by {@code <masked>}: {@link Redactor#maskUri}. */
  public static String maskUri(String uri) {
    return Redactor.maskUri(uri);
  }

  /**
   * How long a caller waits for a Redis reply: {@code redis.timeout} plus one second, so that
   * Lettuce's own timeout, which names the command, fires first, and no wait outlives a reply that
   * will never come.
   */
  public long replyWaitMillis() {
    return redisTimeout.toMillis() + 1000;
  }

  @Override
  public String toString() {
    return Logfmt.pairs(EffectiveConfig.of(this));
  }

  /**
   * Mutable, single-threaded builder. Setters check single values; the record's constructor checks
   * them all again, so a {@code SpillwayConfig} is valid however it was made.
   */
  public static final class Builder {
    private String redisUri = DEFAULT_REDIS_URI;
    private Duration redisTimeout = DEFAULT_REDIS_TIMEOUT;
    private boolean redisCluster;
    private String jdbcUrl = DEFAULT_JDBC_URL;
    private String jdbcUser = DEFAULT_JDBC_USER;
    private String jdbcPassword = "";
    private String schema = DEFAULT_SCHEMA;
    private int poolSize = 4;
    private Duration postgresConnectTimeout = DEFAULT_POSTGRES_CONNECT_TIMEOUT;
    private String keyPrefix = DEFAULT_KEY_PREFIX;
    private int stripes = DEFAULT_STRIPES;
    private Duration drainInterval = DEFAULT_DRAIN_INTERVAL;
    private int maxPendingCells = DEFAULT_MAX_PENDING_CELLS;
    private OverflowPolicy overflowPolicy = OverflowPolicy.BLOCK;
    private Duration blockTimeout = DEFAULT_BLOCK_TIMEOUT;
    private Duration closeTimeout = DEFAULT_CLOSE_TIMEOUT;
    private boolean flushEnabled;
    private Duration flushInterval = DEFAULT_FLUSH_INTERVAL;
    private int flushMaxCellsPerTransaction = DEFAULT_MAX_CELLS_PER_TRANSACTION;
    private int flushMaxPendingBatchesPerStripe = DEFAULT_MAX_PENDING_BATCHES_PER_STRIPE;
    private int flushApplyConnections = DEFAULT_APPLY_CONNECTIONS;
    private final Map<String, Set<Granularity>> counters = new LinkedHashMap<>();
    private final List<AdoptMapping> adopt = new ArrayList<>();
    private WorkerSettings worker = WorkerSettings.defaults();
    private ReportSettings reporting = ReportSettings.defaults();
    private CacheSettings cache = CacheSettings.defaults();
    private ApiSettings api = ApiSettings.defaults();
    private Durability durability = Durability.ASYNC;
    private int durableReplicas = 1;

    private Builder() {}

    /** {@code client.durability}: when a drain counts as delivered (see {@link Durability}). */
    public Builder durability(Durability v) {
      this.durability = v;
      return this;
    }

    /**
     * {@code client.durable-replicas}: replicas {@code WAIT} must confirm under {@code REPLICATED}.
     */
    public Builder durableReplicas(int v) {
      this.durableReplicas = v;
      return this;
    }

    /** Adds an adopt mapping (existing Redis keys flushed into the user's tables). */
    public Builder adopt(AdoptMapping m) {
      adopt.add(m);
      return this;
    }

    public Builder worker(WorkerSettings w) {
      this.worker = w;
      return this;
    }

    public Builder reporting(ReportSettings r) {
      this.reporting = r;
      return this;
    }

    /** The public HTTP API ({@code api:}); the worker serves it when enabled. */
    public Builder api(ApiSettings a) {
      this.api = a;
      return this;
    }

    public Builder cache(CacheSettings c) {
      this.cache = c;
      return this;
    }

    public Builder redisUri(String v) {
      this.redisUri = v;
      return this;
    }

    public Builder redisTimeout(Duration v) {
      this.redisTimeout = v;
      return this;
    }

    /**
     * Talks to a Redis Cluster: {@code redisUri} then lists seed nodes, comma-separated ({@code
     * redis://10.0.0.1:7101,10.0.0.2:7101}).
     */
    public Builder redisCluster(boolean v) {
      this.redisCluster = v;
      return this;
    }

    public Builder jdbcUrl(String v) {
      this.jdbcUrl = v;
      return this;
    }

    public Builder jdbcUser(String v) {
      this.jdbcUser = v;
      return this;
    }

    public Builder jdbcPassword(String v) {
      this.jdbcPassword = v;
      return this;
    }

    public Builder schema(String v) {
      this.schema = v;
      return this;
    }

    public Builder poolSize(int v) {
      this.poolSize = v;
      return this;
    }

    /**
     * {@code postgres.connect-timeout}: connect and login, and the wait for a pooled connection.
     */
    public Builder postgresConnectTimeout(Duration v) {
      this.postgresConnectTimeout = v;
      return this;
    }

    public Builder keyPrefix(String v) {
      this.keyPrefix = v;
      return this;
    }

    public Builder stripes(int v) {
      this.stripes = v;
      return this;
    }

    public Builder drainInterval(Duration v) {
      this.drainInterval = v;
      return this;
    }

    public Builder maxPendingCells(int v) {
      this.maxPendingCells = v;
      return this;
    }

    public Builder overflowPolicy(OverflowPolicy v) {
      this.overflowPolicy = v;
      return this;
    }

    public Builder blockTimeout(Duration v) {
      this.blockTimeout = v;
      return this;
    }

    public Builder closeTimeout(Duration v) {
      this.closeTimeout = v;
      return this;
    }

    public Builder flushEnabled(boolean v) {
      this.flushEnabled = v;
      return this;
    }

    public Builder flushInterval(Duration v) {
      this.flushInterval = v;
      return this;
    }

    public Builder flushMaxCellsPerTransaction(int v) {
      this.flushMaxCellsPerTransaction = v;
      return this;
    }

    public Builder flushMaxPendingBatchesPerStripe(int v) {
      this.flushMaxPendingBatchesPerStripe = v;
      return this;
    }

    /** Transactions a flush or adopt run applies at once, one pooled connection each. */
    public Builder flushApplyConnections(int v) {
      this.flushApplyConnections = v;
      return this;
    }

    /** Declares the time buckets a counter keeps besides its total (none: total only). */
    public Builder counter(String name, Granularity... buckets) {
      Set<Granularity> g = EnumSet.noneOf(Granularity.class);
      g.addAll(Arrays.asList(buckets));
      counters.put(name, g);
      return this;
    }

    public SpillwayConfig build() {
      return new SpillwayConfig(
          redisUri,
          redisTimeout,
          redisCluster,
          jdbcUrl,
          jdbcUser,
          jdbcPassword,
          schema,
          poolSize,
          postgresConnectTimeout,
          keyPrefix,
          stripes,
          drainInterval,
          maxPendingCells,
          overflowPolicy,
          blockTimeout,
          closeTimeout,
          flushEnabled,
          flushInterval,
          flushMaxCellsPerTransaction,
          flushMaxPendingBatchesPerStripe,
          flushApplyConnections,
          counters,
          adopt,
          worker,
          reporting,
          cache,
          api,
          durability,
          durableReplicas);
    }
  }
}
