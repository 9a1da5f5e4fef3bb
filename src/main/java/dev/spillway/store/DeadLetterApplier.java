package dev.spillway.store;

import dev.spillway.Granularity;
import dev.spillway.SpillwayConfig;
import dev.spillway.config.AdoptMapping;
import dev.spillway.layout.CellDelta;
import dev.spillway.layout.CellField;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.Optional;

/**
 * Applies one dead letter the way the flusher would have, in the caller's transaction: an adopted
 * value through its mapping's current statement, a whole cell to its total and every bucket, a
 * total or bucket row by its delta. Says nothing about whether the row <em>should</em> be applied:
 * its class and its decision are {@link DeadLetters}'s business.
 */
final class DeadLetterApplier {
  private final String s;

  DeadLetterApplier(String quotedSchema) {
    this.s = quotedSchema;
  }

  /**
   * Why {@code r} can never be replayed as it is (no integer delta, no target), if so: a person
   * must look at it, and discard it once its counts are accounted for.
   */
  static Optional<String> unreplayable(DeadLetters.Row r) {
    if (r.delta() == null) {
      return Optional.of("it has no integer delta (its raw value is shown by dead-letter list)");
    }
    if (r.key() == null || (!r.source().startsWith("adopt:") && r.counter() == null)) {
      return Optional.of("it names no counter or key to add its delta to");
    }
    return Optional.empty();
  }

  /** Applies one row; returns why it still cannot be applied, if so. */
  Optional<String> apply(Connection c, SpillwayConfig config, DeadLetters.Row r)
      throws SQLException {
    long delta;
    try {
      delta = r.delta().longValueExact();
    } catch (ArithmeticException e) {
      return Optional.of("delta does not fit a bigint");
    }
    if (r.source().startsWith("adopt:")) {
      String name = r.source().substring("adopt:".length());
      Optional<AdoptMapping> m = config.adoptMapping(name);
      if (m.isEmpty()) {
        return Optional.of("adopt mapping '" + name + "' is no longer configured");
      }
      var groups = m.get().keyRegex().match(r.key());
      if (groups.isEmpty()) {
        return Optional.of("key still does not match key-regex " + m.get().keyRegex());
      }
      AdoptSql.Statement st = AdoptSql.statementOf(m.get());
      try (PreparedStatement ps = c.prepareStatement(st.sql())) {
        AdoptSql.bind(
            ps,
            st,
            new AdoptStore.Exec(
                r.batchId(),
                r.source(),
                new AdoptedCell(r.key(), r.field(), Long.toString(delta), null),
                delta,
                groups.get()));
        return ps.executeUpdate() == 0
            ? Optional.of("statement still updates no row")
            : Optional.empty();
      }
    }
    if (r.raw() != null && r.granularity() == null) {
      // A whole cell (refused by Redis, or from a batch Redis resurrected): its total and every
      // bucket it fans out to, together.
      Object parsed = CellField.parse(stripBang(r.raw()), Long.toString(delta));
      if (parsed instanceof CellDelta cell) {
        return applyCell(c, cell);
      }
    }
    String guard = " BETWEEN -9223372036854775808 AND 9223372036854775807";
    String sql =
        r.granularity() == null
            ? "UPDATE "
                + s
                + ".counter_totals SET total = total + ?, updated_at = now()"
                + " WHERE counter = ? AND key = ? AND total::numeric + ?"
                + guard
            : "UPDATE "
                + s
                + ".counter_buckets SET value = value + ?"
                + " WHERE counter = ? AND key = ? AND value::numeric + ?"
                + guard
                + " AND granularity = ?::\"char\" AND bucket_start = ?";
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setLong(1, delta);
      ps.setString(2, r.counter());
      ps.setString(3, r.key());
      ps.setLong(4, delta);
      if (r.granularity() != null) {
        ps.setString(5, r.granularity());
        ps.setObject(6, r.bucketStart());
      }
      return ps.executeUpdate() == 0
          ? Optional.of("the total would still overflow bigint (or the row is gone)")
          : Optional.empty();
    }
  }

  private static String stripBang(String raw) {
    if (raw.startsWith("!")) {
      int p = raw.indexOf('|');
      return p < 0 ? raw : raw.substring(p + 1);
    }
    return raw;
  }

  private Optional<String> applyCell(Connection c, CellDelta cell) throws SQLException {
    String guard = " BETWEEN -9223372036854775808 AND 9223372036854775807";
    try (PreparedStatement ps =
        c.prepareStatement(
            "INSERT INTO "
                + s
                + ".counter_totals AS t (counter, key, total) VALUES (?, ?, ?)"
                + " ON CONFLICT (counter, key) DO UPDATE SET total = t.total + excluded.total,"
                + " updated_at = now() WHERE t.total::numeric + excluded.total"
                + guard)) {
      ps.setString(1, cell.counter());
      ps.setString(2, cell.key());
      ps.setLong(3, cell.delta());
      if (ps.executeUpdate() == 0) {
        return Optional.of("the total would still overflow bigint");
      }
    }
    for (int i = 0; i < cell.bucketCodes().length(); i++) {
      Granularity g = Granularity.ofCode(cell.bucketCodes().charAt(i));
      try (PreparedStatement ps =
          c.prepareStatement(
              "INSERT INTO "
                  + s
                  + ".counter_buckets AS t (counter, key, granularity, bucket_start,"
                  + " value) VALUES (?, ?, ?::\"char\", to_timestamp(?), ?)"
                  + " ON CONFLICT (counter, key, granularity, bucket_start) DO UPDATE"
                  + " SET value = t.value + excluded.value WHERE t.value::numeric + excluded.value"
                  + guard)) {
        ps.setString(1, cell.counter());
        ps.setString(2, cell.key());
        ps.setString(3, String.valueOf(g.code()));
        ps.setLong(4, g.bucketStartSeconds(cell.epochMinute()));
        ps.setLong(5, cell.delta());
        if (ps.executeUpdate() == 0) {
          return Optional.of("the " + g + " bucket would still overflow bigint");
        }
      }
    }
    return Optional.empty();
  }
}
