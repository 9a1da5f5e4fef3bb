package dev.spillway.cache;

import dev.spillway.redis.RedisConnector;
import dev.spillway.redis.RedisLink;
import dev.spillway.CacheSettings;
import dev.spillway.SpillwayConfig;
import dev.spillway.RuntimeFailure;
import dev.spillway.counter.AppliedCounters;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.codec.StringCodec;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.ToLongBiFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cache side of one Spillway runtime: its Redis connection for cache entries, the
 * invalidation bus, the background refresh threads, the caches built on it and (optionally) the
 * database LISTEN relay. Created and closed by {@code Spillway}; applications use {@code
 * sw.cache(...)} and {@code sw.counters().cached()}, not this class.
 *
 * <p>An invalidation that cannot reach Redis (down, or past its time box) is kept and retried
 * every {@code cache.redis-retry-after} until it lands, so an L2 entry never outlives Redis'
 * return by more than that; past 100,000 waiting invalidations the affected caches are purged
 * (SCAN + UNLINK of their keys) once Redis answers again.
 *
 * <p>Counter invalidations (one per flushed cell) wait for the invalidator thread in a queue of at
 * most {@code cache.counters-invalidation-queue} cells (100,000 by default). A flush that does not fit drops what is queued
 * and asks for one purge of every cached counter read instead: the L2 entries of {@code
 * spillway.counters} (SCAN + UNLINK), this runtime's L1, and every other runtime's L1 through one
 * CLEAR on the bus. A flush arriving while a purge waits is covered by it. So memory stays bounded
 * however fast flushes come, and cached counter reads stay correct (a value cached before a
 * purge can outlive it only by a load already in flight, bounded by {@code cache.counters-ttl}).
 *
 * <p>An {@link Error} on one of these threads is recorded in the runtime's {@link RuntimeFailure}
 * (the runtime then stops draining and flushing) and ends that thread.
 */
public final class CacheRuntime implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(CacheRuntime.class);
  /** Name of the cache behind {@code counters().cached()}. */
  static final String COUNTERS_CACHE = "spillway.counters";
  private static final int MAX_PENDING_INVALIDATIONS = 100_000;
  /** Keys per pipelined round of counter invalidations. */
  private static final int INVALIDATION_CHUNK = 1_000;

  private final SpillwayConfig config;
  private final CacheSettings settings;
  private final InstantSource clock;
  private final Map<String, String> env;
  private final CacheKeys keys;
  private final CacheMeters meters;
  private final L2 l2;
  private final InvalidationBus bus;
  private final ScheduledExecutorService timer;
  private final ThreadPoolExecutor background;
  private final Thread invalidator;
  private final RuntimeFailure failure;
  private final DatabaseRelay relay;
  // The counter invalidation queue (guarded by itself): views of flushed batches, their cells, a
  // purge request that replaces them when they do not fit, and the close deadline.
  private final ArrayDeque<AppliedCounters> counterQueue = new ArrayDeque<>();
  private int counterQueueCells;
  private boolean counterPurgeRequested;
  private boolean counterQueueOverflowing;
  private long counterCellsDropped;
  private long closeDeadlineNanos = Long.MAX_VALUE;
  private boolean closing;
  private final Map<String, DefaultCacheAside<?, ?>> caches = new ConcurrentHashMap<>();
  private final ConcurrentLinkedQueue<BusMessage.Item> pending = new ConcurrentLinkedQueue<>();
  private final AtomicInteger pendingCount = new AtomicInteger();
  private final Set<String> purgeNeeded = ConcurrentHashMap.newKeySet();
  private final Deque<AutoCloseable> resources;
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
      timer = Executors.newSingleThreadScheduledExecutor(daemon("spillway-cache-timer"));
      opened.push(() -> stop(timer));
      background =
          new ThreadPoolExecutor(
              2, 2, 30, TimeUnit.SECONDS, new ArrayBlockingQueue<>(1_000),
              daemon("spillway-cache-refresh"), new ThreadPoolExecutor.AbortPolicy());
      background.allowCoreThreadTimeOut(true);
      opened.push(() -> stop(background));
      bus =
          new InvalidationBus(
              client, settings.channelFor(config.keyPrefix()), l2, meters, new Receiver(),
              settings.heartbeat(), settings.redisTimeout(), failure);
      bus.start(timer);
      opened.push(bus);
      // Closed before the bus: its last invalidations still get published.
      invalidator =
          Thread.ofPlatform().daemon().name("spillway-cache-invalidator").start(this::invalidatorLoop);
      opened.push(this::stopInvalidator);
      long retryMs = Math.max(200, settings.redisRetryAfter().toMillis());
      timer.scheduleWithFixedDelay(this::retryPending, retryMs, retryMs, TimeUnit.MILLISECONDS);
      if (settings.listenDatabase()) {
        relay = new DatabaseRelay(config, this, meters);
        relay.start();
        opened.push(relay);
      } else {
        relay = null;
      }
    } catch (RuntimeException e) {
      closeAll(opened);
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
  public <K, V> CacheAside.Builder<K, V> builder(String name, Class<K> keyType, Class<V> valueType) {
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
   * reads see the flush. Never waits: a view that does not fit in the queue ({@code
   * cache.counters-invalidation-queue} cells) replaces everything queued by one purge of all cached counter
   * reads (see the class comment). A lost invalidation leaves a value stale for at most {@code
   * cache.counters-ttl}.
   */
  public void countersApplied(AppliedCounters applied) {
    int cells = applied.cells();
    if (cells == 0) {
      return;
    }
    boolean firstOverflow = false;
    long dropped;
    synchronized (counterQueue) {
      if (closing) {
        return; // closing: the TTL bounds what is left
      }
      if (counterPurgeRequested) {
        // The purge runs after this flush committed, so it covers this flush too.
        counterCellsDropped += cells;
        meters.counterInvalidationsDropped.increment(cells);
        return;
      }
      if ((long) counterQueueCells + cells <= settings.countersInvalidationQueue()) {
        counterQueue.add(applied);
        counterQueueCells += cells;
        counterQueue.notifyAll();
        return;
      }
      dropped = (long) counterQueueCells + cells;
      counterQueue.clear();
      counterQueueCells = 0;
      counterPurgeRequested = true;
      counterCellsDropped += dropped;
      firstOverflow = !counterQueueOverflowing;
      counterQueueOverflowing = true;
      counterQueue.notifyAll();
    }
    meters.counterInvalidationsDropped.increment(dropped);
    if (firstOverflow) {
      // Once per episode: under sustained overload every flush would say it again.
      log.warn(
          "event=counter_invalidations_overflow queued_cells={} bound={} action=purge_cached_counters"
              + " detail=\"flushes outpace per-key invalidation; cached counter reads are purged"
              + " instead until the queue keeps up\"",
          dropped,
          settings.countersInvalidationQueue());
    }
  }

  private void invalidatorLoop() {
    try {
      while (true) {
        AppliedCounters next = null;
        boolean purge;
        synchronized (counterQueue) {
          while (!closing && !counterPurgeRequested && counterQueue.isEmpty()) {
            counterQueue.wait();
          }
          if (closing && (System.nanoTime() - closeDeadlineNanos > 0
              || (!counterPurgeRequested && counterQueue.isEmpty()))) {
            return;
          }
          purge = counterPurgeRequested;
          counterPurgeRequested = false;
          if (!purge) {
            next = counterQueue.poll();
            counterQueueCells -= next.cells();
          }
        }
        try {
          if (purge) {
            purgeCounters();
          } else {
            invalidateCounters(next);
            endOverflowEpisode();
          }
        } catch (RuntimeException e) {
          log.warn("event=counter_invalidation_error error=\"{}\"", e.toString());
        }
      }
    } catch (InterruptedException e) {
      // closing
    } catch (Error e) {
      failure.record(Thread.currentThread().getName(), e);
    }
  }

  private void endOverflowEpisode() {
    long dropped;
    synchronized (counterQueue) {
      if (!counterQueueOverflowing || counterPurgeRequested) {
        return;
      }
      counterQueueOverflowing = false;
      dropped = counterCellsDropped;
      counterCellsDropped = 0;
    }
    log.info("event=counter_invalidations_caught_up cells_dropped_for_purges={}", dropped);
  }

  /** Invalidates each distinct key of {@code applied}, a chunk per pipelined round. */
  private void invalidateCounters(AppliedCounters applied) {
    DefaultCacheAside<?, ?> local = caches.get(COUNTERS_CACHE);
    Set<String> seen = new HashSet<>(Math.min(applied.cells(), 1 << 20) * 2);
    List<String> chunk = new ArrayList<>(INVALIDATION_CHUNK);
    applied.forEach(
        (counter, key) -> {
          String k = DefaultCachedCounters.key(counter, key);
          if (seen.add(k)) {
            chunk.add(k);
            if (chunk.size() == INVALIDATION_CHUNK) {
              invalidateChunk(chunk, local);
              chunk.clear();
            }
          }
        });
    if (!chunk.isEmpty()) {
      invalidateChunk(chunk, local);
    }
  }

  private void invalidateChunk(List<String> chunk, DefaultCacheAside<?, ?> local) {
    synchronized (counterQueue) {
      if (closing && System.nanoTime() - closeDeadlineNanos > 0) {
        return; // out of time at close: the TTL bounds what is left
      }
    }
    List<String> entries = new ArrayList<>(chunk.size());
    List<String> gens = new ArrayList<>(chunk.size());
    List<String> leases = new ArrayList<>(chunk.size());
    for (String k : chunk) {
      if (local != null) {
        local.invalidateLocal(k);
      }
      entries.add(keys.entry(COUNTERS_CACHE, k));
      gens.add(keys.invalidations(COUNTERS_CACHE, k));
      leases.add(keys.lease(COUNTERS_CACHE, k));
    }
    long[] generations = l2.invalidateMany(entries, gens, leases, settings.maxLoadTime());
    for (int i = 0; i < chunk.size(); i++) {
      if (generations == null) {
        // Redis did not answer: retry the L2 part, and tell every runtime (we cannot know which
        // keys were cached).
        retryLater(new BusMessage.Item(BusMessage.Kind.KEY, COUNTERS_CACHE, chunk.get(i)));
        publish(new BusMessage.Item(BusMessage.Kind.KEY, COUNTERS_CACHE, chunk.get(i)));
      } else if (generations[i] != 0) {
        // Only keys cached in L2 (or being loaded) can sit in another runtime's L1: an L1 entry
        // comes from an L2 entry or a load, and lives no longer than counters-ttl.
        publish(new BusMessage.Item(BusMessage.Kind.KEY, COUNTERS_CACHE, chunk.get(i)));
      }
    }
  }

  /**
   * Drops every cached counter read: L2 first (so that no L1 refills from it), then this L1, then
   * every other runtime's L1 (one CLEAR on the bus). An L2 purge Redis refused is retried by the
   * timer.
   */
  private void purgeCounters() {
    meters.counterPurges.increment();
    if (!l2.unlinkMatching(keys.pattern(COUNTERS_CACHE))) {
      purgeNeeded.add(COUNTERS_CACHE);
    }
    DefaultCacheAside<?, ?> local = caches.get(COUNTERS_CACHE);
    if (local != null) {
      local.clearLocal();
    }
    publish(new BusMessage.Item(BusMessage.Kind.CLEAR, COUNTERS_CACHE, null));
  }

  /**
   * Lets the invalidator finish what is queued within {@code cache.redis-timeout}, then ends it;
   * what is left is said once and bounded by {@code cache.counters-ttl}.
   */
  private void stopInvalidator() throws InterruptedException {
    synchronized (counterQueue) {
      closing = true;
      closeDeadlineNanos = System.nanoTime() + settings.redisTimeout().toNanos();
      counterQueue.notifyAll();
    }
    invalidator.join(settings.redisTimeout().toMillis() * 2 + 1_000);
    if (invalidator.isAlive()) {
      invalidator.interrupt();
      invalidator.join(1_000);
    }
    int left;
    synchronized (counterQueue) {
      left = counterQueueCells + (counterPurgeRequested ? 1 : 0);
      counterQueue.clear();
      counterQueueCells = 0;
    }
    if (left > 0) {
      log.info(
          "event=cache_closed counter_invalidations_not_sent={} effect=\"cached counter reads"
              + " elsewhere may lag until cache.counters-ttl\"",
          left);
    }
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

  void publish(BusMessage.Item item) {
    meters.invalidationsSent.increment();
    bus.publish(item);
  }

  /** Deletes the entry and moves its generation in Redis; retried later if Redis is away. */
  void invalidateInRedis(String cache, String k) {
    if (!l2.invalidate(keys.entry(cache, k), keys.invalidations(cache, k), settings.maxLoadTime())) {
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

  private void retryLater(BusMessage.Item item) {
    if (pendingCount.incrementAndGet() > MAX_PENDING_INVALIDATIONS) {
      pendingCount.decrementAndGet();
      if (purgeNeeded.add(item.cache())) {
        log.error(
            "event=cache_invalidations_overflow cache={} action=purge_cache_when_redis_returns",
            item.cache());
      }
      return;
    }
    pending.add(item);
  }

  private void retryPending() {
    try {
      if (pending.isEmpty() && purgeNeeded.isEmpty()) {
        return;
      }
      for (String cache : List.copyOf(purgeNeeded)) {
        if (l2.unlinkMatching(keys.pattern(cache))) {
          purgeNeeded.remove(cache);
          log.warn("event=cache_purged cache={} reason=invalidations_overflowed", cache);
        } else {
          return;
        }
      }
      BusMessage.Item item;
      while ((item = pending.peek()) != null) {
        boolean ok =
            switch (item.kind()) {
              case KEY ->
                  l2.invalidate(
                      keys.entry(item.cache(), item.value()),
                      keys.invalidations(item.cache(), item.value()),
                      settings.maxLoadTime());
              case TAG ->
                  l2.bumpTag(
                          keys.tagSequence(item.cache()),
                          keys.tag(item.cache(), item.value()),
                          settings.tagTtl())
                      != null;
              case CLEAR -> true;
            };
        if (!ok) {
          return; // still away: try again next tick, in order
        }
        pending.poll();
        pendingCount.decrementAndGet();
        meters.invalidationsRetried.increment();
      }
    } catch (RuntimeException e) {
      log.warn("event=cache_retry_error error=\"{}\"", e.toString());
    } catch (Error e) {
      failure.record(Thread.currentThread().getName(), e);
      throw e;
    }
  }

  /** Invalidations still waiting for Redis (for tests and metrics). */
  int pendingInvalidations() {
    return pendingCount.get();
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
    closeAll(resources);
  }

  private static void closeAll(Deque<AutoCloseable> opened) {
    while (!opened.isEmpty()) {
      AutoCloseable c = opened.pop();
      try {
        c.close();
      } catch (Exception e) {
        log.warn("event=cache_close_failed resource={} error=\"{}\"", c, e.toString());
      }
    }
  }

  /** Ends an executor and waits for its threads, so none uses a connection closed after it. */
  private static void stop(java.util.concurrent.ExecutorService e) throws InterruptedException {
    e.shutdown();
    if (!e.awaitTermination(2, TimeUnit.SECONDS)) {
      e.shutdownNow();
      e.awaitTermination(2, TimeUnit.SECONDS);
    }
  }

  /** Daemon threads that record an Error (see {@link RuntimeFailure}) before they die. */
  private java.util.concurrent.ThreadFactory daemon(String name) {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(() -> {
        try {
          r.run();
        } catch (Error e) {
          failure.record(Thread.currentThread().getName(), e);
          throw e;
        }
      }, name + "-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }

  /** How long the invalidation guard lives; exposed for the relay's log line. */
  Duration maxLoadTime() {
    return settings.maxLoadTime();
  }
}
