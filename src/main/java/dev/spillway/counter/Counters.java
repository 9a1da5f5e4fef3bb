package dev.spillway.counter;

import java.time.Instant;

/**
 * The embedded counter client. {@code increment} is memory-speed and thread-safe: it adds to a
 * local cell that a background thread sends to Redis every {@code client.drain-interval}; the
 * flusher later moves it to PostgreSQL exactly once.
 *
 * <p>Hazard: increments still in the local buffer die with the process on {@code kill -9} (at most
 * one drain interval's worth, or more while Redis is unreachable). {@link #flush()} returns only
 * when Redis has acknowledged everything buffered before the call.
 */
public interface Counters {
  /** Adds 1 to (counter, key). */
  default void increment(String counter, String key) {
    increment(counter, key, 1);
  }

  /**
   * Adds {@code delta} (negative allowed) to (counter, key), at the current time.
   *
   * @throws IllegalArgumentException when the counter name or key breaks its rule (the message
   *     names it)
   * @throws dev.spillway.BufferFullException when the local buffer is full and the overflow policy
   *     says so
   */
  void increment(String counter, String key, long delta);

  /** Adds {@code delta} at {@code eventTime}: the buckets (if the counter keeps any) use it. */
  void increment(String counter, String key, long delta, Instant eventTime);

  /** Sends the local buffer to Redis; returns when Redis acknowledged it. */
  void flush();

  /**
   * The exact value of (counter, key): the total flushed to PostgreSQL plus everything pending in
   * Redis (live and claimed batches), without double-counting a batch being applied concurrently.
   * Increments still in this process's local buffer are not included; call {@link #flush()} first
   * to see them.
   *
   * @throws dev.spillway.SpillwayException when Redis or PostgreSQL fails, or a pending cell holds
   *     something other than a 64-bit integer (the message names the counter, key, hash and field)
   */
  long get(String counter, String key);

  /**
   * What Redis holds of (counter, key) that a flush has not yet acknowledged: its live cells plus
   * the claimed batches. Needs only Redis, so it answers while PostgreSQL is away; it is not the
   * exact value (that is {@link #get}): the flushed total is missing, and a batch applied to
   * PostgreSQL but not yet acknowledged in Redis is counted here too. Increments still in this
   * process's local buffer are not included.
   *
   * @throws dev.spillway.SpillwayException when Redis fails, or a cell holds something other than a
   *     64-bit integer (the message names the cell)
   */
  long pending(String counter, String key);

  /**
   * Cells buffered locally plus cells sent but not yet acknowledged by Redis (plus cells waiting
   * for a direct write to PostgreSQL). A cell counts twice while an older delta of it waits to be
   * acknowledged and a newer one is buffered: this measures work outstanding, not keys.
   */
  int pendingCells();
}
