package dev.spillway;

import dev.spillway.cache.CacheAside;
import dev.spillway.cache.CacheRuntime;
import dev.spillway.cache.CachedCounters;
import dev.spillway.client.DefaultCounters;
import dev.spillway.config.AdoptMapping;
import dev.spillway.config.ConfigLoader;
import dev.spillway.counter.Counters;
import dev.spillway.flush.AdoptFlusher;
import dev.spillway.flush.FlushListener;
import dev.spillway.flush.FlushReport;
import dev.spillway.flush.Flusher;
import dev.spillway.layout.KeyLayout;
import dev.spillway.metrics.SpillwayMeters;
import dev.spillway.redis.RedisConnector;
import dev.spillway.redis.RedisLink;
import dev.spillway.runtime.Closeables;
import dev.spillway.runtime.RuntimeFailure;
import dev.spillway.schedule.FlushScheduler;
import dev.spillway.store.AdoptStore;
import dev.spillway.store.CounterStore;
import dev.spillway.store.Database;
import dev.spillway.store.DeadLetters;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.resource.ClientResources;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The entry point: one runtime holding the Redis connections, the PostgreSQL pool, the embedded
 * counter client and (optionally) the scheduled flusher.
 *
 * <pre>{@code
 * try (Spillway sw = Spillway.builder()
 *         .redisUri("redis://127.0.0.1:6379")
 *         .jdbcUrl("jdbc:postgresql://127.0.0.1:5432/test")
 *         .keyPrefix("sw:")
 *         .build()) {
 *     sw.counters().increment("page_views", "42");
 *     sw.flushOnce();
 * }
 * }</pre>
 *
 * <p>Or from the CLI's file, so an application and its worker share one configuration: {@code
 * Spillway.builder().configFile(Path.of("spillway.yaml")).build()} (the file, then {@code
 * SPILLWAY_*} environment overrides, then explicit setters win; see {@link Builder}).
 *
 * <p>{@link #build} connects to Redis and PostgreSQL and runs the migrations; it fails with a
 * {@link SpillwayException} naming what is unreachable ({@link
 * dev.spillway.store.PostgresUnavailableException} for PostgreSQL, within {@code
 * postgres.connect-timeout}). Built with {@link Builder#requirePostgres requirePostgres(false)}, it
 * needs only Redis: increments and {@code counters().pending(...)} work while PostgreSQL is away.
 * {@link #close()} stops the flusher, drains the local buffer to Redis (or PostgreSQL), closes what
 * this runtime created, and is idempotent.
 *
 * <p>Why this file stays over 400 lines: it is the entry point and its builder, both public API
 * ({@code Spillway.builder()} returns the nested {@link Builder}, a name applications already use),
 * and every public setter carries the documentation an IDE shows. The wiring in the constructor is
 * kept beside {@link #close()} because the order in which parts open is the reverse of the order in
 * which they must close.
 */
public final class Spillway implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Spillway.class);

  private final SpillwayConfig config;
  private final Database database;
  private final RedisConnector redis;
  private final DefaultCounters counters;
  private final Flusher flusher;
  private final AdoptFlusher adoptFlusher;
  private final FlushScheduler scheduler;
  private final CacheRuntime caches;
  private final CachedCounters cachedCounters;
  private final MeterRegistry registry;
  private final Deque<AutoCloseable> resources;
  private final RuntimeFailure failure;
  private final AtomicBoolean closed = new AtomicBoolean();

  private Spillway(Builder b, SpillwayConfig config) {
    this.config = config;
    this.registry = b.registry != null ? b.registry : new SimpleMeterRegistry();
    InstantSource clock = b.clock != null ? b.clock : InstantSource.system();
    this.failure = b.failure != null ? b.failure : new RuntimeFailure();
    Deque<AutoCloseable> opened = new ArrayDeque<>();
    try {
      database =
          b.dataSource != null
              ? Database.external(b.dataSource, config)
              : b.requirePostgres ? Database.open(config) : Database.openLazily(config);
      opened.push(database);
      if (b.requirePostgres && b.migrate) {
        database.migrate();
      }
      redis = RedisConnector.create(config, b.clientResources);
      opened.push(redis);
      RedisLink<String, String> drainConn = redis.connect();
      opened.push(drainConn);
      redis.checkMode(drainConn);
      RedisLink<String, String> readConn = redis.connect();
      opened.push(readConn);
      RedisLink<String, String> flushConn = redis.connect();
      opened.push(flushConn);
      SpillwayMeters meters = new SpillwayMeters(registry);
      KeyLayout layout = new KeyLayout(config.keyPrefix(), config.stripes());
      CounterStore store = new CounterStore(database.dataSource(), config.schema());
      String clientId = HexFormat.of().formatHex(new SecureRandom().generateSeed(8));
      counters =
          new DefaultCounters(
              config,
              layout,
              clock,
              drainConn.connection(),
              drainConn.async(),
              readConn.async(),
              store,
              meters,
              clientId,
              failure);
      opened.push(counters);
      flusher =
          new Flusher(
              layout,
              flushConn.connection(),
              flushConn.async(),
              store,
              config,
              meters,
              b.listener,
              clock,
              failure);
      opened.push(flusher);
      caches = CacheRuntime.start(config, redis, clock, registry, b.environment(), failure);
      opened.push(caches);
      cachedCounters = caches.cachedCounters((c, k) -> store.readTotal(c, k, List.of()).total());
      flusher.onApplied(caches::countersApplied);
      AdoptStore adoptStore = new AdoptStore(database.dataSource(), config.schema());
      if (b.requirePostgres) {
        for (AdoptMapping m : config.adopt()) {
          adoptStore.validate(m);
        }
      }
      RedisLink<String, String> adoptConn = redis.connect();
      opened.push(adoptConn);
      // Adopt finds and reads foreign keys as bytes: they need not be UTF-8.
      RedisLink<byte[], byte[]> adoptBytes = redis.connect(ByteArrayCodec.INSTANCE);
      opened.push(adoptBytes);
      adoptFlusher =
          new AdoptFlusher(
              layout,
              adoptConn.connection(),
              adoptConn.async(),
              adoptBytes.connection(),
              adoptBytes.async(),
              adoptStore,
              config,
              meters,
              b.listener,
              clock);
      scheduler =
          config.flushEnabled()
              ? new FlushScheduler(flusher, config.flushInterval(), failure)
              : null;
      if (scheduler != null) {
        opened.push(scheduler);
      }
    } catch (RuntimeException e) {
      Closeables.closeAll(opened, log, "close_failed");
      throw e;
    }
    this.resources = opened;
    log.info("event=started client={} {}", "spillway", config);
  }

  public static Builder builder() {
    return new Builder();
  }

  /** The embedded counter client. */
  public Counters counters() {
    return counters;
  }

  /**
   * A cache-aside view of flushed totals (L1 and Redis, a short TTL, invalidated by every flush
   * that touches a key): the cheap read for a page view counter shown to every visitor. Not exact:
   * see {@link CachedCounters}. It hangs off the runtime, not off {@link Counters}, because it is
   * the cache's view of the store: the client that writes counters knows nothing of caches.
   */
  public CachedCounters cachedCounters() {
    return cachedCounters;
  }

  /**
   * A cache-aside reader named {@code name} (L1 Caffeine, L2 Redis, stampede control, tags,
   * invalidation across instances); see {@link CacheAside}. Defaults come from the {@code cache:}
   * section; one cache per name per runtime.
   */
  public <K, V> CacheAside.Builder<K, V> cache(String name, Class<K> keyType, Class<V> valueType) {
    return caches.builder(name, keyType, valueType);
  }

  /** Claims, applies and acknowledges every stripe once, now, on the calling thread. */
  public FlushReport flushOnce() {
    return flusher.flushOnce();
  }

  /** Claims, applies and acknowledges stripes {@code [fromStripe, toStripe)} once, now. */
  public FlushReport flushOnce(int fromStripe, int toStripe) {
    if (fromStripe < 0 || toStripe > config.stripes() || fromStripe >= toStripe) {
      throw new IllegalArgumentException(
          "stripe range ["
              + fromStripe
              + ", "
              + toStripe
              + ") must lie within [0, "
              + config.stripes()
              + ") and not be empty");
    }
    return flusher.flush(fromStripe, toStripe);
  }

  /**
   * Runs every adopt mapping once, now, on the calling thread: recover leftovers, SCAN and move the
   * matching keys, apply them to the user's tables, acknowledge. Reports by mapping name.
   */
  public Map<String, FlushReport> adoptOnce() {
    failure.check("nothing was adopted");
    Map<String, FlushReport> out = new LinkedHashMap<>();
    for (AdoptMapping m : config.adopt()) {
      out.put(m.name(), adoptFlusher.run(m));
    }
    return out;
  }

  /**
   * Runs one adopt mapping once.
   *
   * @throws IllegalArgumentException when no mapping has that name
   */
  public FlushReport adoptOnce(String mapping) {
    AdoptMapping m =
        config
            .adoptMapping(mapping)
            .orElseThrow(
                () ->
                    new IllegalArgumentException(
                        "no adopt mapping named '"
                            + mapping
                            + "' (configured: "
                            + config.adopt().stream().map(AdoptMapping::name).toList()
                            + ")"));
    failure.check("nothing was adopted");
    return adoptFlusher.run(m);
  }

  /** The dead-letter table: list, replay (routine or one row) and discard, by class. */
  public DeadLetters deadLetters() {
    return new DeadLetters(database.dataSource(), config.schema());
  }

  public SpillwayConfig config() {
    return config;
  }

  /**
   * Why this runtime stopped draining and flushing, if it did: the first {@link Error} caught on
   * one of its own threads (see {@link RuntimeFailure}). Empty while healthy. A failed runtime
   * refuses increments and flushes; close it and start a new one (or restart the process).
   */
  public Optional<String> failed() {
    return failure.reason();
  }

  public MeterRegistry meterRegistry() {
    return registry;
  }

  public DataSource dataSource() {
    return database.dataSource();
  }

  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    // Producers first: from here increment() throws, and the final drain (when the counters
    // client closes, after the flush schedule stopped) sees every increment that returned. Then
    // the flush schedule (a running flush finishes), the caches (their threads end before their
    // connections close), the final drain, the connections, the Redis client and its event loops,
    // the pool: no thread of ours writes to a connection that is closing.
    counters.stopAccepting();
    Closeables.closeAll(resources, log, "close_failed");
    log.info("event=closed");
  }

  /**
   * Fluent configuration. The configuration comes from at most one whole source, defaults when
   * there is none: {@link #configFile} (the CLI's YAML file plus its {@code SPILLWAY_*} environment
   * overrides) or {@link #config} (a {@link SpillwayConfig} built elsewhere). The setters below
   * ({@link #redisUri} to {@link #counter}) are explicit and always win over that source, whatever
   * the order of the calls: {@code configFile(f).schema("a")} and {@code schema("a").configFile(f)}
   * both use schema {@code a}. Precedence, lowest first: built-in defaults, the file, the
   * environment, the setters. {@link #counter} and {@link #adopt} add to what the source declares
   * ({@code counter} replaces a counter of the same name).
   *
   * <p>Nothing is read or checked until {@link #build()}: it reads the file, applies the
   * environment, replays the setters in call order and seals the result into a {@link
   * SpillwayConfig}, failing with the {@link ConfigException} the CLI would print. Runtime
   * collaborators (meter registry, clock, flush listener) are injected here and never closed by
   * Spillway.
   */
  public static final class Builder {
    private SpillwayConfig base;
    private Path configFile;
    private Map<String, String> environment;

    /** Explicit setters in call order, replayed over the file or base at build(). */
    private final List<Consumer<SpillwayConfig.Builder>> explicit = new ArrayList<>();

    private MeterRegistry registry;
    private InstantSource clock;
    private FlushListener listener;
    private RuntimeFailure failure;
    private ClientResources clientResources;
    private DataSource dataSource;
    private boolean migrate = true;
    private boolean requirePostgres = true;

    private Builder() {}

    /**
     * Starts from a complete configuration (e.g. one the CLI loaded); explicit setters win over it,
     * whatever the order. Not combinable with {@link #configFile}.
     */
    public Builder config(SpillwayConfig c) {
      this.base = Objects.requireNonNull(c, "config");
      return this;
    }

    /**
     * Reads the configuration from a YAML file exactly as {@code spillway --config file} does, so
     * an application and its worker share one file: same keys, same strict checks (unknown or
     * duplicate keys, wrong types and impossible values are refused), and the same environment
     * overrides ({@code SPILLWAY_REDIS_URI}, {@code SPILLWAY_JDBC_PASSWORD}, … see {@link
     * ConfigLoader}) on top of it. Explicit setters win over both, whatever the order of the calls.
     * The file is read by {@link #build()}, which throws the CLI's {@link ConfigException} (naming
     * the file) when it is missing, unreadable or not valid YAML. Not combinable with {@link
     * #config}.
     */
    public Builder configFile(Path file) {
      this.configFile = Objects.requireNonNull(file, "configFile");
      return this;
    }

    /**
     * The environment this runtime reads: {@code SPILLWAY_*} overrides (with {@link #configFile}
     * only) and the cache's encryption keys. Default: {@link System#getenv()}. A seam for tests.
     */
    Builder environment(Map<String, String> env) {
      this.environment = Map.copyOf(env);
      return this;
    }

    private Builder explicit(Consumer<SpillwayConfig.Builder> setter) {
      explicit.add(setter);
      return this;
    }

    public Builder redisUri(String v) {
      return explicit(c -> c.redisUri(v));
    }

    /**
     * Runs on a Redis Cluster ({@code redis.cluster}); {@link #redisUri} then lists seed nodes,
     * comma-separated: {@code redis://10.0.0.1:7101,10.0.0.2:7101,10.0.0.3:7101}.
     */
    public Builder redisCluster(boolean v) {
      return explicit(c -> c.redisCluster(v));
    }

    public Builder jdbcUrl(String v) {
      return explicit(c -> c.jdbcUrl(v));
    }

    public Builder jdbcUser(String v) {
      return explicit(c -> c.jdbcUser(v));
    }

    public Builder jdbcPassword(String v) {
      return explicit(c -> c.jdbcPassword(v));
    }

    public Builder schema(String v) {
      return explicit(c -> c.schema(v));
    }

    public Builder keyPrefix(String v) {
      return explicit(c -> c.keyPrefix(v));
    }

    public Builder stripes(int v) {
      return explicit(c -> c.stripes(v));
    }

    public Builder drainInterval(Duration v) {
      return explicit(c -> c.drainInterval(v));
    }

    public Builder maxPendingCells(int v) {
      return explicit(c -> c.maxPendingCells(v));
    }

    public Builder overflowPolicy(OverflowPolicy v) {
      return explicit(c -> c.overflowPolicy(v));
    }

    public Builder blockTimeout(Duration v) {
      return explicit(c -> c.blockTimeout(v));
    }

    /** {@code client.durability} (default {@link Durability#ASYNC}); see {@link Durability}. */
    public Builder durability(Durability v) {
      return explicit(c -> c.durability(v));
    }

    /** {@code client.durable-replicas} (default 1): replicas a drain waits for under REPLICATED. */
    public Builder durableReplicas(int v) {
      return explicit(c -> c.durableReplicas(v));
    }

    public Builder closeTimeout(Duration v) {
      return explicit(c -> c.closeTimeout(v));
    }

    public Builder redisTimeout(Duration v) {
      return explicit(c -> c.redisTimeout(v));
    }

    /** Runs a scheduled flush (Quartz) in this runtime every {@code interval}. Off by default. */
    public Builder flushEvery(Duration interval) {
      return explicit(c -> c.flushEnabled(true).flushInterval(interval));
    }

    /**
     * Adopts existing Redis keys (see {@link AdoptMapping}); checked against the database at build.
     */
    public Builder adopt(AdoptMapping mapping) {
      return explicit(c -> c.adopt(mapping));
    }

    public Builder counter(String name, Granularity... buckets) {
      Granularity[] copy = buckets.clone();
      return explicit(c -> c.counter(name, copy));
    }

    public Builder meterRegistry(MeterRegistry r) {
      this.registry = r;
      return this;
    }

    public Builder clock(InstantSource c) {
      this.clock = c;
      return this;
    }

    public Builder flushListener(FlushListener l) {
      this.listener = l;
      return this;
    }

    /**
     * Shares the runtime's failure latch with a host that runs its work on threads of its own (the
     * worker's job threads record their Errors there). Default: a latch of the runtime's own.
     */
    public Builder failure(RuntimeFailure f) {
      this.failure = Objects.requireNonNull(f, "failure");
      return this;
    }

    /**
     * Lettuce resources for the Redis client (e.g. with a command latency recorder); shared, so
     * Spillway never shuts them down. Default: the client's own.
     */
    public Builder clientResources(ClientResources r) {
      this.clientResources = r;
      return this;
    }

    /**
     * Uses the application's PostgreSQL {@code DataSource} (e.g. Spring Boot's pool) instead of a
     * pool of Spillway's own: {@code postgres.jdbc-url}, {@code user}, {@code password} and {@code
     * pool-size} then do not apply to it, {@code postgres.schema} still does. Shared: Spillway
     * never closes it. The migrations run through it as usual (see {@link #migrate}).
     */
    public Builder dataSource(DataSource ds) {
      this.dataSource = Objects.requireNonNull(ds, "dataSource");
      return this;
    }

    /** Whether build() applies pending migrations (default true). */
    public Builder migrate(boolean m) {
      this.migrate = m;
      return this;
    }

    /**
     * Whether build() needs PostgreSQL (default true): it then applies the migrations (see {@link
     * #migrate}) and checks the adopt mappings against their tables, and fails when PostgreSQL
     * cannot be reached. False builds a runtime that touches PostgreSQL only when asked to (an
     * exact {@code get}, a flush): its pool connects on first use, nothing is migrated or checked.
     * For Redis-only work such as the CLI's {@code incr}, which must succeed while PostgreSQL is
     * down.
     */
    public Builder requirePostgres(boolean r) {
      this.requirePostgres = r;
      return this;
    }

    public Spillway build() {
      return new Spillway(this, effectiveConfig());
    }

    /** The sealed configuration build() starts with; see the class Javadoc for the precedence. */
    SpillwayConfig effectiveConfig() {
      if (base != null && configFile != null) {
        throw new IllegalStateException(
            "config(SpillwayConfig) and configFile(Path) each supply the whole configuration; use"
                + " one, and setters for single values");
      }
      SpillwayConfig.Builder c =
          configFile != null
              ? ConfigLoader.read(configFile, environment())
              : base != null ? base.toBuilder() : SpillwayConfig.builder();
      explicit.forEach(s -> s.accept(c));
      return c.build();
    }

    private Map<String, String> environment() {
      return environment != null ? environment : System.getenv();
    }
  }
}
