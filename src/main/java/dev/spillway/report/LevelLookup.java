package dev.spillway.report;

import dev.spillway.Granularity;
import dev.spillway.config.RetentionPeriod;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Finds the levels of a counter for a report: from {@code counters:} when this process's
 * configuration defines it, else from {@code bucket_levels} (what the worker's upkeep published
 * from its configuration), else from the granularities present in the table, assumed written by the
 * flusher (and the report says so in a note).
 */
final class LevelLookup {
  private final String schema;
  private final BucketPolicy policy;

  LevelLookup(String schema, BucketPolicy policy) {
    this.schema = schema;
    this.policy = policy;
  }

  /** The counter's levels: configured, else published by the worker, else found in the table. */
  CounterLevels levels(Connection c, String counter, List<String> notes) throws SQLException {
    Optional<CounterLevels> configured = policy.configured(counter);
    if (configured.isPresent()) {
      return configured.get();
    }
    Optional<CounterLevels> published = published(c, counter);
    if (published.isPresent()) {
      return published.get();
    }
    Set<Granularity> present = EnumSet.noneOf(Granularity.class);
    String probe =
        "SELECT EXISTS (SELECT 1 FROM "
            + Sql.table(schema, Partitions.PARENT)
            + " WHERE counter = ? AND granularity = ?::\"char\")";
    try (PreparedStatement ps = c.prepareStatement(probe)) {
      for (Granularity g : Granularity.values()) {
        ps.setString(1, counter);
        ps.setString(2, String.valueOf(g.code()));
        try (ResultSet rs = ps.executeQuery()) {
          rs.next();
          if (rs.getBoolean(1)) {
            present.add(g);
          }
        }
      }
    }
    CounterLevels assumed = policy.assumed(counter, present);
    notes.add(
        counter
            + " is not defined under counters: (nor in bucket_levels); its "
            + assumed.describeLevels()
            + " rows are assumed to be written by the flusher");
    return assumed;
  }

  private Optional<CounterLevels> published(Connection c, String counter) throws SQLException {
    String table = Sql.table(schema, "bucket_levels");
    try (PreparedStatement ps = c.prepareStatement("SELECT to_regclass(?) IS NOT NULL")) {
      ps.setString(1, table);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        if (!rs.getBoolean(1)) {
          return Optional.empty();
        }
      }
    }
    List<CounterLevels.Level> levels = new ArrayList<>();
    try (PreparedStatement ps =
        c.prepareStatement(
            "SELECT granularity::text, source, extract(epoch FROM retention)::bigint FROM "
                + table
                + " WHERE counter = ? ORDER BY strpos('mhd', granularity::text)")) {
      ps.setString(1, counter);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          long secs = rs.getLong(3);
          RetentionPeriod keep =
              rs.wasNull() ? RetentionPeriod.FOREVER : RetentionPeriod.of(Duration.ofSeconds(secs));
          levels.add(
              new CounterLevels.Level(
                  Granularity.ofCode(rs.getString(1).charAt(0)),
                  "rollup".equals(rs.getString(2))
                      ? CounterLevels.Source.ROLLUP
                      : CounterLevels.Source.FLUSH,
                  keep));
        }
      }
    }
    return levels.isEmpty()
        ? Optional.empty()
        : Optional.of(new CounterLevels(counter, levels, true));
  }
}
