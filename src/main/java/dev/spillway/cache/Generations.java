package dev.spillway.cache;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * In-JVM invalidation generations of one cache, so that a value read or loaded before an
 * invalidation (or a write-through put) is never put into L1 after it. A snapshot is taken before
 * the read; the L1 put checks it under the entry's lock and puts only if nothing moved. An
 * invalidation moves the generation before it evicts, so one racing the put either is seen by the
 * check or evicts after the put; a put of a newer value moves it before writing, so an older value
 * never replaces it.
 *
 * <p>Keys share 4,096 striped counters, so the memory is fixed whatever the key count; two keys on
 * one stripe only cost an occasional uncached load, never a stale one. Tag invalidations and L1
 * clears move the epoch, which every snapshot includes.
 */
final class Generations {
  private static final int STRIPES = 4096;
  private final AtomicLongArray stripes = new AtomicLongArray(STRIPES);
  private final AtomicLong epoch = new AtomicLong();

  /** Opaque snapshot of the key's stripe and the epoch. */
  long snapshot(String key) {
    // Both are monotonic; packing them into one long keeps the hot path allocation-free. A
    // collision would need 2^32 bumps between snapshot and check.
    return (stripes.get(index(key)) << 32) ^ epoch.get();
  }

  boolean unchanged(String key, long snapshot) {
    return snapshot(key) == snapshot;
  }

  void bump(String key) {
    stripes.incrementAndGet(index(key));
  }

  void bumpAll() {
    epoch.incrementAndGet();
  }

  private static int index(String key) {
    int h = key.hashCode();
    h ^= h >>> 16;
    h *= 0x85ebca6b;
    h ^= h >>> 13;
    return h & (STRIPES - 1);
  }
}
