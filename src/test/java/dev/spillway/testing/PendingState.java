package dev.spillway.testing;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * What the exactly-once tests compare: the totals PostgreSQL holds, and what is still on its way in
 * Redis (live hashes, claimed batches, batches sets) under a key prefix.
 */
public final class PendingState {
  private PendingState() {}

  /** One counter key. */
  public record Cell(String counter, String key) {}

  /** The entries of {@code expected} whose value is not zero (zero totals may have no row). */
  public static Map<Cell, Long> nonZero(Map<Cell, Long> expected) {
    Map<Cell, Long> m = new HashMap<>();
    expected.forEach(
        (c, v) -> {
          if (v != 0) {
            m.put(c, v);
          }
        });
    return m;
  }

  /** Totals of one counter by key (zeros included), in the test class's schema. */
  public static Map<String, Long> totalsByKey(TestEnv env, String counter) {
    Map<String, Long> byKey = new HashMap<>();
    totals(env, List.of(counter)).forEach((cell, total) -> byKey.put(cell.key(), total));
    return byKey;
  }

  /** Non-zero totals of the given counters in the test class's schema. */
  public static Map<Cell, Long> totals(TestEnv env, List<String> counters) {
    Map<Cell, Long> m = new HashMap<>();
    String sql =
        "SELECT counter, key, total FROM \""
            + env.schema()
            + "\".counter_totals"
            + " WHERE counter = ANY(?) AND total <> 0";
    try (Connection c = env.dataSource().getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setArray(1, c.createArrayOf("text", counters.toArray(String[]::new)));
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          m.put(new Cell(rs.getString(1), rs.getString(2)), rs.getLong(3));
        }
      }
    } catch (SQLException e) {
      throw new IllegalStateException(sql, e);
    }
    return m;
  }

  /** Every key under {@code prefix}, by SCAN (every master of a cluster). */
  public static List<String> keys(TestEnv env, String prefix) {
    try (TestRedis redis = env.redis()) {
      return redis.keys(prefix + "*");
    }
  }

  /** Ids of every batch claimed and not yet acknowledged under {@code prefix}. */
  public static Set<String> pendingBatchIds(TestEnv env, String prefix) {
    try (TestRedis redis = env.redis()) {
      Set<String> ids = new TreeSet<>();
      for (String key : redis.keys(prefix + "*")) {
        if (key.endsWith(":batches")) {
          ids.addAll(redis.sync().smembers(key));
        }
      }
      return ids;
    }
  }

  /** Live hashes, batch hashes and batches sets: what is still on its way to PostgreSQL. */
  public static List<String> pendingKeys(TestEnv env, String prefix) {
    return keys(env, prefix).stream()
        .filter(k -> k.endsWith(":live") || k.endsWith(":batches") || k.contains(":batch:"))
        .toList();
  }
}
