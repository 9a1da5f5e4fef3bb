package dev.spillway.flush;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.Spillway;
import dev.spillway.config.AdoptMapping;
import dev.spillway.config.KeyRegex;
import dev.spillway.layout.KeyLayout;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.Spillways;
import dev.spillway.testing.TestEnv;
import io.lettuce.core.RedisClient;
import io.lettuce.core.SetArgs;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.codec.ByteArrayCodec;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Issue 12, "adopt touches only what it can apply": a mapping whose {@code match} also covers
 * sessions, locks, queues, sets and hashes of other shapes moves only the counters its key-regex
 * and type describe; every other key is byte-identical afterwards (DUMP, TYPE, PTTL), and counted.
 */
@ExtendWith(ServicesExtension.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AdoptLeftAloneTest {
  private String ns;
  private RedisClient client;
  private StatefulRedisConnection<byte[], byte[]> conn;
  private RedisCommands<byte[], byte[]> redis;

  @BeforeAll
  void setUp(TestEnv env) {
    ns = "la-" + Long.toHexString(new SplittableRandom().nextLong()) + ":";
    AdoptFixtures.createTables(env, 400);
    client = RedisClient.create(env.redisUri());
    conn = client.connect(ByteArrayCodec.INSTANCE);
    redis = conn.sync();
  }

  @AfterAll
  void tearDown() {
    for (byte[] k : redis.keys(ns + "*")) {
      redis.del(k);
    }
    conn.close();
    client.shutdown();
  }

  private AdoptMapping appViews(TestEnv env) {
    return new AdoptMapping(
        "app-views",
        ns + "app:*",
        KeyRegex.compile(Pattern.quote(ns) + "app:views:(?<page_id>[0-9]+)"),
        AdoptMapping.Type.STRING,
        "UPDATE "
            + env.schema()
            + ".pages SET view_count = view_count + :delta"
            + " WHERE id = CAST(:page_id AS bigint)",
        null,
        null,
        null,
        null,
        100);
  }

  @Test
  void adopt_matchCoversForeignKeys_onlyCountersMoved_restByteIdentical(TestEnv env) {
    Map<Integer, Long> views = new LinkedHashMap<>();
    SplittableRandom r = new SplittableRandom(12);
    for (int p = 0; p < 100; p++) {
      long by = 1 + r.nextInt(1000);
      redis.incrby(b(ns + "app:views:" + p), by);
      if (p % 10 == 0) {
        redis.pexpire(b(ns + "app:views:" + p), 600_000); // a counter with a TTL is still a counter
      }
      views.put(p, by);
    }
    Map<String, byte[]> foreign = new LinkedHashMap<>();
    foreign.put("session", b(ns + "app:session:abc"));
    redis.set(
        foreign.get("session"),
        b("{\"user\":7,\"token\":\"s3cr3t\"}"),
        SetArgs.Builder.px(600_000));
    foreign.put("lock", b(ns + "app:lock:order:9"));
    redis.set(foreign.get("lock"), b("worker-3"), SetArgs.Builder.nx().px(300_000));
    foreign.put("queue", b(ns + "app:queue:jobs"));
    redis.rpush(foreign.get("queue"), b("job-1"), b("job-2"), new byte[] {0, (byte) 0xff});
    foreign.put("set", b(ns + "app:tags:x"));
    redis.sadd(foreign.get("set"), b("a"), b("b"));
    foreign.put("zset", b(ns + "app:rank"));
    redis.zadd(foreign.get("zset"), 1.5, b("alice"));
    foreign.put("user hash", b(ns + "app:user:7"));
    redis.hset(foreign.get("user hash"), Map.of(b("name"), b("Ann"), b("visits"), b("3")));
    foreign.put("stream", b(ns + "app:events"));
    redis.xadd(foreign.get("stream"), Map.of(b("k"), b("v")));
    foreign.put("counter-named list", b(ns + "app:views:200"));
    redis.rpush(foreign.get("counter-named list"), b("x"), b("y"));
    redis.pexpire(foreign.get("counter-named list"), 900_000);
    foreign.put("counter-named hash", b(ns + "app:views:201"));
    redis.hset(foreign.get("counter-named hash"), b("n"), b("5"));
    foreign.put("counter-named set", b(ns + "app:views:202"));
    redis.sadd(foreign.get("counter-named set"), b("5"));
    foreign.put("name regex rejects", b(ns + "app:views:abc"));
    redis.set(foreign.get("name regex rejects"), b("4"));
    foreign.put("not UTF-8", bytes(ns + "app:views:", (byte) 0xff));
    redis.set(foreign.get("not UTF-8"), b("5"));
    foreign.put("control character", bytes(ns + "app:views:1", (byte) 0x01));
    redis.set(foreign.get("control character"), b("6"));
    foreign.put("outside match", b(ns + "other:views:1"));
    redis.set(foreign.get("outside match"), b("9"));
    Map<String, byte[]> dumps = new LinkedHashMap<>();
    Map<String, Long> ttls = new LinkedHashMap<>();
    Map<String, String> types = new LinkedHashMap<>();
    for (var e : foreign.entrySet()) {
      dumps.put(e.getKey(), redis.dump(e.getValue()));
      ttls.put(e.getKey(), redis.pttl(e.getValue()));
      types.put(e.getKey(), redis.type(e.getValue()));
    }

    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    FlushReport report;
    try (Spillway sw =
        Spillways.builder(env).meterRegistry(registry).adopt(appViews(env)).build()) {
      report = sw.adoptOnce("app-views");
    }

    assertThat(report.ok()).as(report.toString()).isTrue();
    assertThat(report.cells()).isEqualTo(100);
    assertThat(report.deadLetters()).isZero();
    for (var e : views.entrySet()) {
      assertThat(env.queryLong("SELECT view_count FROM pages WHERE id = ?", (long) e.getKey()))
          .as("page " + e.getKey())
          .isEqualTo(e.getValue());
      assertThat(redis.exists(b(ns + "app:views:" + e.getKey()))).isZero();
    }
    for (var e : foreign.entrySet()) {
      String what = e.getKey();
      assertThat(redis.type(e.getValue())).as(what).isEqualTo(types.get(what));
      assertThat(redis.dump(e.getValue())).as(what + ": value").isEqualTo(dumps.get(what));
      long before = ttls.get(what);
      long after = redis.pttl(e.getValue());
      if (before < 0) {
        assertThat(after).as(what + ": no TTL").isEqualTo(before);
      } else {
        assertThat(after).as(what + ": TTL").isBetween(before - 60_000, before);
      }
    }
    assertThat(redis.keys(env.keyPrefix() + "*quarantine*")).isEmpty();
    assertThat(
            env.queryLong("SELECT count(*) FROM dead_letter WHERE reason NOT LIKE 'key holds a%'"))
        .as("dead letters other than the earlier version's quarantine (the other test)")
        .isZero();

    LeftAlone left = report.leftAlone();
    assertThat(left.notMatchingRegex()).isEqualTo(8); // session lock queue set rank user events abc
    assertThat(left.wrongType()).isEqualTo(Map.of("list", 1L, "hash", 1L, "set", 1L));
    assertThat(left.notText()).isEqualTo(2);
    assertThat(left.describe(ns + "app:*", false))
        .isEqualTo(
            "13 keys under "
                + ns
                + "app:* left alone: 8 do not match key-regex, 1 is a hash,"
                + " 1 is a list, 1 is a set, 2 are not text (invalid UTF-8 or control characters)");
    assertThat(left.examples().get(LeftAlone.NOT_TEXT))
        .containsExactlyInAnyOrder(ns + "app:views:\\xff", ns + "app:views:1\\x01");
    assertThat(
            registry
                .get("spillway.adopt.keys.left.alone")
                .tags("mapping", "app-views", "reason", "key-regex")
                .counter()
                .count())
        .isEqualTo(8.0);
    assertThat(
            registry
                .get("spillway.adopt.keys.left.alone")
                .tags("mapping", "app-views", "reason", "type", "type", "list")
                .counter()
                .count())
        .isEqualTo(1.0);
    assertThat(
            registry
                .get("spillway.adopt.keys.left.alone")
                .tags("mapping", "app-views", "reason", "not-text")
                .counter()
                .count())
        .isEqualTo(2.0);
  }

  /**
   * A batch claimed by an earlier version, which renamed a key of the wrong type to a quarantine
   * key ({@code x|<key>} = type), still applies: its counters count, the quarantined key is
   * dead-lettered naming where it is, and the batch is acknowledged.
   */
  @Test
  void adopt_pendingBatchFromEarlierVersionWithQuarantine_appliedAndDeadLettered(TestEnv env) {
    String mapping = "app-views";
    KeyLayout layout = new KeyLayout(env.keyPrefix(), 64);
    String id = "a." + mapping + "." + Long.toString(System.currentTimeMillis(), 36) + "-1f2e3d";
    String listKey = ns + "app:views:300";
    String quarantine = layout.adoptQuarantine(mapping, "a", id, listKey);
    redis.rpush(b(quarantine), b("x"));
    redis.hset(
        b(layout.adoptBatch(mapping, "a", id)),
        Map.of(b("x|" + listKey), b("list"), b("s|" + ns + "app:views:301"), b("7")));
    redis.sadd(b(layout.adoptBatches(mapping, "a")), b(id));

    FlushReport report;
    try (Spillway sw = Spillways.builder(env).adopt(appViews(env)).build()) {
      report = sw.adoptOnce(mapping);
    }
    assertThat(report.ok()).as(report.toString()).isTrue();
    assertThat(report.deadLetters()).isEqualTo(1);
    assertThat(env.queryLong("SELECT view_count FROM pages WHERE id = 301")).isEqualTo(7);
    assertThat(
            env.queryLong(
                "SELECT count(*) FROM dead_letter WHERE key = ? AND raw = ? AND reason LIKE ?",
                listKey,
                quarantine,
                "key holds a list%moved whole to " + quarantine + "%"))
        .isEqualTo(1);
    assertThat(redis.smembers(b(layout.adoptBatches(mapping, "a")))).isEmpty();
    assertThat(redis.lrange(b(quarantine), 0, -1))
        .hasSize(1); // a person decides what to do with it
    redis.del(b(quarantine));
  }

  static byte[] b(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  static byte[] bytes(String head, byte... tail) {
    byte[] h = b(head);
    byte[] out = Arrays.copyOf(h, h.length + tail.length);
    System.arraycopy(tail, 0, out, h.length, tail.length);
    return out;
  }
}
