package dev.spillway.layout;

/**
 * The name of a cell inside a stripe hash: {@code counter|buckets|key}.
 *
 * <ul>
 *   <li>{@code buckets} is empty for a total-only counter ({@code page_views||42}); otherwise the
 *       granularity letters the counter keeps ({@code m}, {@code h}, {@code d}) followed by the
 *       event time as epoch minutes, truncated to the finest of them ({@code hd29402280}). The
 *       flusher fans one cell out into the total and one row per granularity, so an event costs one
 *       HINCRBY whatever the counter keeps, and the cell is self-describing: a worker needs no
 *       counter configuration to apply it.
 *   <li>Neither a counter name nor the bucket part contains {@code |}, so splitting at the first
 *       two is unambiguous however many {@code |} the key holds.
 *   <li>A field starting with {@code !} is a delta Redis refused to add (the cell would have
 *       overflowed a 64-bit integer); the drain script stored it verbatim under a unique name so
 *       that the flusher sends it to dead_letter instead of it being lost.
 * </ul>
 */
public final class CellField {
  public static final char SEP = '|';

  private CellField() {}

  public static String totalOnlyPrefix(String counter) {
    return counter + "||";
  }

  /** Latest event minute a cell may carry: 9999-12-31T23:59Z (PostgreSQL takes far more). */
  public static final long MAX_EPOCH_MINUTE = 253402300799L / 60;

  /** The cell name of a parsed cell (the inverse of {@link #parse}). */
  public static String format(CellDelta c) {
    return c.bucketCodes().isEmpty()
        ? totalOnlyPrefix(c.counter()) + c.key()
        : bucketed(c.counter(), c.bucketCodes(), c.epochMinute(), c.key());
  }

  /** The cell name of an increment of a bucketed counter: {@code counter|codes<minute>|key}. */
  public static String bucketed(String counter, String codes, long epochMinute, String key) {
    return counter + SEP + codes + epochMinute + SEP + key;
  }

  /** Parses one field and its value into a cell, or a rejection naming what is wrong. */
  public static Object parse(String field, String value) {
    if (field.startsWith("!")) {
      int p = field.indexOf(SEP);
      Object inner = p < 0 ? null : parse(field.substring(p + 1), value);
      if (inner instanceof CellDelta c) {
        return new RejectedCell(
            c.counter(),
            c.key(),
            field,
            value,
            "Redis refused HINCRBY: the pending cell would overflow a 64-bit integer (or held a"
                + " non-integer); replay applies it to the total and its buckets");
      }
      return new RejectedCell(
          null, null, field, value, "Redis refused HINCRBY and the cell name is malformed");
    }
    int p1 = field.indexOf(SEP);
    int p2 = p1 < 0 ? -1 : field.indexOf(SEP, p1 + 1);
    if (p1 <= 0 || p2 < 0 || p2 == field.length() - 1) {
      return new RejectedCell(null, null, field, value, "cell name is not counter|buckets|key");
    }
    String counter = field.substring(0, p1);
    String key = field.substring(p2 + 1);
    if (key.indexOf('\u0000') >= 0) {
      // PostgreSQL text cannot hold NUL; Spillway's client never writes one (keys are checked),
      // so this is foreign data. Refuse it here rather than let it fail the whole batch.
      return new RejectedCell(counter, null, field, value, "key contains a NUL character");
    }
    long delta;
    try {
      delta = Long.parseLong(value);
    } catch (NumberFormatException e) {
      return new RejectedCell(counter, key, field, value, "value is not a 64-bit integer");
    }
    if (p2 == p1 + 1) {
      return new CellDelta(counter, key, "", 0, delta);
    }
    int i = p1 + 1;
    while (i < p2 && "mhd".indexOf(field.charAt(i)) >= 0) {
      i++;
    }
    if (i == p1 + 1 || i == p2) {
      return new RejectedCell(
          counter,
          key,
          field,
          value,
          "bucket part must be granularity letters (m, h, d) followed by epoch minutes");
    }
    try {
      long minute = Long.parseLong(field, i, p2, 10);
      if (minute < 0 || minute > MAX_EPOCH_MINUTE) {
        return new RejectedCell(
            counter,
            key,
            field,
            value,
            "event minute " + minute + " is outside 1970-01-01..9999-12-31");
      }
      return new CellDelta(counter, key, field.substring(p1 + 1, i), minute, delta);
    } catch (NumberFormatException e) {
      return new RejectedCell(
          counter, key, field, value, "bucket part must end with the event time in epoch minutes");
    }
  }

  /** True when {@code field} is a cell of (counter, key), whatever its buckets. */
  public static boolean belongsTo(String field, String counter, String key) {
    int n = counter.length();
    if (field.length() < n + 2 + key.length()
        || !field.startsWith(counter)
        || field.charAt(n) != SEP) {
      return false;
    }
    int p2 = field.indexOf(SEP, n + 1);
    return p2 >= 0 && field.length() - p2 - 1 == key.length() && field.startsWith(key, p2 + 1);
  }
}
