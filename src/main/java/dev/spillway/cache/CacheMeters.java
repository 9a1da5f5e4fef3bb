package dev.spillway.cache;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;

/**
 * The cache's meters. Names are dotted with base units; the only tags are the cache name (caches
 * are declared in code, so bounded), the level and the outcome. Per-cache meters live in {@link
 * PerCache}; the bus and the database relay are counted once per runtime.
 */
final class CacheMeters {
  private final MeterRegistry registry;
  final Counter invalidationsSent;
  final Counter invalidationsReceived;
  final Counter messagesPublished;
  final Counter messagesReceived;
  final Counter publishFailures;
  final Counter l1ClearsDisconnect;
  final Counter l1ClearsResubscribe;
  final Counter l1ClearsHeartbeat;
  final Counter relayNotifications;
  final Counter relayReconnects;
  final Counter invalidationsRetried;
  final Counter counterInvalidationsDropped;
  final Counter counterInvalidationsSkipped;
  final Counter counterPurges;
  final Counter busItemsCollapsed;
  final Counter foreignApplied;
  final Counter foreignMalformed;
  final Counter foreignUnknown;
  final Counter foreignOverflow;

  CacheMeters(MeterRegistry registry) {
    this.registry = registry;
    invalidationsSent =
        counter(
            "spillway.cache.invalidations",
            "direction",
            "sent",
            "Keys and tags invalidated by this runtime and published on the bus");
    invalidationsReceived =
        counter(
            "spillway.cache.invalidations",
            "direction",
            "received",
            "Keys and tags received from other runtimes on the bus");
    messagesPublished =
        counter(
            "spillway.cache.bus.messages",
            "direction",
            "published",
            "Bus messages published (each batches many invalidations)");
    messagesReceived =
        counter(
            "spillway.cache.bus.messages",
            "direction",
            "received",
            "Bus messages received from other runtimes");
    publishFailures =
        counter(
            "spillway.cache.bus.publish.failures",
            null,
            null,
            "Bus messages that could not be published (the subscribers' L1 TTL bounds the damage)");
    l1ClearsDisconnect =
        counter(
            "spillway.cache.l1.clears",
            "reason",
            "disconnected",
            "Every L1 cleared because the bus subscription dropped");
    l1ClearsResubscribe =
        counter(
            "spillway.cache.l1.clears",
            "reason",
            "resubscribed",
            "Every L1 cleared because the bus subscription was re-established");
    l1ClearsHeartbeat =
        counter(
            "spillway.cache.l1.clears",
            "reason",
            "heartbeat",
            "Every L1 cleared because the bus did not deliver its own heartbeat");
    relayNotifications =
        counter(
            "spillway.cache.relay.notifications",
            null,
            null,
            "Database NOTIFYs relayed to the bus");
    relayReconnects =
        counter(
            "spillway.cache.relay.reconnects",
            null,
            null,
            "Times the database LISTEN connection was re-established");
    invalidationsRetried =
        counter(
            "spillway.cache.invalidations.retried",
            null,
            null,
            "Invalidations that reached Redis only on a retry, after Redis was unavailable");
    counterInvalidationsDropped =
        counter(
            "spillway.cache.counters.invalidations.dropped",
            null,
            null,
            "Flushed counter cells whose invalidation was dropped for a purge (queue full)");
    counterInvalidationsSkipped =
        counter(
            "spillway.cache.counters.invalidations.skipped",
            null,
            null,
            "Flushed counter cells not invalidated because no runtime reads counters through the"
                + " cache");
    counterPurges =
        counter(
            "spillway.cache.counters.purges",
            null,
            null,
            "Purges of every cached counter read (L2, this L1, every L1 via the bus)");
    busItemsCollapsed =
        counter(
            "spillway.cache.bus.items.collapsed",
            null,
            null,
            "Bus items dropped because the publish queue was full; one CLEAR per cache went"
                + " instead");
    foreignApplied =
        counter(
            "spillway.cache.foreign.events",
            "outcome",
            "applied",
            "Invalidation events from other services applied (L2 and this L1)");
    foreignMalformed =
        counter(
            "spillway.cache.foreign.events",
            "outcome",
            "malformed",
            "Events on the foreign channel ignored: not JSON, too large, missing fields, bad key");
    foreignUnknown =
        counter(
            "spillway.cache.foreign.events",
            "outcome",
            "unknown",
            "Events ignored because their entity or cache is not declared here");
    foreignOverflow =
        counter(
            "spillway.cache.foreign.events",
            "outcome",
            "overflow",
            "Events that found the queue full; their caches were purged instead (L2 and this L1)");
  }

  private Counter counter(String name, String tag, String value, String description) {
    Counter.Builder b = Counter.builder(name).description(description);
    if (tag != null) {
      b.tag(tag, value);
    }
    return b.register(registry);
  }

  PerCache forCache(String cache) {
    return new PerCache(registry, cache);
  }

  /** Meters of one cache, tagged {@code cache=<name>}. */
  static final class PerCache {
    final Counter l1Hits;
    final Counter l1Misses;
    final Counter l2Hits;
    final Counter l2Misses;
    final Counter loads;
    final Counter loadFailures;
    final Timer loadDuration;
    final Counter coalesced;
    final Counter leaseWaits;
    final Counter staleServed;
    final Counter earlyRefreshes;
    final Counter oversize;
    final Counter unreadable;
    final Counter writesRefused;
    final Counter puts;
    final Counter redisErrors;
    final Counter redisBypassed;

    PerCache(MeterRegistry r, String cache) {
      l1Hits = get(r, cache, "l1", "hit");
      l1Misses = get(r, cache, "l1", "miss");
      l2Hits = get(r, cache, "l2", "hit");
      l2Misses = get(r, cache, "l2", "miss");
      loads =
          c(r, "spillway.cache.loads", cache, "outcome", "success", "Loader calls that returned");
      loadFailures =
          c(r, "spillway.cache.loads", cache, "outcome", "failure", "Loader calls that threw");
      loadDuration =
          Timer.builder("spillway.cache.load.duration")
              .tag("cache", cache)
              .description("Time the loader took")
              .register(r);
      coalesced =
          c(
              r,
              "spillway.cache.coalesced",
              cache,
              null,
              null,
              "Gets that waited for a load already running in this JVM instead of loading");
      leaseWaits =
          c(
              r,
              "spillway.cache.lease.waits",
              cache,
              null,
              null,
              "Misses that waited because another instance held the load lease");
      staleServed =
          c(
              r,
              "spillway.cache.stale.served",
              cache,
              null,
              null,
              "Values served after their TTL, within the stale-while-revalidate window");
      earlyRefreshes =
          c(
              r,
              "spillway.cache.early.refreshes",
              cache,
              null,
              null,
              "Background reloads started before the TTL (XFetch)");
      oversize =
          c(
              r,
              "spillway.cache.oversize",
              cache,
              null,
              null,
              "Values larger than max-value-bytes: served, not cached");
      unreadable =
          c(
              r,
              "spillway.cache.l2.unreadable",
              cache,
              null,
              null,
              "L2 entries of another schema version, damaged, or sealed by an unknown key"
                  + " (misses)");
      writesRefused =
          c(
              r,
              "spillway.cache.l2.writes.refused",
              cache,
              null,
              null,
              "Loaded or written-through values not cached because their key or a tag was"
                  + " invalidated (or written by another writer) meanwhile");
      puts =
          c(
              r,
              "spillway.cache.puts",
              cache,
              null,
              null,
              "Values written through put or writeThrough and cached (a put that could not be"
                  + " cached invalidates the key instead)");
      redisErrors =
          c(
              r,
              "spillway.cache.redis.errors",
              cache,
              null,
              null,
              "Cache reads or writes that failed or passed their time box");
      redisBypassed =
          c(
              r,
              "spillway.cache.redis.bypassed",
              cache,
              null,
              null,
              "Cache reads that skipped Redis because it failed recently (loader answered)");
    }

    private static Counter get(MeterRegistry r, String cache, String level, String result) {
      return Counter.builder("spillway.cache.gets")
          .tag("cache", cache)
          .tag("level", level)
          .tag("result", result)
          .description("Cache lookups by level and result")
          .register(r);
    }

    private static Counter c(
        MeterRegistry r, String name, String cache, String tag, String value, String description) {
      Counter.Builder b = Counter.builder(name).tag("cache", cache).description(description);
      if (tag != null) {
        b.tag(tag, value);
      }
      return b.register(r);
    }
  }
}
