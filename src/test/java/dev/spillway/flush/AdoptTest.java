package dev.spillway.flush;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.spillway.ConfigException;
import dev.spillway.Spillway;
import dev.spillway.config.AdoptMapping;
import dev.spillway.config.KeyRegex;
import dev.spillway.store.DeadLetters;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.Spillways;
import dev.spillway.testing.TestEnv;
import dev.spillway.testing.TestRedis;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import java.io.File;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Issue 3: keys written by foreign clients (plain Lettuce commands standing in for any language,
 * and redis-cli when installed) are flushed into the user's own tables exactly once while the
 * writers keep writing; bad values end in dead_letter and replay once the cause is fixed.
 */
@ExtendWith(ServicesExtension.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AdoptTest {
  private static final int PAGES = 5_000;
  private String ns;
  private TestRedis conn;

  @BeforeAll
  void setUp(TestEnv env) {
    ns = "adopt-" + Long.toHexString(new SplittableRandom().nextLong()) + ":";
    AdoptFixtures.createTables(env, PAGES);
    conn = env.redis();
  }

  @AfterAll
  void tearDown() {
    conn.deleteMatching(ns + "*");
    conn.close();
  }

  private Spillway spillway(TestEnv env) {
    return Spillways.builder(env)
        .adopt(AdoptFixtures.pageViews(env, ns))
        .adopt(AdoptFixtures.dailyStats(env, ns))
        .build();
  }

  @Test
  void adopt_foreignWritersDuringRunsEvery200ms_userTablesExact(TestEnv env) throws Exception {
    long[] views = new long[PAGES];
    Map<String, Long> stats = new ConcurrentHashMap<>();
    AtomicBoolean writing = new AtomicBoolean(true);
    AtomicInteger runs = new AtomicInteger();
    try (Spillway sw = spillway(env)) {
      Thread flusher =
          Thread.ofPlatform()
              .start(
                  () -> {
                    while (writing.get()) {
                      sw.adoptOnce();
                      runs.incrementAndGet();
                      sleep(200);
                    }
                  });
      Thread incr =
          Thread.ofPlatform()
              .start(
                  () -> {
                    RedisClusterAsyncCommands<String, String> a = conn.async();
                    SplittableRandom r = new SplittableRandom(1);
                    List<RedisFuture<Long>> inflight = new ArrayList<>();
                    for (int i = 0; i < 200_000; i++) {
                      int p = r.nextInt(PAGES);
                      views[p]++;
                      inflight.add(a.incr(ns + "views:" + p));
                      if (inflight.size() == 500) {
                        awaitAll(inflight);
                      }
                    }
                    awaitAll(inflight);
                  });
      Thread hincr =
          Thread.ofPlatform()
              .start(
                  () -> {
                    RedisClusterAsyncCommands<String, String> a = conn.async();
                    SplittableRandom r = new SplittableRandom(2);
                    String[] metrics = {"signups", "logins", "orders"};
                    List<RedisFuture<Long>> inflight = new ArrayList<>();
                    for (int i = 0; i < 50_000; i++) {
                      String day = "2026-11-" + (10 + r.nextInt(10));
                      String metric = metrics[r.nextInt(metrics.length)];
                      long by = 1 + r.nextInt(5);
                      stats.merge(day + "|" + metric, by, Long::sum);
                      inflight.add(a.hincrby(ns + "stats:" + day, metric, by));
                      if (inflight.size() == 500) {
                        awaitAll(inflight);
                      }
                    }
                    awaitAll(inflight);
                  });
      int cliIncrements = redisCliIncrements(env, views);
      incr.join();
      hincr.join();
      writing.set(false);
      flusher.join();
      var last = sw.adoptOnce();
      assertThat(last.values()).allMatch(FlushReport::ok);
      assertThat(runs.get()).as("adopt runs during the writes").isGreaterThan(2);
      System.out.printf(
          "adopt runs during writes: %d, redis-cli increments: %d%n", runs.get(), cliIncrements);
    }
    List<String> wrong = new ArrayList<>();
    try (var c = env.dataSource().getConnection();
        var st = c.createStatement();
        var rs = st.executeQuery("SELECT id, view_count FROM " + env.schema() + ".pages")) {
      while (rs.next()) {
        if (rs.getLong(2) != views[(int) rs.getLong(1)]) {
          wrong.add(rs.getLong(1) + ": " + rs.getLong(2) + " != " + views[(int) rs.getLong(1)]);
        }
      }
    }
    assertThat(wrong).as("pages whose view_count differs from what was sent").isEmpty();
    for (var e : stats.entrySet()) {
      String[] dm = e.getKey().split("\\|");
      assertThat(
              env.queryLong(
                  "SELECT value FROM daily_stats WHERE day = ?::date AND metric = ?", dm[0], dm[1]))
          .as(e.getKey())
          .isEqualTo(e.getValue());
    }
    assertThat(
            env.queryLong(
                "SELECT count(*) FROM dead_letter WHERE key LIKE ? OR key LIKE ?",
                ns + "views:%",
                ns + "stats:%"))
        .isZero();
    assertThat(conn.keys(ns + "views:*")).isEmpty();
    assertThat(conn.keys(env.keyPrefix() + "*adopt*")).isEmpty();
  }

  /** Extra INCRs through the real redis-cli binary, when it is installed; returns how many. */
  private int redisCliIncrements(TestEnv env, long[] views) throws Exception {
    File cli = new File("/usr/bin/redis-cli");
    if (!cli.canExecute()) {
      return 0;
    }
    // The first seed; with -c redis-cli follows MOVED redirects on a cluster.
    URI uri = URI.create(env.redisUri().split(",")[0]);
    StringBuilder commands = new StringBuilder();
    int n = 0;
    for (int p = 0; p < 300; p++) {
      commands.append("INCR ").append(ns).append("views:").append(p).append('\n');
      views[p]++;
      n++;
    }
    Path in = Files.createTempFile("redis-cli", ".txt");
    Files.writeString(in, commands, StandardCharsets.UTF_8);
    Process proc =
        new ProcessBuilder(
                env.redisCluster()
                    ? List.of(
                        cli.getPath(),
                        "-c",
                        "-h",
                        uri.getHost(),
                        "-p",
                        String.valueOf(uri.getPort()))
                    : List.of(
                        cli.getPath(), "-h", uri.getHost(), "-p", String.valueOf(uri.getPort())))
            .redirectInput(in.toFile())
            .redirectOutput(ProcessBuilder.Redirect.DISCARD)
            .redirectErrorStream(true)
            .start();
    try {
      assertThat(proc.waitFor(30, TimeUnit.SECONDS)).isTrue();
      assertThat(proc.exitValue()).isZero();
    } finally {
      proc.destroyForcibly();
      Files.deleteIfExists(in);
    }
    return n;
  }

  @Test
  void adopt_badValues_deadLetteredWithReasons_replayAfterFix(TestEnv env) {
    var sync = conn.sync();
    String ns = this.ns + "bad:"; // its own keys and table: the other tests see neither
    env.exec(
        "CREATE TABLE "
            + env.schema()
            + ".pages_bad (id bigint PRIMARY KEY, view_count bigint NOT NULL DEFAULT 0)");
    env.exec(
        "INSERT INTO " + env.schema() + ".pages_bad (id) SELECT g FROM generate_series(0, 10) g");
    sync.set(ns + "views:1", "5"); // fine
    sync.set(ns + "views:999999", "3"); // no such page: statement updates no row
    sync.set(ns + "views:2", "lots"); // not an integer
    sync.set(ns + "views:abc", "4"); // does not match key-regex: someone else's, left alone
    sync.rpush(ns + "views:3", "x", "y"); // wrong type, a list: someone else's, left alone
    sync.set(ns + "views:4", "9223372036854775807"); // overflows view_count after views:4 += 1
    env.exec("UPDATE " + env.schema() + ".pages_bad SET view_count = 1 WHERE id = 4");
    try (Spillway sw =
        Spillways.builder(env).adopt(AdoptFixtures.pageViews(env, ns, "pages_bad")).build()) {
      FlushReport r = sw.adoptOnce("page-views");
      assertThat(r.ok()).isTrue();
      assertThat(r.deadLetters()).isEqualTo(3);
      assertThat(env.queryLong("SELECT view_count FROM pages_bad WHERE id = 1")).isEqualTo(5);
      assertThat(reason(env, ns, "views:999999")).contains("updated no row");
      assertThat(reason(env, ns, "views:2")).contains("not a 64-bit integer");
      assertThat(reason(env, ns, "views:4")).contains("statement failed").contains("out of range");
      // what adopt cannot apply by its name or type is not its to take: untouched, counted
      assertThat(r.leftAlone().notMatchingRegex()).isEqualTo(1);
      assertThat(r.leftAlone().wrongType()).isEqualTo(Map.of("list", 1L));
      assertThat(sync.get(ns + "views:abc")).isEqualTo("4");
      assertThat(sync.lrange(ns + "views:3", 0, -1)).containsExactly("x", "y");
      assertThat(
              env.queryLong(
                  "SELECT count(*) FROM dead_letter WHERE key IN (?, ?)",
                  ns + "views:abc",
                  ns + "views:3"))
          .isZero();
      assertThat(conn.keys(env.keyPrefix() + "*quarantine*")).isEmpty();
      // a second run does not retry the dead letters forever: they are out of Redis
      FlushReport again = sw.adoptOnce("page-views");
      assertThat(again.deadLetters()).isZero();
      assertThat(again.leftAlone().total()).isEqualTo(2);

      env.exec("INSERT INTO " + env.schema() + ".pages_bad (id, view_count) VALUES (999999, 0)");
      DeadLetters.ReplayResult replay = sw.deadLetters().replay(sw.config(), "page-views");
      assertThat(replay.replayed()).as(replay.toString()).isEqualTo(1);
      assertThat(replay.failed()).isEqualTo(1); // views:4 still overflows
      assertThat(replay.notReplayable()).isEqualTo(1); // non-integer value
      assertThat(env.queryLong("SELECT view_count FROM pages_bad WHERE id = 999999")).isEqualTo(3);
      // replaying again does not apply twice
      assertThat(sw.deadLetters().replay(sw.config(), "page-views").replayed()).isZero();
      assertThat(env.queryLong("SELECT view_count FROM pages_bad WHERE id = 999999")).isEqualTo(3);
    }
  }

  private static String reason(TestEnv env, String ns, String keySuffix) {
    try (var c = env.dataSource().getConnection();
        var ps =
            c.prepareStatement(
                "SELECT reason FROM " + env.schema() + ".dead_letter WHERE key = ?")) {
      ps.setString(1, ns + keySuffix);
      try (var rs = ps.executeQuery()) {
        assertThat(rs.next()).as("dead letter for " + keySuffix).isTrue();
        return rs.getString(1);
      }
    } catch (SQLException e) {
      throw new AssertionError(e);
    }
  }

  @Test
  void build_mappingThatDoesNotPrepare_refusedNamingMapping(TestEnv env) {
    AdoptMapping bad =
        new AdoptMapping(
            "typo",
            ns + "t:*",
            KeyRegex.compile("t:(?<id>\\d+)"),
            AdoptMapping.Type.STRING,
            "UPDATE " + env.schema() + ".pagez SET n = n + :delta WHERE id = :id",
            null,
            null,
            null,
            null,
            100);
    assertThatThrownBy(() -> Spillways.builder(env).adopt(bad).build())
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("adopt mapping 'typo'")
        .hasMessageContaining("pagez");
    AdoptMapping noIndex =
        new AdoptMapping(
            "noindex",
            ns + "t:*",
            KeyRegex.compile("t:(?<id>\\d+)"),
            AdoptMapping.Type.STRING,
            null,
            env.schema() + ".pages",
            Map.of("id", "view_count"),
            "id",
            null,
            100);
    assertThatThrownBy(() -> Spillways.builder(env).adopt(noIndex).build())
        .hasMessageContaining("needs a unique index");
  }

  @Test
  void mapping_paramNotAGroup_refusedAtConfig() {
    assertThatThrownBy(
            () ->
                new AdoptMapping(
                    "x",
                    "v:*",
                    KeyRegex.compile("v:(?<id>\\d+)"),
                    AdoptMapping.Type.STRING,
                    "UPDATE t SET n = n + :delta WHERE id = :page_id",
                    null,
                    null,
                    null,
                    null,
                    100))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("adopt mapping 'x': sql parameter :page_id is not a named group");
    assertThatThrownBy(
            () ->
                new AdoptMapping(
                    "x",
                    "v:*",
                    KeyRegex.compile("v:(?<id>\\d+)"),
                    AdoptMapping.Type.STRING,
                    "UPDATE t SET n = n + 1 WHERE id = :id::bigint",
                    null,
                    null,
                    null,
                    "every minute",
                    100))
        .hasMessageContaining("sql must use :delta");
  }

  private static void awaitAll(List<RedisFuture<Long>> futures) {
    for (RedisFuture<Long> f : futures) {
      try {
        f.get(10, TimeUnit.SECONDS);
      } catch (Exception e) {
        throw new AssertionError(e);
      }
    }
    futures.clear();
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
