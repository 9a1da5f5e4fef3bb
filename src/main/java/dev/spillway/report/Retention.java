package dev.spillway.report;

import dev.spillway.Granularity;
import dev.spillway.SpillwayConfig;
import dev.spillway.SpillwayException;
import dev.spillway.config.Durations;
import dev.spillway.config.ReportSettings;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.InstantSource;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Removes bucket rows past their retention, cheapest way first.
 *
 * <p>Which rows go: rows of a level whose {@linkplain CounterLevels#fate fate} is {@code DISCARD}
 * once older than its horizon (expired, or duplicates of a coarser level the flusher writes), and
 * rows of counters {@code counters:} does not define (or of levels a counter no longer keeps) once
 * older than {@code reporting.default-retention}. Rows waiting to be rolled up ({@code MOVE_UP})
 * and levels kept forever are never touched here.
 *
 * <p>How: a granularity leaf of a range partition whose every counter's rows are past their cutoff
 * is emptied with {@code TRUNCATE} (instant, no bloat), after taking its ACCESS EXCLUSIVE lock and
 * listing its counters again, so that no row written meanwhile is lost. Otherwise rows are deleted
 * per counter in batches of {@value #BATCH}, each its own short transaction. A range partition left
 * empty is dropped when every level of every counter has expired up to its end (with a level kept
 * forever, ranges are never dropped, only emptied). The DEFAULT partition is cleaned row by row and
 * never dropped.
 *
 * <p>Safe to run twice or concurrently: every removal is idempotent, and the DDL steps re-check
 * under their locks. DDL waits at most {@code reporting.lock-timeout}; what it could not lock is
 * reported as skipped and retried at the next run. Hazard: TRUNCATE is not MVCC-safe, so a
 * REPEATABLE READ transaction that began before it and reads the leaf afterwards sees it empty; the
 * rows had expired anyway.
 */
public final class Retention {
  private static final Logger log = LoggerFactory.getLogger(Retention.class);
  static final int BATCH = 5000;

  /**
   * What one run did.
   *
   * @param rowsDeleted rows deleted one by one (truncated leaves not counted)
   * @param truncated leaves emptied with TRUNCATE
   * @param dropped range partitions dropped
   * @param skipped one sentence per step left for the next run, and why
   */
  public record Result(
      long rowsDeleted, List<String> truncated, List<String> dropped, List<String> skipped) {}

  private final DataSource dataSource;
  private final String schema;
  private final BucketPolicy policy;
  private final ReportSettings settings;
  private final InstantSource clock;

  public Retention(DataSource dataSource, SpillwayConfig config, InstantSource clock) {
    this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
    this.schema = config.schema();
    this.policy = BucketPolicy.of(config);
    this.settings = config.reporting();
    this.clock = Objects.requireNonNull(clock, "clock");
  }

  public static Result run(DataSource dataSource, SpillwayConfig config, InstantSource clock) {
    return new Retention(dataSource, config, clock).run();
  }

  /**
   * One pass over every partition.
   *
   * @throws SpillwayException when PostgreSQL fails other than by a lock timeout; what was removed
   *     before stays removed
   */
  public Result run() {
    Partitions.Layout layout;
    Map<String, Instant> marks = new HashMap<>();
    try (Connection c = dataSource.getConnection()) {
      layout = Partitions.read(c, schema);
      try (PreparedStatement ps =
              c.prepareStatement(
                  "SELECT counter, granularity::text,"
                      + " rolled_before FROM "
                      + Sql.table(schema, "rollup_marks"));
          ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          marks.put(
              rs.getString(1) + "/" + rs.getString(2),
              rs.getObject(3, OffsetDateTime.class).toInstant());
        }
      }
    } catch (SQLException e) {
      throw new SpillwayException(
          "reading the partitions of " + schema + ".counter_buckets failed: " + Sql.message(e), e);
    }
    Cutoffs cut = new Cutoffs(policy, clock.instant(), marks);
    long deleted = 0;
    List<String> truncated = new ArrayList<>();
    List<String> dropped = new ArrayList<>();
    List<String> skipped = new ArrayList<>(cut.heldBack());
    for (Partitions.Range p : layout.ranges()) {
      boolean empty = true;
      for (Granularity g : Granularity.values()) {
        Optional<Instant> latest = cut.latest(g);
        String leaf = p.leaves().get(g);
        if (p.byGranularity()) {
          if (latest.isEmpty() || !p.lo().isBefore(latest.get())) {
            // Nothing here has expired; such a range is never a candidate for dropping either
            // (a drop needs its end before every cutoff, hence before this one).
            empty = false;
            continue;
          }
          LeafOutcome o = leaf(leaf, g, p, cut);
          deleted += o.deleted;
          o.truncated.ifPresent(truncated::add);
          o.skipped.ifPresent(skipped::add);
          empty &= o.empty;
        } else {
          empty = false; // a plain table holding every granularity: cleaned, never dropped
          if (latest.isPresent() && p.lo().isBefore(latest.get())) {
            deleted += rows(p.name(), g, cut);
          }
        }
      }
      Optional<Instant> dropBefore = cut.everyLevelExpired();
      if (empty && dropBefore.isPresent() && !p.hi().isAfter(dropBefore.get())) {
        switch (drop(p)) {
          case DROPPED -> dropped.add(p.name());
          case LOCK_TIMEOUT ->
              skipped.add(
                  p.name()
                      + ": not dropped, its locks were not granted"
                      + " within "
                      + Durations.format(settings.lockTimeout()));
          case NOT_EMPTY -> {} // a row arrived since the leaves were emptied: next run
        }
      }
    }
    if (layout.defaultPartition().isPresent()) {
      for (Granularity g : Granularity.values()) {
        if (cut.latest(g).isPresent()) {
          deleted += rows(layout.defaultPartition().get(), g, cut);
        }
      }
    }
    Result r =
        new Result(deleted, List.copyOf(truncated), List.copyOf(dropped), List.copyOf(skipped));
    if (deleted > 0 || !truncated.isEmpty() || !dropped.isEmpty() || !skipped.isEmpty()) {
      log.info(
          "event=retention schema={} rows_deleted={} truncated={} dropped={} skipped={}",
          schema,
          deleted,
          truncated,
          dropped,
          skipped);
    }
    return r;
  }

  private record LeafOutcome(
      long deleted, Optional<String> truncated, Optional<String> skipped, boolean empty) {}

  private LeafOutcome leaf(String leaf, Granularity g, Partitions.Range p, Cutoffs cut) {
    List<String> present = counters(leaf, null);
    if (present.isEmpty()) {
      return new LeafOutcome(0, Optional.empty(), Optional.empty(), true);
    }
    if (cut.allExpired(present, g, p.hi())) {
      Boolean done;
      try {
        done =
            Sql.inTransaction(
                dataSource,
                settings.lockTimeout(),
                "truncating " + leaf,
                c -> {
                  PartitionUpkeep.exec(c, "LOCK TABLE " + leaf + " IN ACCESS EXCLUSIVE MODE");
                  // Listed again under the lock: a row flushed since the first look must count.
                  if (!cut.allExpired(counters(c, leaf, null), g, p.hi())) {
                    return false;
                  }
                  PartitionUpkeep.exec(c, "TRUNCATE " + leaf);
                  return true;
                });
      } catch (SpillwayException e) {
        if (isLockTimeout(e)) {
          return new LeafOutcome(
              0,
              Optional.empty(),
              Optional.of(
                  leaf
                      + ": not truncated, its lock was not granted within "
                      + Durations.format(settings.lockTimeout())),
              false);
        }
        throw e;
      }
      if (done) {
        return new LeafOutcome(0, Optional.of(leaf), Optional.empty(), true);
      }
      present = counters(leaf, null);
    }
    long deleted = 0;
    for (String counter : present) {
      Optional<Instant> c = cut.of(counter, g);
      if (c.isPresent() && p.lo().isBefore(c.get())) {
        deleted += deleteRows(leaf, counter, g, c.get());
      }
    }
    return new LeafOutcome(
        deleted, Optional.empty(), Optional.empty(), counters(leaf, null).isEmpty());
  }

  /** Row-by-row removal in a table holding several granularities (DEFAULT, a plain range). */
  private long rows(String table, Granularity g, Cutoffs cut) {
    long deleted = 0;
    for (String counter : counters(table, g)) {
      Optional<Instant> c = cut.of(counter, g);
      if (c.isPresent()) {
        deleted += deleteRows(table, counter, g, c.get());
      }
    }
    return deleted;
  }

  private long deleteRows(String table, String counter, Granularity g, Instant before) {
    String sql =
        "DELETE FROM "
            + table
            + " WHERE ctid = ANY (ARRAY(SELECT ctid FROM "
            + table
            + " WHERE counter = ? AND granularity = '"
            + g.code()
            + "' AND bucket_start < ?"
            + " LIMIT "
            + BATCH
            + "))";
    long total = 0;
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      c.setAutoCommit(true); // each batch its own transaction: short row locks, steady progress
      while (true) {
        ps.setString(1, counter);
        ps.setObject(2, Sql.utc(before));
        int n = ps.executeUpdate();
        total += n;
        if (n < BATCH) {
          return total;
        }
      }
    } catch (SQLException e) {
      throw new SpillwayException(
          "deleting expired "
              + g
              + " rows of "
              + counter
              + " from "
              + table
              + " failed: "
              + Sql.message(e),
          e);
    }
  }

  private enum DropOutcome {
    DROPPED,
    NOT_EMPTY,
    LOCK_TIMEOUT
  }

  private DropOutcome drop(Partitions.Range p) {
    try {
      return Sql.inTransaction(
          dataSource,
          settings.lockTimeout(),
          "dropping " + p.name(),
          c -> {
            PartitionUpkeep.lockDdl(c, schema);
            // SHARE blocks writers from the check until the drop: a late row is never dropped.
            PartitionUpkeep.exec(c, "LOCK TABLE " + p.name() + " IN SHARE MODE");
            try (PreparedStatement ps =
                    c.prepareStatement("SELECT EXISTS (SELECT 1 FROM " + p.name() + ")");
                ResultSet rs = ps.executeQuery()) {
              rs.next();
              if (rs.getBoolean(1)) {
                return DropOutcome.NOT_EMPTY;
              }
            }
            PartitionUpkeep.exec(c, "DROP TABLE " + p.name());
            return DropOutcome.DROPPED;
          });
    } catch (SpillwayException e) {
      if (isLockTimeout(e)) {
        return DropOutcome.LOCK_TIMEOUT;
      }
      throw e;
    }
  }

  private List<String> counters(String table, Granularity g) {
    try (Connection c = dataSource.getConnection()) {
      return counters(c, table, g);
    } catch (SQLException e) {
      throw new SpillwayException(
          "listing the counters in " + table + " failed: " + Sql.message(e), e);
    }
  }

  /**
   * The distinct counters of a table, by a skip scan of the primary key (one index probe per
   * counter, however many rows), optionally only those with rows of {@code g}.
   */
  private static List<String> counters(Connection c, String table, Granularity g)
      throws SQLException {
    String only = g == null ? "" : " AND granularity = '" + g.code() + "'";
    String sql =
        "WITH RECURSIVE s(counter) AS ("
            + " (SELECT counter FROM "
            + table
            + " WHERE true"
            + only
            + " ORDER BY counter LIMIT 1)"
            + " UNION ALL"
            + " SELECT (SELECT t.counter FROM "
            + table
            + " t WHERE t.counter > s.counter"
            + only
            + " ORDER BY t.counter LIMIT 1) FROM s WHERE s.counter IS NOT NULL)"
            + " SELECT counter FROM s WHERE counter IS NOT NULL";
    List<String> out = new ArrayList<>();
    try (PreparedStatement ps = c.prepareStatement(sql);
        ResultSet rs = ps.executeQuery()) {
      while (rs.next()) {
        out.add(rs.getString(1));
      }
    }
    return out;
  }

  private static boolean isLockTimeout(SpillwayException e) {
    return e.getCause() instanceof SQLException s && "55P03".equals(s.getSQLState());
  }
}
