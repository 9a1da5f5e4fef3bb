package dev.spillway.cache;

import dev.spillway.config.CacheSettings;
import dev.spillway.runtime.RuntimeFailure;
import dev.spillway.store.AppliedCounters;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Invalidates cached counter reads after flushes, on its own thread, from a bounded queue.
 *
 * <p>The flusher hands over a view of each flush's committed cells ({@link AppliedCounters}); the
 * queue holds at most {@code cache.counters-invalidation-queue} cells (100,000 by default). The
 * thread invalidates each distinct key in L2 ({@code INVALIDATE_IF_CACHED}, pipelined by chunks of
 * {@value #CHUNK}; only keys cached there or being loaded are touched), in this runtime's L1, and
 * in every other runtime's L1 through the bus.
 *
 * <p>When a flush does not fit, everything queued is dropped and one purge of every cached counter
 * read replaces it: the L2 entries of {@value CacheRuntime#COUNTERS_CACHE} (SCAN + UNLINK), this
 * runtime's L1, and every other runtime's L1 through one CLEAR on the bus. A flush arriving while a
 * purge waits is covered by it (the purge runs after that flush committed). So memory stays bounded
 * however fast flushes come, and cached counter reads stay correct; a value can outlive a purge
 * only through a load already in flight, bounded by {@code cache.counters-ttl}. Said once per
 * episode (at most once a minute) at WARN, counted in {@code
 * spillway.cache.counters.invalidations.dropped} and {@code spillway.cache.counters.purges}.
 */
final class CounterInvalidator implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(CounterInvalidator.class);

  /** Keys per pipelined round. */
  static final int CHUNK = 1_000;

  private final CacheRuntime runtime;
  private final CacheSettings settings;
  private final CacheMeters meters;
  private final CacheKeys keys;
  private final L2 l2;
  private final RuntimeFailure failure;
  private final Thread thread;
  private static final long WARN_INTERVAL_NANOS = TimeUnit.MINUTES.toNanos(1);
  // Guarded by counterQueue: views of flushed batches, their cells, a purge request that replaces
  // them when they do not fit, the overflow episode, its last WARN, and the close deadline.
  private long lastOverflowWarnNanos = System.nanoTime() - WARN_INTERVAL_NANOS;
  private final ArrayDeque<AppliedCounters> counterQueue = new ArrayDeque<>();
  private int counterQueueCells;
  private boolean counterPurgeRequested;
  private boolean counterQueueOverflowing;
  private long counterCellsDropped;
  private long closeDeadlineNanos = Long.MAX_VALUE;
  private boolean closing;

  CounterInvalidator(CacheRuntime runtime) {
    this.runtime = runtime;
    this.settings = runtime.settings();
    this.meters = runtime.meters();
    this.keys = runtime.keys();
    this.l2 = runtime.l2();
    this.failure = runtime.failure();
    this.thread =
        Thread.ofPlatform()
            .daemon()
            .name("spillway-cache-invalidator")
            .start(this::invalidatorLoop);
  }

  /** Queues {@code applied}, or turns it and the queue into one purge; never waits. */
  void countersApplied(AppliedCounters applied) {
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
      // Once per episode, and at most once a minute: under sustained overload an episode ends
      // and begins again every few flushes, and the meter counts every drop anyway.
      long now = System.nanoTime();
      firstOverflow =
          !counterQueueOverflowing && now - lastOverflowWarnNanos >= WARN_INTERVAL_NANOS;
      if (firstOverflow) {
        lastOverflowWarnNanos = now;
      }
      counterQueueOverflowing = true;
      counterQueue.notifyAll();
    }
    meters.counterInvalidationsDropped.increment(dropped);
    if (firstOverflow) {
      log.warn(
          "event=counter_invalidations_overflow queued_cells={} bound={}"
              + " action=purge_cached_counters detail=\"flushes outpace per-key invalidation;"
              + " cached counter reads are purged instead until the queue keeps up\"",
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
          if (closing
              && (System.nanoTime() - closeDeadlineNanos > 0
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
      if (System.nanoTime() - lastOverflowWarnNanos < WARN_INTERVAL_NANOS) {
        return; // the count goes on into the next line said
      }
      dropped = counterCellsDropped;
      counterCellsDropped = 0;
    }
    log.info("event=counter_invalidations_caught_up cells_dropped_for_purges={}", dropped);
  }

  /** Invalidates each distinct key of {@code applied}, a chunk per pipelined round. */
  private void invalidateCounters(AppliedCounters applied) {
    if (!runtime.counterReaders().anyone()) {
      meters.counterInvalidationsSkipped.increment(applied.cells());
      return; // nobody reads counters through the cache: nothing cached to invalidate
    }
    DefaultCacheAside<?, ?> local = runtime.cache(CacheRuntime.COUNTERS_CACHE);
    Set<String> seen = new HashSet<>(Math.min(applied.cells(), 1 << 20) * 2);
    List<String> chunk = new ArrayList<>(CHUNK);
    applied.forEach(
        (counter, key) -> {
          String k = DefaultCachedCounters.key(counter, key);
          if (seen.add(k)) {
            chunk.add(k);
            if (chunk.size() == CHUNK) {
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
      entries.add(keys.entry(CacheRuntime.COUNTERS_CACHE, k));
      gens.add(keys.invalidations(CacheRuntime.COUNTERS_CACHE, k));
      leases.add(keys.lease(CacheRuntime.COUNTERS_CACHE, k));
    }
    if (!l2.invalidateMany(entries, gens, leases, settings.maxLoadTime())) {
      for (String k : chunk) {
        runtime.retryLater(item(k)); // Redis did not answer: the L2 part again, later
      }
    }
    // Every key, cached in L2 or not: another runtime's L1 entry can outlive the L2 entry it came
    // from (by up to its L1 TTL), and a flushed increment should show everywhere right after its
    // flush. The bus batches them, and collapses them into one CLEAR when they do not fit.
    for (String k : chunk) {
      runtime.publish(item(k));
    }
  }

  private static BusMessage.Item item(String key) {
    return new BusMessage.Item(BusMessage.Kind.KEY, CacheRuntime.COUNTERS_CACHE, key);
  }

  /**
   * Drops every cached counter read: L2 first (so that no L1 refills from it), then this L1, then
   * every other runtime's L1 (one CLEAR on the bus). An L2 purge Redis refused is retried by the
   * timer.
   */
  private void purgeCounters() {
    if (!runtime.counterReaders().anyone()) {
      return;
    }
    meters.counterPurges.increment();
    if (!l2.unlinkMatching(keys.pattern(CacheRuntime.COUNTERS_CACHE))) {
      runtime.purgeWhenRedisReturns(CacheRuntime.COUNTERS_CACHE);
    }
    DefaultCacheAside<?, ?> local = runtime.cache(CacheRuntime.COUNTERS_CACHE);
    if (local != null) {
      local.clearLocal();
    }
    runtime.publish(new BusMessage.Item(BusMessage.Kind.CLEAR, CacheRuntime.COUNTERS_CACHE, null));
  }

  /**
   * Lets the invalidator finish what is queued within {@link InvalidationBus#DRAIN_TIMEOUT} (so the
   * last flush of a short-lived process, {@code spillway flush --once}, still reaches the other
   * instances; the queue's bound keeps that short), then ends it; what is left is said once and
   * bounded by {@code cache.counters-ttl}.
   */
  @Override
  public void close() throws InterruptedException {
    synchronized (counterQueue) {
      closing = true;
      closeDeadlineNanos = System.nanoTime() + InvalidationBus.DRAIN_TIMEOUT.toNanos();
      counterQueue.notifyAll();
    }
    // Past the deadline the thread stops between chunks; a chunk is time-boxed by redis-timeout.
    thread.join(
        InvalidationBus.DRAIN_TIMEOUT.toMillis() + settings.redisTimeout().toMillis() * 2 + 1_000);
    if (thread.isAlive()) {
      thread.interrupt();
      thread.join(1_000);
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
}
