package dev.spillway;

import static dev.spillway.config.Checks.COUNTER_PATTERN;
import static dev.spillway.config.Checks.requireBetween;
import static dev.spillway.config.Checks.requireRange;
import static dev.spillway.config.Checks.requireUri;

import dev.spillway.config.AdoptMapping;
import dev.spillway.config.CacheSettings;
import dev.spillway.config.CoreSettings;
import dev.spillway.config.Logfmt;
import dev.spillway.config.Redactor;
import dev.spillway.config.ReportSettings;
import dev.spillway.config.WorkerSettings;
import java.time.Duration;
import java.util.Collections;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;

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
    Map<String, Set<Granularity>> counters,
    List<AdoptMapping> adopt,
    WorkerSettings worker,
    ReportSettings reporting,
    CacheSettings cache,
    dev.spillway.config.ApiSettings api,
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

  static final Pattern SCHEMA_PATTERN = Pattern.compile("[a-z_][a-z0-9_]{0,62}");
  static final Pattern KEY_PREFIX_PATTERN = Pattern.compile("[A-Za-z0-9_.:-]{1,32}");

  public SpillwayConfig {
    requireUri("redis.uri", redisUri, "redis", "rediss", "redis-sentinel", "rediss-sentinel");
    dev.spillway.redis.RedisSeeds.parse(redisUri, redisCluster, Duration.ofSeconds(1));
    requireBetween("redis.timeout", redisTimeout, Duration.ofMillis(100), Duration.ofMinutes(1));
    Objects.requireNonNull(jdbcUrl, "postgres.jdbc-url");
    if (!jdbcUrl.startsWith("jdbc:postgresql:")) {
      throw new ConfigException(
          "postgres.jdbc-url must start with jdbc:postgresql: but was '"
              + Redactor.of(Redactor.secretsIn(jdbcUrl)).redactUri(jdbcUrl)
              + "'"
              + (jdbcUrl.startsWith("postgres")
                  ? " (a libpq URL postgresql://host:5432/db is written"
                      + " jdbc:postgresql://host:5432/db; the user and password go in"
                      + " postgres.user and SPILLWAY_JDBC_PASSWORD)"
                  : ""));
    }
    Objects.requireNonNull(jdbcUser, "postgres.user");
    jdbcPassword = jdbcPassword == null ? "" : jdbcPassword;
    if (schema == null || !SCHEMA_PATTERN.matcher(schema).matches()) {
      throw new ConfigException(
          "postgres.schema must match " + SCHEMA_PATTERN + " but was '" + schema + "'");
    }
    requireRange("postgres.pool-size", poolSize, 1, 200);
    // HikariCP refuses less than 250ms; the driver counts whole seconds, rounded up.
    requireBetween(
        "postgres.connect-timeout",
        postgresConnectTimeout,
        Duration.ofMillis(250),
        Duration.ofMinutes(1));
    if (keyPrefix == null || !KEY_PREFIX_PATTERN.matcher(keyPrefix).matches()) {
      throw new ConfigException(
          "keys.prefix must match " + KEY_PREFIX_PATTERN + " but was '" + keyPrefix + "'");
    }
    requireRange("keys.stripes", stripes, 1, 1 << 20);
    requireBetween(
        "client.drain-interval", drainInterval, Duration.ofMillis(10), Duration.ofMinutes(1));
    requireRange("client.max-pending-cells", maxPendingCells, 1_000, Integer.MAX_VALUE);
    Objects.requireNonNull(overflowPolicy, "client.overflow");
    Objects.requireNonNull(durability, "client.durability");
    requireRange("client.durable-replicas", durableReplicas, 1, 100);
    requireBetween("client.block-timeout", blockTimeout, Duration.ZERO, Duration.ofDays(1));
    requireBetween("client.close-timeout", closeTimeout, Duration.ZERO, Duration.ofHours(1));
    requireBetween("flush.interval", flushInterval, Duration.ofMillis(10), Duration.ofDays(1));
    requireRange("flush.max-cells-per-transaction", flushMaxCellsPerTransaction, 100, 10_000_000);
    requireRange("flush.max-pending-batches-per-stripe", flushMaxPendingBatchesPerStripe, 1, 1_000);
    Map<String, Set<Granularity>> copy = new TreeMap<>();
    for (var e : Objects.requireNonNull(counters, "counters").entrySet()) {
      if (!COUNTER_PATTERN.matcher(e.getKey()).matches()) {
        throw new ConfigException(
            "counters: counter name '" + e.getKey() + "' must match " + COUNTER_PATTERN);
      }
      Set<Granularity> g = e.getValue().isEmpty() ? Set.of() : EnumSet.copyOf(e.getValue());
      copy.put(e.getKey(), Collections.unmodifiableSet(g));
    }
    counters = Collections.unmodifiableMap(copy);
    adopt = adopt == null ? List.of() : List.copyOf(adopt);
    Set<String> adoptNames = new java.util.HashSet<>();
    for (AdoptMapping m : adopt) {
      if (!adoptNames.add(m.name())) {
        throw new ConfigException("adopt mapping name '" + m.name() + "' is used twice");
      }
    }
    worker = worker == null ? WorkerSettings.defaults() : worker;
    reporting = reporting == null ? ReportSettings.defaults() : reporting;
    cache = cache == null ? CacheSettings.defaults() : cache;
    api = api == null ? dev.spillway.config.ApiSettings.defaults() : api;
    if (cache.foreignChannel() != null
        && cache.foreignChannel().equals(cache.channelFor(keyPrefix))) {
      // Bus messages would be read as malformed events, and events as foreign bus messages.
      throw new ConfigException(
          "cache.foreign-channel must differ from the invalidation bus channel but both were '"
              + cache.foreignChannel()
              + "'");
    }
    for (int i = 0; i < adopt.size(); i++) {
      adopt.get(i).checkMatch(i, keyPrefix, cache.prefixFor(keyPrefix));
    }
  }

  /** The adopt mapping of that name. */
  public java.util.Optional<AdoptMapping> adoptMapping(String name) {
    return adopt.stream().filter(m -> m.name().equals(name)).findFirst();
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Buckets configured for a counter; empty when it keeps only its total. */
  public Set<Granularity> bucketsOf(String counter) {
    return counters.getOrDefault(counter, Set.of());
  }

  /** A builder pre-filled with this configuration. */
  public Builder toBuilder() {
    Builder b = new Builder();
    b.redisUri = redisUri;
    b.redisTimeout = redisTimeout;
    b.redisCluster = redisCluster;
    b.jdbcUrl = jdbcUrl;
    b.jdbcUser = jdbcUser;
    b.jdbcPassword = jdbcPassword;
    b.schema = schema;
    b.poolSize = poolSize;
    b.postgresConnectTimeout = postgresConnectTimeout;
    b.keyPrefix = keyPrefix;
    b.stripes = stripes;
    b.drainInterval = drainInterval;
    b.maxPendingCells = maxPendingCells;
    b.overflowPolicy = overflowPolicy;
    b.blockTimeout = blockTimeout;
    b.closeTimeout = closeTimeout;
    b.flushEnabled = flushEnabled;
    b.flushInterval = flushInterval;
    b.flushMaxCellsPerTransaction = flushMaxCellsPerTransaction;
    b.flushMaxPendingBatchesPerStripe = flushMaxPendingBatchesPerStripe;
    b.counters.putAll(counters);
    b.adopt.addAll(adopt);
    b.worker = worker;
    b.reporting = reporting;
    b.cache = cache;
    b.api = api;
    b.durability = durability;
    b.durableReplicas = durableReplicas;
    return b;
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
    return Logfmt.pairs(effective());
  }

  /**
   * The effective configuration as a tree in YAML's shape (sections, then keys; durations as {@code
   * 5s}, schedules as written), secrets masked: what the runtime logs once at start, as logfmt
   * ({@link #toString()}) or, in the worker's JSON format, as nested objects.
   */
  Map<String, Object> effective() {
    Redactor redactor = Redactor.of(this);
    Map<String, Object> root = CoreSettings.effective(this, redactor);
    Map<String, Object> levels = new LinkedHashMap<>();
    counters.forEach(
        (name, set) ->
            levels.put(
                name, set.stream().map(g -> g.name().toLowerCase(java.util.Locale.ROOT)).toList()));
    root.put("counters", levels);
    root.put("adopt", adopt.stream().map(AdoptMapping::name).toList());
    root.put("worker", worker.effective());
    root.put("reporting", reporting.effective());
    root.put("cache", cache.effective());
    root.put("api", api.effective());
    return root;
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
    private final Map<String, Set<Granularity>> counters = new LinkedHashMap<>();
    private final List<AdoptMapping> adopt = new java.util.ArrayList<>();
    private WorkerSettings worker = WorkerSettings.defaults();
    private ReportSettings reporting = ReportSettings.defaults();
    private CacheSettings cache = CacheSettings.defaults();
    private dev.spillway.config.ApiSettings api = dev.spillway.config.ApiSettings.defaults();
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
    public Builder api(dev.spillway.config.ApiSettings a) {
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

    /** Declares the time buckets a counter keeps besides its total (none: total only). */
    public Builder counter(String name, Granularity... buckets) {
      Set<Granularity> g = EnumSet.noneOf(Granularity.class);
      g.addAll(java.util.Arrays.asList(buckets));
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
