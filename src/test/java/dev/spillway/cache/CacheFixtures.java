package dev.spillway.cache;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.Spillway;
import dev.spillway.SpillwayConfig;
import dev.spillway.config.CacheSettings;
import dev.spillway.testing.TestEnv;
import dev.spillway.testing.TestRedis;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/** Users in PostgreSQL as the loaders' source, runtimes with cache settings, and the TTL check. */
final class CacheFixtures {
  private CacheFixtures() {}

  record User(long id, String name, int teamId) {}

  /**
   * For tests that count loader runs exactly: a Redis time box generous enough that a CPU-starved
   * moment on a 2-core machine running other test classes never turns a Redis call into a fallback
   * load (which is correct behaviour, but an extra load). The time box itself is exercised by
   * RedisDownTest.
   */
  static final CacheSettings EXACT =
      CacheSettings.builder().redisTimeout(Duration.ofSeconds(3)).build();

  /**
   * {@link #EXACT} with L1 entries living a minute: within a test, anything that leaves an L1 left
   * it through a bus message, which is what the invalidation tests assert.
   */
  static final CacheSettings EXACT_L1_BY_MESSAGE =
      EXACT.toBuilder().l1Ttl(Duration.ofMinutes(1)).build();

  /** {@code users(id, name, team_id)} with ids 1..n, team 7 for odd ids and 8 for even ones. */
  static void createUsers(TestEnv env, int n) {
    env.exec(
        "CREATE TABLE IF NOT EXISTS users (id bigint PRIMARY KEY, name text NOT NULL, team_id int"
            + " NOT NULL)");
    env.exec(
        "INSERT INTO users SELECT g, 'user-' || g, CASE WHEN g % 2 = 1 THEN 7 ELSE 8 END"
            + " FROM generate_series(1, ?) g ON CONFLICT DO NOTHING",
        n);
  }

  /** The loader: one query on PostgreSQL, optionally slowed down server-side. */
  static User loadUser(TestEnv env, long id, double sleepSeconds) throws SQLException {
    try (Connection c = env.dataSource().getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "SELECT id, name, team_id, pg_sleep(?) FROM "
                    + env.schema()
                    + ".users WHERE id = ?")) {
      ps.setDouble(1, sleepSeconds);
      ps.setLong(2, id);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? new User(rs.getLong(1), rs.getString(2), rs.getInt(3)) : null;
      }
    }
  }

  static SpillwayConfig.Builder config(TestEnv env, String redisUri, CacheSettings cache) {
    return SpillwayConfig.builder()
        .redisUri(redisUri)
        .redisCluster(isCluster(redisUri))
        .jdbcUrl(env.jdbcUrl())
        .jdbcUser(env.jdbcUser())
        .jdbcPassword(env.jdbcPassword())
        .schema(env.schema())
        .keyPrefix(env.keyPrefix())
        .stripes(64)
        .cache(cache);
  }

  static Spillway runtime(TestEnv env, CacheSettings cache) {
    return runtime(env, env.redisUri(), cache);
  }

  static Spillway runtime(TestEnv env, String redisUri, CacheSettings cache) {
    return Spillway.builder().config(config(env, redisUri, cache).build()).build();
  }

  static String cachePrefix(TestEnv env) {
    return env.keyPrefix() + "c:";
  }

  @SuppressWarnings("unchecked")
  static <K, V> DefaultCacheAside<K, V> engine(CacheAside<K, V> cache) {
    return (DefaultCacheAside<K, V>) cache;
  }

  /**
   * Keys under {@code prefix} (SCAN, never KEYS: other classes share the server). A comma-separated
   * {@code redisUri} is the shared cluster's seed list.
   */
  static List<String> keys(String redisUri, String pattern) {
    try (TestRedis redis = TestRedis.connect(redisUri, isCluster(redisUri))) {
      return redis.keys(pattern);
    }
  }

  private static boolean isCluster(String redisUri) {
    return redisUri.contains(",");
  }

  /**
   * Issue 5, case 5: every key under the cache prefix carries a TTL ({@code PTTL} is never -1).
   * Returns how many keys were checked.
   */
  static int assertEveryKeyHasTtl(String redisUri, String cachePrefix) {
    try (TestRedis redis = TestRedis.connect(redisUri, isCluster(redisUri))) {
      List<String> found = redis.keys(cachePrefix + "*");
      List<String> without = new ArrayList<>();
      for (String k : found) {
        if (redis.sync().pttl(k) == -1) {
          without.add(k);
        }
      }
      assertThat(without).as("cache keys without a TTL").isEmpty();
      return found.size();
    }
  }

  /** Non-zero cache meters of a runtime, for a failing test's output. */
  static String meters(Spillway sw) {
    StringBuilder b = new StringBuilder();
    sw.meterRegistry().getMeters().stream()
        .filter(m -> m.getId().getName().startsWith("spillway.cache"))
        .forEach(
            m -> {
              double v = m.measure().iterator().next().getValue();
              if (v != 0) {
                b.append(m.getId().getName())
                    .append(m.getId().getTags())
                    .append('=')
                    .append(v)
                    .append('\n');
              }
            });
    return b.toString();
  }

  /** A clock a test moves by hand. */
  static final class MutableClock implements InstantSource {
    private final AtomicLong millis = new AtomicLong(System.currentTimeMillis());

    @Override
    public Instant instant() {
      return Instant.ofEpochMilli(millis.get());
    }

    @Override
    public long millis() {
      return millis.get();
    }

    void advance(Duration d) {
      millis.addAndGet(d.toMillis());
    }
  }
}
