package dev.spillway.flush;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.Spillway;
import dev.spillway.testing.JvmProcess;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.Spillways;
import dev.spillway.testing.TestEnv;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.api.StatefulRedisConnection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Issue 3, case 2: the adopt path survives a flusher JVM halted at each step boundary. The state
 * between crash and recovery is checked too, so the test cannot pass without the crash having
 * happened where it says.
 */
@ExtendWith(ServicesExtension.class)
class AdoptCrashTest {
  private static final int PAGES = 2_000;
  private static RedisClient client;
  private static StatefulRedisConnection<String, String> conn;
  private static long[] expected = new long[PAGES];

  @BeforeAll
  static void setUp(TestEnv env) {
    try (Spillway ignored = Spillways.builder(env).build()) {
      // migrations only
    }
    env.exec(
        "CREATE TABLE "
            + env.schema()
            + ".pages (id bigint PRIMARY KEY, view_count bigint NOT NULL DEFAULT 0)");
    env.exec(
        "INSERT INTO " + env.schema() + ".pages (id) SELECT g FROM generate_series(0, ?) g",
        PAGES - 1);
    client = RedisClient.create(env.redisUri());
    conn = client.connect();
  }

  @AfterAll
  static void tearDown() {
    conn.close();
    client.shutdown();
  }

  @ParameterizedTest
  @ValueSource(strings = {"after-claim", "before-commit", "after-commit"})
  void adopt_haltedAtBoundary_freshRunEndsExact(String boundary, TestEnv env) throws Exception {
    String ns = env.keyPrefix().replace(":", "") + "-adopt-" + boundary + ":";
    write(ns, 20_000, boundary.hashCode());
    long ledgerBefore = env.queryLong("SELECT count(*) FROM flush_ledger");
    long sumBefore = env.queryLong("SELECT sum(view_count) FROM pages");

    JvmProcess.Result child =
        JvmProcess.run(
            AdoptCrashMain.class,
            Duration.ofSeconds(60),
            env.redisUri(),
            env.jdbcUrl(),
            env.jdbcUser(),
            env.jdbcPassword(),
            env.schema(),
            env.keyPrefix(),
            ns,
            boundary);
    assertThat(child.exitCode()).as(child.output()).isEqualTo(AdoptCrashMain.HALTED);

    // The state the crash left: a batch still registered in Redis, and the ledger/table as the
    // boundary says.
    List<String> batchSets = conn.sync().keys(env.keyPrefix() + "{a}:adopt:page-views:batches");
    assertThat(batchSets).hasSize(1);
    assertThat(conn.sync().scard(batchSets.get(0))).isPositive();
    long ledgerAfterCrash = env.queryLong("SELECT count(*) FROM flush_ledger");
    long sumAfterCrash = env.queryLong("SELECT sum(view_count) FROM pages");
    if (boundary.equals("after-commit")) {
      assertThat(ledgerAfterCrash).isGreaterThan(ledgerBefore);
      assertThat(sumAfterCrash).isGreaterThan(sumBefore);
    } else {
      assertThat(ledgerAfterCrash).isEqualTo(ledgerBefore);
      assertThat(sumAfterCrash).isEqualTo(sumBefore);
    }

    // Writers keep writing between the crash and the recovery.
    write(ns, 5_000, boundary.hashCode() + 1);
    try (Spillway sw =
        Spillways.builder(env)
            .stripes(16)
            .adopt(AdoptCrashMain.mapping(env.schema(), ns))
            .build()) {
      FlushReport r = sw.adoptOnce("page-views");
      assertThat(r.ok()).as(r.toString()).isTrue();
      if (boundary.equals("after-commit")) {
        assertThat(r.batchesDuplicate())
            .as("the committed batch is recognised, not re-applied")
            .isPositive();
      }
      assertThat(sw.adoptOnce("page-views").batchesApplied()).isZero();
    }
    List<String> mismatches = new ArrayList<>();
    try (var c = env.dataSource().getConnection();
        var st = c.createStatement();
        var rs = st.executeQuery("SELECT id, view_count FROM " + env.schema() + ".pages")) {
      while (rs.next()) {
        if (rs.getLong(2) != expected[(int) rs.getLong(1)]) {
          mismatches.add(
              rs.getLong(1) + ": " + rs.getLong(2) + " != " + expected[(int) rs.getLong(1)]);
        }
      }
    }
    assertThat(mismatches).isEmpty();
    assertThat(conn.sync().keys(ns + "*")).isEmpty();
    assertThat(conn.sync().scard(batchSets.get(0))).isZero();
    assertThat(env.queryLong("SELECT count(*) FROM dead_letter")).isZero();
  }

  /**
   * {@code n} INCRBYs on random pages under namespace {@code ns}, recorded in {@link #expected}.
   */
  private static void write(String ns, int n, long seed) throws Exception {
    SplittableRandom r = new SplittableRandom(seed);
    List<RedisFuture<Long>> futures = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      int page = r.nextInt(PAGES);
      long by = 1 + r.nextInt(3);
      expected[page] += by;
      futures.add(conn.async().incrby(ns + "views:" + page, by));
    }
    for (RedisFuture<Long> f : futures) {
      f.get(10, TimeUnit.SECONDS);
    }
  }
}
