package dev.spillway.client;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * Local pre-aggregation: one atomic sum per cell, so memory grows with distinct cells, not with
 * increments. Many threads {@link #add}; one drainer thread {@link #drain}s.
 *
 * <p>Correctness without locks rests on two rules:
 *
 * <ol>
 *   <li>Draining takes a cell's value with {@code getAndSet(0)}: every add lands either before (and
 *       is taken) or after (and stays for the next drain).
 *   <li>A cell idle for a few drains is retired by CAS from 0 to {@link #RETIRED} and then removed;
 *       an adder that finds a retired cell never adds to it, it retries on a fresh cell. So no add
 *       can land in a cell nobody will drain.
 * </ol>
 *
 * <p>A cell whose local sum would overflow a {@code long} is not an error: the old sum is moved to
 * a spill queue that the next drain sends as a separate delta, and the cell restarts at the new
 * delta.
 */
final class CellBuffer {
  /** Sentinel of a retired cell; a live sum can never hold it (see {@link #add}). */
  static final long RETIRED = Long.MIN_VALUE;

  private static final int IDLE_DRAINS_BEFORE_RETIRE = 3;

  static final class Cell {
    final String field;
    final int stripe;
    final AtomicLong value = new AtomicLong();
    int idleDrains; // drainer thread only

    Cell(String field, int stripe) {
      this.field = field;
      this.stripe = stripe;
    }
  }

  /** A delta on its way to Redis. */
  record Delta(int stripe, String field, long value) {}

  private final ConcurrentHashMap<String, Cell> cells = new ConcurrentHashMap<>(1024);
  private final ConcurrentLinkedQueue<Delta> spills = new ConcurrentLinkedQueue<>();
  private final LongAdder accepted = new LongAdder();

  /** Adds without any capacity check; {@code stripe} is used only if the cell is new. */
  void add(String field, int stripe, long delta) {
    tryAdd(field, stripe, delta, Integer.MAX_VALUE);
  }

  /**
   * Adds, unless that needs a new cell while the buffer already holds {@code maxCells}: then
   * nothing is added and the caller decides (wait, write elsewhere, or throw). The bound is checked
   * only when a cell is created, so the common case — adding to an existing cell — costs no size
   * computation.
   */
  boolean tryAdd(String field, int stripe, long delta, int maxCells) {
    for (; ; ) {
      Cell c = cells.get(field);
      if (c == null) {
        if (maxCells != Integer.MAX_VALUE && size() >= maxCells) {
          return false;
        }
        c = cells.computeIfAbsent(field, f -> new Cell(f, stripe));
      }
      long v = c.value.get();
      if (v == RETIRED) {
        cells.remove(field, c); // help the drainer; then retry on a fresh cell
        continue;
      }
      long n = v + delta;
      boolean overflow = ((v ^ n) & (delta ^ n)) < 0 || n == RETIRED;
      if (!overflow) {
        if (c.value.compareAndSet(v, n)) {
          accepted.increment();
          return true;
        }
        continue;
      }
      // Spill the old sum and the delta separately; the cell restarts from zero.
      if (c.value.compareAndSet(v, 0)) {
        if (v != 0) {
          spills.add(new Delta(c.stripe, field, v));
        }
        spills.add(new Delta(c.stripe, field, delta));
        accepted.increment();
        return true;
      }
    }
  }

  /**
   * Distinct cells held, pending or idle-but-not-yet-retired (approximate under concurrent change):
   * the memory the buffer uses, and what {@code client.max-pending-cells} bounds.
   */
  int size() {
    return cells.size() + (spills.isEmpty() ? 0 : spills.size()); // spills: O(n), rarely non-empty
  }

  /** Cells holding a delta not yet drained. O(cells): for gauges, not for the hot path. */
  int pending() {
    int n = spills.size();
    for (Cell c : cells.values()) {
      long v = c.value.get();
      if (v != 0 && v != RETIRED) {
        n++;
      }
    }
    return n;
  }

  long accepted() {
    return accepted.sum();
  }

  /**
   * Retires at once every cell that holds nothing (its sum was drained and delivered), instead of
   * after {@value #IDLE_DRAINS_BEFORE_RETIRE} idle drains: for when the buffer is at its bound, so
   * that delivered cells stop taking the room of pending ones. Same protocol as the idle path of
   * {@link #drain} (CAS from 0 to {@link #RETIRED}, then remove), so no add is lost. Drainer thread
   * only.
   */
  void retireIdle() {
    for (Cell c : cells.values()) {
      if (c.value.compareAndSet(0, RETIRED)) {
        cells.remove(c.field, c);
      }
    }
  }

  /** Takes every non-zero sum; retires cells idle for a while. Drainer thread only. */
  List<Delta> drain() {
    List<Delta> out = new ArrayList<>();
    for (Cell c : cells.values()) {
      long v = c.value.getAndSet(0);
      if (v != 0) {
        out.add(new Delta(c.stripe, c.field, v));
        c.idleDrains = 0;
      } else if (++c.idleDrains >= IDLE_DRAINS_BEFORE_RETIRE && c.value.compareAndSet(0, RETIRED)) {
        cells.remove(c.field, c);
      }
    }
    for (Delta d; (d = spills.poll()) != null; ) {
      out.add(d);
    }
    return out;
  }
}
