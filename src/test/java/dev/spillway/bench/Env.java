package dev.spillway.bench;

import dev.spillway.Spillway;
import dev.spillway.SpillwayConfig;
import dev.spillway.config.ConfigLoader;
import dev.spillway.embedded.LocalServices;
import io.lettuce.core.RedisClient;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.ScanCursor;
import io.lettuce.core.api.StatefulRedisConnection;
import java.net.URI;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.function.UnaryOperator;

/**
 * Where the benchmarks run: the configured Redis and PostgreSQL (SPILLWAY_REDIS_URI,
 * SPILLWAY_JDBC_URL, ...) or embedded ones when those do not answer. Every benchmark works in
 * schema {@code spillway_bench} and under key prefix {@code swbench:} (peers under {@code bench:}),
 * all wiped first; {@code -Dbench.schema}, {@code -Dbench.prefix} and {@code -Dbench.keys} move
 * them.
 */
final class Env implements AutoCloseable {
  // -Dbench.schema / -Dbench.prefix / -Dbench.keys: another bench on the same servers at the
  // same time (a shared machine) must not drop this one's schema or unlink its keys.
  static final String SCHEMA = System.getProperty("bench.schema", "spillway_bench");
  static final String PREFIX = System.getProperty("bench.prefix", "swbench:");

  /** Prefix of the keys the peers write (naive loop, adopted keys, redis-benchmark). */
  static final String KEYS = System.getProperty("bench.keys", "bench:");

  final LocalServices services;
  final SpillwayConfig base;
  final RedisClient redis;
  final StatefulRedisConnection<String, String> conn;

  Env() {
    SpillwayConfig c = ConfigLoader.load(null, System.getenv());
    services =
        LocalServices.resolve(
            c.redisUri(), c.jdbcUrl(), c.jdbcUser(), c.jdbcPassword(), System.out::println);
    base =
        c.toBuilder()
            .redisUri(services.redisUri())
            .jdbcUrl(services.jdbcUrl())
            .jdbcUser(services.jdbcUser())
            .jdbcPassword(services.jdbcPassword())
            .schema(SCHEMA)
            .keyPrefix(PREFIX)
            .flushMaxCellsPerTransaction(
                Integer.getInteger("bench.maxCellsPerTransaction", c.flushMaxCellsPerTransaction()))
            .flushApplyConnections(
                Integer.getInteger("bench.applyConnections", c.flushApplyConnections()))
            .build();
    redis = RedisClient.create(base.redisUri());
    conn = redis.connect();
  }

  Spillway spillway(UnaryOperator<Spillway.Builder> tune) {
    return tune.apply(Spillway.builder().config(base)).build();
  }

  Connection jdbc() throws SQLException {
    return DriverManager.getConnection(base.jdbcUrl(), base.jdbcUser(), base.jdbcPassword());
  }

  void sql(String... statements) {
    try (Connection c = jdbc();
        Statement st = c.createStatement()) {
      for (String s : statements) {
        st.execute(s);
      }
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Drops the bench schema and every key under the given patterns. */
  void reset(String... patterns) {
    sql("DROP SCHEMA IF EXISTS " + SCHEMA + " CASCADE");
    unlink(PREFIX + "*");
    for (String p : patterns) {
      unlink(p);
    }
  }

  void unlink(String pattern) {
    var sync = conn.sync();
    ScanCursor cursor = ScanCursor.INITIAL;
    do {
      var page = sync.scan(cursor, ScanArgs.Builder.matches(pattern).limit(5000));
      if (!page.getKeys().isEmpty()) {
        sync.unlink(page.getKeys().toArray(String[]::new));
      }
      cursor = page;
    } while (!cursor.isFinished());
  }

  URI redisAddress() {
    return URI.create(base.redisUri());
  }

  @Override
  public void close() {
    conn.close();
    redis.shutdown();
    services.close();
  }
}
