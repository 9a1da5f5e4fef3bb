package dev.spillway.store;

import java.util.Arrays;

/**
 * The rows one transaction writes to {@code counter_totals} or {@code counter_buckets}, summed per
 * row and held column-wise in primitive arrays: no object per cell and no boxed sum. An
 * open-addressing table finds the row of (counter, key[, granularity, bucket start]); {@link #add}
 * refuses (returns false, leaving the row as it was) a delta that would take its row's sum beyond
 * the bigint range, so the caller dead-letters exactly that delta.
 *
 * <p>Rows keep the order they were first seen in; the upsert statement sorts them (lock order). Not
 * thread-safe.
 */
final class CellColumns {
  private final boolean buckets;
  private String[] counters;
  private String[] keys;
  private char[] grans;
  private long[] starts;
  private long[] sums;
  private int size;
  // Open addressing: slot -> row index + 1 (0 = empty).
  private int[] slots;

  CellColumns(boolean buckets, int expectedRows) {
    this.buckets = buckets;
    int cap = Math.max(16, expectedRows);
    counters = new String[cap];
    keys = new String[cap];
    sums = new long[cap];
    if (buckets) {
      grans = new char[cap];
      starts = new long[cap];
    }
    slots = new int[tableSize(cap)];
  }

  private static int tableSize(int rows) {
    return Integer.highestOneBit(Math.max(16, rows * 2 - 1)) << 1;
  }

  boolean buckets() {
    return buckets;
  }

  int size() {
    return size;
  }

  String counter(int i) {
    return counters[i];
  }

  String key(int i) {
    return keys[i];
  }

  char granularity(int i) {
    return grans[i];
  }

  long startSeconds(int i) {
    return starts[i];
  }

  long sum(int i) {
    return sums[i];
  }

  /** Adds to a total row. False when the row's sum would overflow (the row is unchanged). */
  boolean add(String counter, String key, long delta) {
    return add(counter, key, '\0', 0L, delta);
  }

  /** Adds to a row. False when the row's sum would overflow (the row is unchanged). */
  boolean add(String counter, String key, char gran, long start, long delta) {
    int h = hash(counter, key, gran, start);
    int mask = slots.length - 1;
    for (int s = h & mask; ; s = (s + 1) & mask) {
      int at = slots[s];
      if (at == 0) {
        append(s, counter, key, gran, start, delta);
        return true;
      }
      int i = at - 1;
      if (matches(i, counter, key, gran, start)) {
        long prev = sums[i];
        long sum = prev + delta;
        // Overflow iff both operands have the sign opposite to the result (Hacker's Delight 2-13).
        if (((prev ^ sum) & (delta ^ sum)) < 0) {
          return false;
        }
        sums[i] = sum;
        return true;
      }
    }
  }

  private boolean matches(int i, String counter, String key, char gran, long start) {
    return (!buckets || (grans[i] == gran && starts[i] == start))
        && keys[i].equals(key)
        && counters[i].equals(counter);
  }

  private int hash(String counter, String key, char gran, long start) {
    int h = counter.hashCode() * 31 + key.hashCode();
    if (buckets) {
      h = h * 31 + gran;
      h = h * 31 + Long.hashCode(start);
    }
    h = (h ^ (h >>> 16)) * 0x45d9f3b;
    return h ^ (h >>> 16);
  }

  private void append(int slot, String counter, String key, char gran, long start, long delta) {
    if (size == counters.length) {
      grow();
      // Rehashed: find the slot again.
      int mask = slots.length - 1;
      slot = hash(counter, key, gran, start) & mask;
      while (slots[slot] != 0) {
        slot = (slot + 1) & mask;
      }
    }
    counters[size] = counter;
    keys[size] = key;
    sums[size] = delta;
    if (buckets) {
      grans[size] = gran;
      starts[size] = start;
    }
    size++;
    slots[slot] = size;
  }

  private void grow() {
    int cap = counters.length * 2;
    counters = Arrays.copyOf(counters, cap);
    keys = Arrays.copyOf(keys, cap);
    sums = Arrays.copyOf(sums, cap);
    if (buckets) {
      grans = Arrays.copyOf(grans, cap);
      starts = Arrays.copyOf(starts, cap);
    }
    slots = new int[tableSize(cap)];
    int mask = slots.length - 1;
    for (int i = 0; i < size; i++) {
      int s =
          hash(counters[i], keys[i], buckets ? grans[i] : '\0', buckets ? starts[i] : 0L) & mask;
      while (slots[s] != 0) {
        s = (s + 1) & mask;
      }
      slots[s] = i + 1;
    }
  }

  /** The row of (counter, key[, granularity, start]), or -1. */
  int find(String counter, String key, char gran, long start) {
    int mask = slots.length - 1;
    for (int s = hash(counter, key, gran, start) & mask; ; s = (s + 1) & mask) {
      int at = slots[s];
      if (at == 0) {
        return -1;
      }
      if (matches(at - 1, counter, key, gran, start)) {
        return at - 1;
      }
    }
  }
}
