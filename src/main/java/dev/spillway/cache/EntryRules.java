package dev.spillway.cache;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What one cache's entries hold and how long they live: the tag versions an entry records, the
 * bytes its value becomes, its life in Redis with jitter. Shared by the loads ({@link LeasedFetch})
 * and the writes ({@link WriteThrough}), so both store entries that the readers judge the same way.
 */
final class EntryRules<K, V> {
  private static final Logger log = LoggerFactory.getLogger(DefaultCacheAside.class);

  private final DefaultCacheAside<K, V> cache;
  private final String name;
  private final Function<? super V, ? extends Collection<String>> tagsOf;
  private final ValueSerializer<V> serializer;
  private final AesGcmCodec codec;
  private final int schemaVersion;
  private final long ttlMillis;
  private final long negativeTtlMillis;
  private final int jitterPercent;
  private final long swrMillis;
  private final int maxValueBytes;
  private final L2 l2;
  private final CacheKeys keys;
  private final CacheMeters.PerCache meters;
  private volatile boolean oversizeWarned;

  EntryRules(DefaultCacheAside<K, V> cache, CacheAside.Builder<K, V> b) {
    this.cache = cache;
    this.name = cache.name;
    this.tagsOf = b.tags;
    this.serializer = b.serializer;
    this.codec = b.codec;
    this.schemaVersion = b.schemaVersion;
    this.ttlMillis = b.ttl.toMillis();
    this.negativeTtlMillis = b.negativeTtl.toMillis();
    this.jitterPercent = b.ttlJitterPercent;
    this.swrMillis = b.staleWhileRevalidate.toMillis();
    this.maxValueBytes = b.maxValueBytes;
    this.l2 = cache.l2;
    this.keys = cache.keys;
    this.meters = cache.meters;
  }

  /** Whether values of this cache carry tags. */
  boolean tagged() {
    return tagsOf != null;
  }

  /**
   * The tag versions an entry of {@code v} records: empty when {@code v} is null or the cache has
   * no tags; null when {@code v} must not be cached, because Redis failed (caching without the
   * versions could outlive a tag invalidation) or a tag moved past {@code tagSequence} (what was
   * read may predate that change). Each null is counted. Shared by loads and {@link WriteThrough}.
   */
  Map<String, Long> tagVersions(V v, long tagSequence) {
    if (v == null || tagsOf == null) {
      return Map.of();
    }
    List<String> tags = new ArrayList<>(new LinkedHashSet<>(tagsOf.apply(v)));
    List<String> tagKeys = new ArrayList<>(tags.size());
    for (String t : tags) {
      tagKeys.add(keys.tag(name, cache.keyRules.checkTag(t)));
    }
    long[] versions = l2.versions(tagKeys);
    if (versions == null) {
      meters.redisErrors.increment();
      return null;
    }
    Map<String, Long> tv = new LinkedHashMap<>();
    for (int i = 0; i < tags.size(); i++) {
      if (versions[i] > tagSequence) {
        meters.writesRefused.increment();
        return null;
      }
      tv.put(tags.get(i), versions[i]);
    }
    return tv;
  }

  /**
   * The bytes to cache for {@code v} (empty for null), or null when it must not be cached: the
   * serializer failed, or the bytes exceed {@code maxValueBytes} (logged once, counted).
   */
  byte[] payload(V v) {
    byte[] payload;
    try {
      payload = v == null ? new byte[0] : serializer.write(v);
    } catch (Exception e) {
      log.warn(
          "event=cache_serialize_failed cache={} error=\"{}\" action=served_not_cached",
          name,
          e.toString());
      return null;
    }
    if (payload.length > maxValueBytes) {
      meters.oversize.increment();
      if (!oversizeWarned) {
        oversizeWarned = true;
        log.warn(
            "event=cache_value_too_large cache={} bytes={} max={} action=served_not_cached",
            name,
            payload.length,
            maxValueBytes);
      }
      return null;
    }
    return payload;
  }

  /** A new entry's life in L2 before jitter is added: the TTL, or the negative TTL for null. */
  long life(V v) {
    return jittered(v == null ? negativeTtlMillis : ttlMillis);
  }

  /** How long past its freshness an entry stays in Redis (the stale-while-revalidate window). */
  long staleWindowMillis() {
    return swrMillis;
  }

  int schemaVersion() {
    return schemaVersion;
  }

  AesGcmCodec codec() {
    return codec;
  }

  private long jittered(long millis) {
    if (jitterPercent == 0) {
      return millis;
    }
    return millis
        + (long) (millis * (jitterPercent / 100.0) * ThreadLocalRandom.current().nextDouble());
  }
}
