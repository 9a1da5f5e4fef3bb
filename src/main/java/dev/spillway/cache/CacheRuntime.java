package dev.spillway.cache;

import dev.spillway.SpillwayConfig;
import dev.spillway.config.CacheSettings;
import dev.spillway.redis.RedisConnector;
import dev.spillway.redis.RedisLink;
import dev.spillway.runtime.Closeables;
import dev.spillway.runtime.RuntimeFailure;
import dev.spillway.store.AppliedCounters;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.codec.StringCodec;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayDeque;
import java.util.Collection;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.ToLongBiFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cache side of one Spillway runtime: its Redis connection for cache entries, the invalidation
 * bus, the background refresh threads, the caches built on it and (optionally) the database LISTEN
 * relay. Created and closed by {@code Spillway}; applications use {@code sw.cache(...)} and {@code
 * sw.cachedCounters()}, not this class.
 *
 * <p>An invalidation that cannot reach Redis (down, or past its time box) is kept and retried every
 * {@code cache.redis-retry-after} until it lands, so an L2 entry never outlives Redis' return by
 * more than that; past 100,000 waiting invalidations the affected caches are purged (SCAN + UNLINK
 * of their keys) once Redis answers again.
 *
 * <p>Counter invalidations (one per flushed cell) go through a bounded queue, {@link
 * CounterInvalidator}; past its bound they become one purge of every cached counter read.
 *
 * <p>An {@link Error} on one of these threads is recorded in the runtime's {@link RuntimeFailure}
 * (the runtime then stops draining and flushing) and ends that thread.
 */
public final class CacheRuntime implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(CacheRuntime.class);

  /** Name of the cache behind {@code cachedCounters()}. */
  static final String COUNTERS_CACHE = "spillway.counters";

  private final SpillwayConfig config;
  private final CacheSettings settings;
  private final InstantSource clock;
  private final Map<String, String> env;
  private final CacheKeys keys;
  private final CacheMeters meters;
  private final L2 l2;
  private final CounterReaders counterReaders;
  private final InvalidationBus bus;
  private final ScheduledExecutorService timer;
  private final ThreadPoolExecutor background;
  private final CounterInvalidator counterInvalidator;
  private final RuntimeFailure failure;
  private final DatabaseRelay relay;
  private final ForeignEvents foreign;
  private final Map<String, DefaultCacheAside<?, ?>> caches = new ConcurrentHashMap<>();
  private final Deque<AutoCloseable> resources;
  private final WaitingInvalidations waiting;
  private volatile AesGcmCodec environmentCodec;

  private CacheRuntime(
      SpillwayConfig config,
      RedisConnector client,
      InstantSource clock,
      MeterRegistry registry,
      Map<String, String> env,
      RuntimeFailure failure) {
    this.config = config;
    this.failure = failure;
    this.settings = config.cache();
    this.clock = clock;
    this.env = env;
    this.keys = new CacheKeys(settings.prefixFor(config.keyPrefix()));
    this.meters = new CacheMeters(registry);
    Deque<AutoCloseable> opened = new ArrayDeque<>();
    try {
      RedisLink<String, byte[]> data =
          client.connect(RedisCodec.of(StringCodec.UTF8, ByteArrayCodec.INSTANCE));
      opened.push(data);
      l2 = new L2(data.async(), settings.redisTimeout(), settings.redisRetryAfter());
      counterReaders = new CounterReaders(l2, keys, settings);
      waiting = new WaitingInvalidations(l2, keys, settings, meters, failure);
      timer = Executors.newSingleThreadScheduledExecutor(daemon("spillway-cache-timer"));
      opened.push(() -> Closeables.stop(timer, 5, TimeUnit.SECONDS));
      background =
          new ThreadPoolExecutor(
              2,
              2,
              30,
              TimeUnit.SECONDS,
              new ArrayBlockingQueue<>(1_000),
              daemon("spillway-cache-refresh"),
              new ThreadPoolExecutor.AbortPolicy());
      background.allowCoreThreadTimeOut(true);
      opened.push(() -> Closeables.stop(background, 5, TimeUnit.SECONDS));
      bus =
          new InvalidationBus(
              client,
              settings.channelFor(config.keyPrefix()),
              l2,
              meters,
              new Receiver(),
              settings.heartbeat(),
              settings.redisTimeout(),
              failure,
              InvalidationBus.QUEUE_CAPACITY);
      if (settings.foreignChannel() != null) {
        foreign = new ForeignEvents(this, settings.foreignChannel());
        bus.alsoSubscribe(settings.foreignChannel(), foreign::onMessage);
      } else {
        foreign = null;
      }
      bus.start(timer);
      opened.push(bus);
      if (foreign != null) {
        // Closed before the bus: events still arriving then are dropped, not applied on a
        // connection about to go.
        foreign.start();
        opened.push(foreign);
      }
      // Closed in reverse: the relay, then the counter invalidator (what it holds is sent, within
      // a bound, handing its messages to the bus), then the bus (it sends what it holds), and only
      // then the timer and the Redis connection. The other way round, the last flush's
      // invalidations were queued on a bus that had stopped, or sent on a connection already shut
      // down.
      counterInvalidator = new CounterInvalidator(this);
      opened.push(counterInvalidator);
      long retryMs = Math.max(200, settings.redisRetryAfter().toMillis());
      timer.scheduleWithFixedDelay(waiting::retry, retryMs, retryMs, TimeUnit.MILLISECONDS);
      if (settings.listenDatabase()) {
        relay = new DatabaseRelay(config, this, meters);
        relay.start();
        opened.push(relay);
      } else {
        relay = null;
      }
    } catch (RuntimeException e) {
      Closeables.closeAll(opened, log, "cache_close_failed");
      throw e;
    }
    this.resources = opened;
  }

  /** Opens the cache side of a runtime on {@code client} (which the caller owns and shuts down). */
  public static CacheRuntime start(
      SpillwayConfig config,
      RedisConnector client,
      InstantSource clock,
      MeterRegistry registry,
      Map<String, String> env,
      RuntimeFailure failure) {
    return new CacheRuntime(config, client, clock, registry, env, failure);
  }

  /** A builder for a cache of this runtime. */
  public <K, V> CacheAside.Builder<K, V> builder(
      String name, Class<K> keyType, Class<V> valueType) {
    return new CacheAside.Builder<>(this, name, keyType, valueType);
  }

  /**
   * The cached view of counter totals, reading PostgreSQL through {@code flushedTotal} on a miss.
   */
  public CachedCounters cachedCounters(ToLongBiFunction<String, String> flushedTotal) {
    return new DefaultCachedCounters(this, flushedTotal);
  }

  /**
   * Called by the flusher after it acknowledged batches, on the flushing thread: queues the
   * eviction of every applied counter key from L2 and from every instance's L1, so cached counter
   * reads see the flush. Never waits; past {@code cache.counters-invalidation-queue} cells, one
   * purge replaces the queue (see {@link CounterInvalidator}).
   */
  public void countersApplied(AppliedCounters applied) {
    counterInvalidator.countersApplied(applied);
  }

  CacheSettings settings() {
    return settings;
  }

  SpillwayConfig config() {
    return config;
  }

  InstantSource clock() {
    return clock;
  }

  CounterReaders counterReaders() {
    return counterReaders;
  }

  L2 l2() {
    return l2;
  }

  CacheKeys keys() {
    return keys;
  }

  CacheMeters meters() {
    return meters;
  }

  InvalidationBus bus() {
    return bus;
  }

  Executor background() {
    return background;
  }

  /** The AES-GCM keys from the environment, read once, on first use. */
  AesGcmCodec environmentCodec() {
    AesGcmCodec c = environmentCodec;
    if (c == null) {
      c = AesGcmCodec.fromEnvironment(env, settings.encryptionKeysEnv());
      environmentCodec = c;
    }
    return c;
  }

  void register(DefaultCacheAside<?, ?> cache) {
    if (caches.putIfAbsent(cache.name(), cache) != null) {
      throw new IllegalStateException(
          "a cache named '" + cache.name() + "' already exists in this Spillway runtime");
    }
  }

  DefaultCacheAside<?, ?> cache(String name) {
    return caches.get(name);
  }

  /** The caches built on this runtime so far. */
  Collection<DefaultCacheAside<?, ?>> caches() {
    return caches.values();
  }

  void publish(BusMessage.Item item) {
    meters.invalidationsSent.increment();
    bus.publish(item);
  }

  /** Deletes the entry and moves its generation in Redis; retried later if Redis is away. */
  void invalidateInRedis(String cache, String k) {
    if (!l2.invalidate(
        keys.entry(cache, k), keys.invalidations(cache, k), settings.maxLoadTime())) {
      retryLater(new BusMessage.Item(BusMessage.Kind.KEY, cache, k));
    }
  }

  void bumpTagInRedis(String cache, String tag) {
    if (l2.bumpTag(keys.tagSequence(cache), keys.tag(cache, tag), settings.tagTtl()) == null) {
      retryLater(new BusMessage.Item(BusMessage.Kind.TAG, cache, tag));
    }
  }

  /**
   * A full invalidation by name, for sources that hold no cache object (the database relay, a
   * worker without caches): this runtime's L1 if it has the cache, L2, and the bus.
   */
  void invalidateByName(BusMessage.Item item) {
    DefaultCacheAside<?, ?> local = caches.get(item.cache());
    switch (item.kind()) {
      case KEY -> {
        if (local != null) {
          local.invalidateLocal(item.value());
        }
        invalidateInRedis(item.cache(), item.value());
      }
      case TAG -> {
        if (local != null) {
          local.invalidateTagLocal(item.value());
        }
        bumpTagInRedis(item.cache(), item.value());
      }
      case CLEAR -> new Receiver().onItems(List.of(item));
    }
    publish(item);
  }

  /** Purges {@code cache}'s L2 entries on the timer, once Redis answers. */
  void purgeWhenRedisReturns(String cache) {
    waiting.purgeWhenRedisReturns(cache);
  }

  void retryLater(BusMessage.Item item) {
    waiting.retryLater(item);
  }

  /** Invalidations still waiting for Redis (for tests and metrics). */
  int pendingInvalidations() {
    return waiting.size();
  }

  /** Routes bus messages to this runtime's caches. */
  private final class Receiver implements InvalidationBus.Receiver {
    @Override
    public void onItems(List<BusMessage.Item> items) {
      for (BusMessage.Item i : items) {
        if (i.kind() == BusMessage.Kind.CLEAR) {
          if ("*".equals(i.cache())) {
            caches.values().forEach(DefaultCacheAside::clearLocal);
          } else if (caches.get(i.cache()) != null) {
            caches.get(i.cache()).clearLocal();
          }
          continue;
        }
        DefaultCacheAside<?, ?> c = caches.get(i.cache());
        if (c == null) {
          continue;
        }
        if (i.kind() == BusMessage.Kind.KEY) {
          c.invalidateLocal(i.value());
        } else {
          c.invalidateTagLocal(i.value());
        }
      }
    }

    @Override
    public void clearAll(String why) {
      caches.values().forEach(DefaultCacheAside::clearLocal);
    }
  }

  @Override
  public void close() {
    Closeables.closeAll(resources, log, "cache_close_failed");
  }

  /** Daemon threads that record an Error (see {@link RuntimeFailure}) before they die. */
  private ThreadFactory daemon(String name) {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t =
          new Thread(
              () -> {
                try {
                  r.run();
                } catch (Error e) {
                  failure.record(Thread.currentThread().getName(), e);
                  throw e;
                }
              },
              name + "-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }

  RuntimeFailure failure() {
    return failure;
  }

  /** How long the invalidation guard lives; exposed for the relay's log line. */
  Duration maxLoadTime() {
    return settings.maxLoadTime();
  }
}
