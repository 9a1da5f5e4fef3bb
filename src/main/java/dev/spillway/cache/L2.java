package dev.spillway.cache;

import io.lettuce.core.KeyScanCursor;
import io.lettuce.core.KeyValue;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.ScanCursor;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;

/**
 * The cache's Redis commands, each time-boxed. A call that fails or passes its time box returns
 * {@code null} (or {@code false}) instead of throwing, and trips a breaker: for {@code retryAfter}
 * every caller skips Redis and goes to the loader, so a dead or hung Redis costs one time box, not
 * one per request. Callers decide what a failure means; none is an error for a reader.
 *
 * <p>The scripts touch only keys of one hash tag (see {@link CacheKeys}), so they run on Redis
 * Cluster unchanged. Every key they write gets a TTL in the same script.
 */
final class L2 {
  private final RedisClusterAsyncCommands<String, byte[]> redis;
  private final long timeoutNanos;
  private final long retryAfterNanos;
  private volatile long unavailableUntil = Long.MIN_VALUE;
  private volatile boolean everFailed;

  L2(RedisClusterAsyncCommands<String, byte[]> redis, Duration timeout, Duration retryAfter) {
    this.redis = redis;
    this.timeoutNanos = timeout.toNanos();
    this.retryAfterNanos = retryAfter.toNanos();
  }

  /** False while the breaker is open: skip Redis, load. */
  boolean available() {
    return !everFailed || System.nanoTime() - unavailableUntil >= 0;
  }

  /** The raw envelope, {@link Absent#ABSENT} when there is none, null when Redis failed. */
  Object get(String key) {
    return await(redis.get(key), v -> v == null ? Absent.ABSENT : v);
  }

  /**
   * Makes {@code key} live at least {@code pxMillis} from now (never shortens it); false when Redis
   * failed.
   */
  boolean extend(String key, long pxMillis) {
    Long r =
        await(
            L2Scripts.EXTEND.evalsha(
                redis,
                ScriptOutputType.INTEGER,
                new String[] {key},
                bytes(Long.toString(pxMillis))),
            (Long v) -> v);
    return r != null;
  }

  /** Marker for "Redis answered: no such key" (null means Redis did not answer). */
  enum Absent {
    ABSENT
  }

  /** Values of several keys (null elements for absent keys); null when Redis failed. */
  List<byte[]> mget(List<String> keys) {
    if (keys.isEmpty()) {
      return List.of();
    }
    return await(
        redis.mget(keys.toArray(String[]::new)),
        kvs -> {
          List<byte[]> out = new ArrayList<>(kvs.size());
          for (KeyValue<String, byte[]> kv : kvs) {
            out.add(kv.hasValue() ? kv.getValue() : null);
          }
          return out;
        });
  }

  /** Current versions (0 when absent) of tag keys; null when Redis failed. */
  long[] versions(List<String> tagKeys) {
    List<byte[]> raw = mget(tagKeys);
    if (raw == null) {
      return null;
    }
    long[] out = new long[raw.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = parseLong(raw.get(i));
    }
    return out;
  }

  /**
   * Lease outcome and the key's generation at that moment; or, when asked to look and the entry
   * exists, the entry ({@code existing} non-null, nothing taken).
   */
  record Acquired(boolean acquired, String generation, byte[] existing) {}

  Acquired acquire(
      String leaseKey,
      String invKey,
      String entryKey,
      String token,
      Duration leaseTime,
      boolean unlessEntryExists) {
    return await(
        L2Scripts.ACQUIRE.evalsha(
            redis,
            ScriptOutputType.MULTI,
            new String[] {leaseKey, invKey, entryKey},
            bytes(token),
            bytes(Long.toString(leaseTime.toMillis())),
            bytes(unlessEntryExists ? "1" : "0")),
        (List<Object> r) ->
            ((Long) r.get(0)) == 2L
                ? new Acquired(false, "0", (byte[]) r.get(2))
                : new Acquired(((Long) r.get(0)) == 1L, string(r.get(1)), null));
  }

  /** TRUE written, FALSE refused (invalidated meanwhile), null when Redis failed. */
  Boolean write(
      String entryKey,
      String invKey,
      String leaseKey,
      byte[] envelope,
      long pxMillis,
      String generation,
      String token) {
    return await(
        L2Scripts.WRITE.evalsha(
            redis,
            ScriptOutputType.INTEGER,
            new String[] {entryKey, invKey, leaseKey},
            envelope,
            bytes(Long.toString(Math.max(1, pxMillis))),
            bytes(generation),
            bytes(token == null ? "" : token)),
        (Long r) -> r == 1L);
  }

  /**
   * Sets the envelope and moves the key's generation in one script; with {@code expectedGeneration}
   * non-null, only if the generation still is that. TRUE written, FALSE refused, null when Redis
   * failed.
   */
  Boolean put(
      String entryKey,
      String invKey,
      byte[] envelope,
      long pxMillis,
      String expectedGeneration,
      Duration generationLife) {
    return await(
        L2Scripts.PUT.evalsha(
            redis,
            ScriptOutputType.INTEGER,
            new String[] {entryKey, invKey},
            envelope,
            bytes(Long.toString(Math.max(1, pxMillis))),
            bytes(expectedGeneration == null ? "" : expectedGeneration),
            bytes(Long.toString(generationLife.toMillis()))),
        (Long r) -> r == 1L);
  }

  /** The key's new generation, held by this writer only; null when Redis failed. */
  String beginWrite(String invKey, Duration generationLife) {
    return await(
        L2Scripts.BEGIN_WRITE.evalsha(
            redis,
            ScriptOutputType.INTEGER,
            new String[] {invKey},
            bytes(Long.toString(generationLife.toMillis()))),
        (Long r) -> Long.toString(r));
  }

  void release(String leaseKey, String token) {
    if (token != null) {
      await(
          L2Scripts.RELEASE.evalsha(
              redis, ScriptOutputType.INTEGER, new String[] {leaseKey}, bytes(token)),
          r -> r);
    }
  }

  /** True when Redis applied the invalidation. */
  boolean invalidate(String entryKey, String invKey, Duration generationLife) {
    Long n =
        await(
            L2Scripts.INVALIDATE.evalsha(
                redis,
                ScriptOutputType.INTEGER,
                new String[] {entryKey, invKey},
                bytes(Long.toString(generationLife.toMillis()))),
            (Long r) -> r);
    return n != null;
  }

  /**
   * {@link #invalidate} for many keys, pipelined, all within one time box; true when Redis applied
   * every one.
   */
  boolean invalidateMany(
      List<String> entryKeys,
      List<String> invKeys,
      List<String> leaseKeys,
      Duration generationLife) {
    byte[] life = bytes(Long.toString(generationLife.toMillis()));
    List<CompletableFuture<Long>> futures = new ArrayList<>(entryKeys.size());
    for (int i = 0; i < entryKeys.size(); i++) {
      futures.add(
          L2Scripts.INVALIDATE_IF_CACHED.evalsha(
              redis,
              ScriptOutputType.INTEGER,
              new String[] {entryKeys.get(i), invKeys.get(i), leaseKeys.get(i)},
              life));
    }
    long deadline = System.nanoTime() + timeoutNanos + futures.size() * 20_000L;
    try {
      for (var f : futures) {
        f.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      }
      return true;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    } catch (ExecutionException | TimeoutException e) {
      trip();
      return false;
    }
  }

  /** The tag's new version, or null when Redis failed. */
  Long bumpTag(String seqKey, String tagKey, Duration tagTtl) {
    return await(
        L2Scripts.BUMP_TAG.evalsha(
            redis,
            ScriptOutputType.INTEGER,
            new String[] {seqKey, tagKey},
            bytes(Long.toString(tagTtl.toMillis()))),
        (Long r) -> r);
  }

  /** Receivers counted, or null when Redis failed. */
  Long publish(String channel, byte[] message) {
    return await(redis.publish(channel, message), r -> r);
  }

  /**
   * UNLINKs every key matching {@code pattern} (SCAN, never KEYS). For the rare purge of a cache
   * whose invalidations could not be delivered; returns false if Redis failed midway.
   */
  boolean unlinkMatching(String pattern) {
    ScanArgs args = ScanArgs.Builder.matches(pattern).limit(1000);
    ScanCursor cursor = ScanCursor.INITIAL;
    while (true) {
      KeyScanCursor<String> page = await(redis.scan(cursor, args), c -> c);
      if (page == null) {
        return false;
      }
      if (!page.getKeys().isEmpty()
          && await(redis.unlink(page.getKeys().toArray(String[]::new)), n -> n) == null) {
        return false;
      }
      if (page.isFinished()) {
        return true;
      }
      cursor = page;
    }
  }

  private <T, R> R await(RedisFuture<T> f, Function<T, R> map) {
    return await(f.toCompletableFuture(), map);
  }

  private <T, R> R await(CompletableFuture<T> f, Function<T, R> map) {
    try {
      return map.apply(f.get(timeoutNanos, TimeUnit.NANOSECONDS));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    } catch (ExecutionException | TimeoutException | RuntimeException e) {
      trip();
      return null;
    }
  }

  private void trip() {
    unavailableUntil = System.nanoTime() + retryAfterNanos;
    everFailed = true;
  }

  static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static String string(Object o) {
    return o instanceof byte[] b ? new String(b, StandardCharsets.UTF_8) : String.valueOf(o);
  }

  static long parseLong(byte[] b) {
    if (b == null) {
      return 0;
    }
    try {
      return Long.parseLong(new String(b, StandardCharsets.US_ASCII));
    } catch (NumberFormatException e) {
      return -1; // never a real version: a damaged tag key makes its entries misses
    }
  }
}
