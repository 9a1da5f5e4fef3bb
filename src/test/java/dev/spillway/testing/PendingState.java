package dev.spillway.testing;

import io.lettuce.core.KeyScanCursor;
import io.lettuce.core.RedisClient;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.api.StatefulRedisConnection;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * What the exactly-once tests compare: the totals PostgreSQL holds, and what is still on its way
 * in Redis (live hashes, claimed batches, batches sets) under a key prefix.
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

  /** Non-zero totals of the given counters in the test class's schema. */
  public static Map<Cell, Long> totals(TestEnv env, List<String> counters) {
    Map<Cell, Long> m = new HashMap<>();
    String sql =
        "SELECT counter, key, total FROM \"" + env.schema() + "\".counter_totals"
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

  /** Every key under {@code prefix}, by SCAN. */
  public static List<String> keys(TestEnv env, String prefix) {
    RedisClient client = RedisClient.create(env.redisUri());
    try (StatefulRedisConnection<String, String> connection = client.connect()) {
      var redis = connection.sync();
      List<String> keys = new ArrayList<>();
      ScanArgs match = ScanArgs.Builder.matches(prefix + "*").limit(1000);
      KeyScanCursor<String> cursor = redis.scan(match);
      while (true) {
        keys.addAll(cursor.getKeys());
        if (cursor.isFinished()) {
          return keys;
        }
        cursor = redis.scan(cursor, match);
      }
    } finally {
      client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
  }

  /** Ids of every batch claimed and not yet acknowledged under {@code prefix}. */
  public static Set<String> pendingBatchIds(TestEnv env, String prefix) {
    RedisClient client = RedisClient.create(env.redisUri());
    try (StatefulRedisConnection<String, String> connection = client.connect()) {
      Set<String> ids = new TreeSet<>();
      for (String key : keys(env, prefix)) {
        if (key.endsWith(":batches")) {
          ids.addAll(connection.sync().smembers(key));
        }
      }
      return ids;
    } finally {
      client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
  }

  /** Live hashes, batch hashes and batches sets: what is still on its way to PostgreSQL. */
  public static List<String> pendingKeys(TestEnv env, String prefix) {
    return keys(env, prefix).stream()
        .filter(k -> k.endsWith(":live") || k.endsWith(":batches") || k.contains(":batch:"))
        .toList();
  }
}
