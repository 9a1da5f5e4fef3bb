package dev.spillway.report;

import dev.spillway.Granularity;
import dev.spillway.SpillwayConfig;
import dev.spillway.SpillwayException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Compacts expired rows of a level into the next coarser level when that level is filled by the
 * rollup ({@link CounterLevels.Fate#MOVE_UP}): minute rows older than the minute retention become
 * hour rows, hour rows older than the hour retention become day rows.
 *
 * <p><b>Exact, rerunnable, concurrent.</b> Each step is one statement: {@code DELETE … RETURNING}
 * the source rows of a chunk, sum them per target bucket, and add the sums to the target rows
 * ({@code INSERT … ON CONFLICT DO UPDATE SET value = value + excluded.value}). A row's value is
 * added exactly when the row is deleted, in the same transaction. A second run finds nothing left
 * to move; a concurrent run blocks on the row locks of the first and then finds the rows gone (READ
 * COMMITTED skips rows deleted under it). A flush of a late event into a moved bucket re-creates
 * the source row, which the next run moves too. No advisory lock is involved.
 *
 * <p><b>Never into a level the flusher writes.</b> When the counter's {@code buckets} include the
 * coarser level, the flusher has already counted every event there; the finer rows are duplicates
 * and {@link Retention} discards them instead. Because that decision rests on the configuration,
 * the rollup keeps a mark per counter and target level ({@code rollup_marks}: it has written target
 * rows only before {@code rolled_before}, advanced in the same transaction as the rows) and first
 * checks, in one snapshot, that no target row exists at or after the mark (anywhere, before its
 * first run). One that does was written by a flusher: a client configured differently, or a level
 * that used to be in {@code buckets}. The counter is then skipped with a reason and the fix, rather
 * than counted twice.
 *
 * <p>A sum that would overflow bigint rolls its chunk back (the rows stay where they were, so
 * reports stay exact) and is reported as skipped.
 */
public final class Rollup {
  private static final Logger log = LoggerFactory.getLogger(Rollup.class);

  /** One transaction moves at most one UTC day of one counter's level. */
  static final Duration CHUNK = Duration.ofDays(1);

  /**
   * What one run did.
   *
   * @param rowsMoved source rows deleted (their values added to target rows)
   * @param rowsWritten target rows inserted or updated
   * @param skipped one sentence per counter level left alone, and why
   */
  public record Result(long rowsMoved, long rowsWritten, List<String> skipped) {}

  private final DataSource dataSource;
  private final String schema;
  private final BucketPolicy policy;
  private final InstantSource clock;

  public Rollup(DataSource dataSource, SpillwayConfig config, InstantSource clock) {
    this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
    this.schema = config.schema();
    this.policy = BucketPolicy.of(config);
    this.clock = Objects.requireNonNull(clock, "clock");
  }

  public static Result run(DataSource dataSource, SpillwayConfig config, InstantSource clock) {
    return new Rollup(dataSource, config, clock).run();
  }

  /**
   * Moves every expired row of every rolled-up level, finest first (so minute rows moved into hours
   * this run can move on into days in the same run once old enough).
   *
   * @throws SpillwayException when PostgreSQL fails for a reason other than an overflow; chunks
   *     committed before stay moved
   */
  public Result run() {
    Instant now = clock.instant();
    long moved = 0;
    long written = 0;
    List<String> skipped = new ArrayList<>();
    for (CounterLevels cl : policy.all().values()) {
      for (CounterLevels.Level from : cl.levels()) {
        if (cl.fate(from.granularity()) != CounterLevels.Fate.MOVE_UP) {
          continue;
        }
        Granularity to = cl.coarser(from.granularity()).orElseThrow().granularity();
        Instant horizon = cl.horizon(from.granularity(), now).orElseThrow();
        Optional<String> refused = flusherWrites(cl.counter(), from.granularity(), to);
        if (refused.isPresent()) {
          skipped.add(refused.get());
          log.warn("event=rollup_skipped schema={} reason=\"{}\"", schema, refused.get());
          continue;
        }
        long[] counts = moveAll(cl.counter(), from.granularity(), to, horizon, skipped);
        moved += counts[0];
        written += counts[1];
      }
    }
    Result r = new Result(moved, written, List.copyOf(skipped));
    if (moved > 0 || !skipped.isEmpty()) {
      log.info(
          "event=rollup schema={} rows_moved={} rows_written={} skipped={}",
          schema,
          moved,
          written,
          skipped.size());
    }
    return r;
  }

  private Optional<String> flusherWrites(String counter, Granularity from, Granularity to) {
    String marks = Sql.table(schema, "rollup_marks");
    String sql =
        "SELECT (SELECT rolled_before FROM "
            + marks
            + " WHERE counter = ? AND granularity = '"
            + to.code()
            + "'),"
            + " (SELECT min(bucket_start) FROM "
            + Sql.table(schema, Partitions.PARENT)
            + " WHERE counter = ? AND granularity = '"
            + to.code()
            + "'"
            + " AND bucket_start >= coalesce((SELECT rolled_before FROM "
            + marks
            + " WHERE counter = ? AND granularity = '"
            + to.code()
            + "'), '-infinity'))";
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setString(1, counter);
      ps.setString(2, counter);
      ps.setString(3, counter);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        OffsetDateTime mark = rs.getObject(1, OffsetDateTime.class);
        OffsetDateTime first = rs.getObject(2, OffsetDateTime.class);
        if (first == null) {
          return Optional.empty();
        }
        return Optional.of(
            counter
                + ": not rolled up into "
                + to
                + ", because a "
                + to
                + " row exists at "
                + first.toInstant()
                + (mark == null
                    ? " and the rollup has never written " + to + " rows of " + counter
                    : ", at or after "
                        + mark.toInstant()
                        + " before which"
                        + " alone the rollup writes them")
                + ": the flusher writes "
                + to
                + " buckets"
                + " of "
                + counter
                + " (counters."
                + counter
                + ".buckets differs between processes,"
                + " or included "
                + to
                + " before), and moving "
                + from
                + " rows in would count"
                + " them twice. See \"Changing a counter's levels\" in the README");
      }
    } catch (SQLException e) {
      throw new SpillwayException(
          "rollup of " + counter + " in schema " + schema + " failed: " + Sql.message(e), e);
    }
  }

  /** Moves rows of {@code from} before {@code horizon}, one chunk per transaction. */
  private long[] moveAll(
      String counter, Granularity from, Granularity to, Instant horizon, List<String> skipped) {
    long[] total = new long[2];
    Instant cursor = Instant.parse("0001-01-01T00:00:00Z");
    while (true) {
      Optional<Instant> oldest = oldest(counter, from, cursor, horizon);
      if (oldest.isEmpty()) {
        return total;
      }
      Instant lo = to.truncate(oldest.get());
      Instant hi = Granularity.DAY.truncate(lo).plus(CHUNK);
      if (hi.isAfter(horizon)) {
        hi = horizon;
      }
      try {
        long[] n = moveChunk(counter, from, to, lo, hi);
        total[0] += n[0];
        total[1] += n[1];
      } catch (SpillwayException e) {
        if (e.getCause() instanceof SQLException s && "22003".equals(s.getSQLState())) {
          String why =
              counter
                  + ": "
                  + from
                  + " rows of ["
                  + lo
                  + ", "
                  + hi
                  + ") not rolled up"
                  + " into "
                  + to
                  + ": a sum would overflow bigint; the rows stay as they are";
          skipped.add(why);
          log.warn("event=rollup_overflow schema={} reason=\"{}\"", schema, why);
        } else {
          throw e;
        }
      }
      cursor = hi;
    }
  }

  private Optional<Instant> oldest(String counter, Granularity g, Instant from, Instant before) {
    String sql =
        "SELECT min(bucket_start) FROM "
            + Sql.table(schema, Partitions.PARENT)
            + " WHERE counter = ? AND granularity = '"
            + g.code()
            + "'"
            + " AND bucket_start >= ? AND bucket_start < ?";
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setString(1, counter);
      ps.setObject(2, Sql.utc(from));
      ps.setObject(3, Sql.utc(before));
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        OffsetDateTime t = rs.getObject(1, OffsetDateTime.class);
        return Optional.ofNullable(t).map(OffsetDateTime::toInstant);
      }
    } catch (SQLException e) {
      throw new SpillwayException(
          "rollup of " + counter + " in schema " + schema + " failed: " + Sql.message(e), e);
    }
  }

  /** One chunk: {@code [rows moved, target rows written]}. Package-private for tests. */
  long[] moveChunk(String counter, Granularity from, Granularity to, Instant lo, Instant hi) {
    String t = Sql.table(schema, Partitions.PARENT);
    String unit = to == Granularity.DAY ? "day" : "hour";
    String sql =
        "WITH moved AS ("
            + " DELETE FROM "
            + t
            + " WHERE counter = ? AND granularity = '"
            + from.code()
            + "'"
            + " AND bucket_start >= ? AND bucket_start < ?"
            + " RETURNING key, bucket_start, value),"
            + " sums AS (SELECT key, date_trunc('"
            + unit
            + "', bucket_start, 'UTC') AS b,"
            + " sum(value) AS v FROM moved GROUP BY 1, 2),"
            + " written AS ("
            + " INSERT INTO "
            + t
            + " AS t (counter, key, granularity, bucket_start, value)"
            + " SELECT ?, key, '"
            + to.code()
            + "', b, v::bigint FROM sums ORDER BY key, b"
            + " ON CONFLICT (counter, key, granularity, bucket_start)"
            + " DO UPDATE SET value = t.value + excluded.value"
            + " RETURNING 1)"
            + " SELECT (SELECT count(*) FROM moved), (SELECT count(*) FROM written)";
    return Sql.inTransaction(
        dataSource,
        null,
        "rollup of "
            + counter
            + " "
            + from
            + " rows ["
            + lo
            + ", "
            + hi
            + ") into "
            + to
            + " in schema "
            + schema,
        c -> {
          long[] n;
          try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setString(1, counter);
            ps.setObject(2, Sql.utc(lo));
            ps.setObject(3, Sql.utc(hi));
            ps.setString(4, counter);
            try (ResultSet rs = ps.executeQuery()) {
              rs.next();
              n = new long[] {rs.getLong(1), rs.getLong(2)};
            }
          }
          // In the same transaction as the rows: a reader never sees rows past the mark.
          try (PreparedStatement ps =
              c.prepareStatement(
                  "INSERT INTO "
                      + Sql.table(schema, "rollup_marks")
                      + " AS m"
                      + " (counter, granularity, rolled_before) VALUES (?, '"
                      + to.code()
                      + "', ?)"
                      + " ON CONFLICT (counter, granularity) DO UPDATE"
                      + " SET rolled_before = greatest(m.rolled_before, excluded.rolled_before),"
                      + " updated_at = now()")) {
            ps.setString(1, counter);
            ps.setObject(2, Sql.utc(hi));
            ps.executeUpdate();
          }
          return n;
        });
  }
}
