package dev.spillway.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.spillway.Spillway;
import dev.spillway.config.CacheSettings;
import dev.spillway.testing.RedisServerProcess;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.TestEnv;
import io.lettuce.core.AclSetuserArgs;
import io.lettuce.core.RedisClient;
import io.lettuce.core.protocol.CommandType;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * {@code cachedCounters()}: a cached view of flushed totals that every flush invalidates, in every
 * instance. The TTL is set to a minute so that only the flush's invalidation can explain a
 * refreshed value.
 */
@ExtendWith(ServicesExtension.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class CachedCountersTest {

  /** Entries that live a minute: within a test only an invalidation can refresh a value. */
  private static final CacheSettings MINUTE =
      CacheFixtures.EXACT.toBuilder()
          .countersTtl(Duration.ofMinutes(1))
          .l1Ttl(Duration.ofMinutes(1))
          .build();

  /** Entries that live 100 ms, loads bounded by a second: a reader marker of 3.33 s. */
  private static final CacheSettings BRIEF =
      CacheFixtures.EXACT.toBuilder()
          .countersTtl(Duration.ofMillis(100))
          .l1Ttl(Duration.ofMillis(100))
          .leaseTime(Duration.ofSeconds(1))
          .leaseWait(Duration.ofMillis(500))
          .maxLoadTime(Duration.ofSeconds(1))
          .build();

  private static String marker(TestEnv env) {
    return CacheFixtures.cachePrefix(env) + "readers:spillway.counters";
  }

  /** Every test starts with no reader marker (the tests share one cache prefix). */
  @BeforeEach
  void noReaderYet(TestEnv env) {
    RedisClient client = RedisClient.create(env.redisUri());
    try (var conn = client.connect()) {
      conn.sync().del(marker(env));
    } finally {
      client.shutdown();
    }
  }

  @Test
  void cached_flushInvalidates_everyInstanceSeesFlushedTotal(TestEnv env) {
    CacheSettings s = MINUTE;
    try (Spillway a = CacheFixtures.runtime(env, s);
        Spillway b = CacheFixtures.runtime(env, s)) {
      assertThat(b.cachedCounters().get("page_views", "42")).isZero(); // nothing flushed yet
      a.counters().increment("page_views", "42", 5);
      a.counters().flush();
      assertThat(b.cachedCounters().get("page_views", "42")).as("not flushed: cached 0").isZero();
      a.flushOnce();
      await()
          .atMost(Duration.ofSeconds(5))
          .until(() -> b.cachedCounters().get("page_views", "42") == 5);
      assertThat(a.cachedCounters().get("page_views", "42")).isEqualTo(5);

      a.counters().increment("page_views", "42", 3);
      a.counters().flush();
      assertThat(b.cachedCounters().get("page_views", "42"))
          .as("pending, not flushed")
          .isEqualTo(5);
      assertThat(b.counters().get("page_views", "42"))
          .as("the exact read sees pending")
          .isEqualTo(8);
      b.flushOnce(); // any runtime's flush invalidates every instance
      await()
          .atMost(Duration.ofSeconds(5))
          .until(() -> a.cachedCounters().get("page_views", "42") == 8);
      await()
          .atMost(Duration.ofSeconds(5))
          .until(() -> b.cachedCounters().get("page_views", "42") == 8);
      assertThat(
              a.meterRegistry()
                  .counter(
                      "spillway.cache.loads", "cache", "spillway.counters", "outcome", "success")
                  .count())
          .isLessThanOrEqualTo(4);
    }
    CacheFixtures.assertEveryKeyHasTtl(env.redisUri(), CacheFixtures.cachePrefix(env));
  }

  /**
   * A flush invalidates only what is cached (or being loaded): 200 counter keys nobody read through
   * the cache leave no generation key behind, while the one that was cached is invalidated.
   */
  @Test
  void flush_ofKeysCachedNowhere_writesNothingToTheCache(TestEnv env) {
    try (Spillway sw = CacheFixtures.runtime(env, CacheFixtures.EXACT)) {
      assertThat(sw.cachedCounters().get("cold", "read")).isZero();
      for (int i = 0; i < 200; i++) {
        sw.counters().increment("cold", "k" + i);
      }
      sw.counters().increment("cold", "read", 7);
      sw.counters().flush();
      sw.flushOnce();
      await()
          .atMost(Duration.ofSeconds(5))
          .until(() -> sw.cachedCounters().get("cold", "read") == 7);
      List<String> generations =
          CacheFixtures.keys(env.redisUri(), CacheFixtures.cachePrefix(env) + "*cold*}:i");
      assertThat(generations).as("generation keys written by the flush").hasSize(1);
      assertThat(generations.get(0)).contains("read");
    }
  }

  /**
   * With no runtime reading counters through the cache, a flush sends no invalidation at all (no
   * script per key, no bus message): it counts the cells as skipped. Once a runtime reads, its
   * marker is in Redis with a TTL, and the next flush invalidates as before.
   */
  @Test
  void flush_withNoCachedCounterReader_sendsNoInvalidation(TestEnv env) {
    try (Spillway writer = CacheFixtures.runtime(env, CacheFixtures.EXACT);
        Spillway reader = CacheFixtures.runtime(env, CacheFixtures.EXACT)) {
      String marker = marker(env);
      assertThat(CacheFixtures.keys(env.redisUri(), marker)).as("nobody read yet").isEmpty();
      for (int i = 0; i < 300; i++) {
        writer.counters().increment("unread", "k" + i);
      }
      writer.counters().flush();
      assertThat(writer.flushOnce().cells()).isEqualTo(300);
      await().atMost(Duration.ofSeconds(5)).until(() -> skipped(writer) == 300);
      assertThat(published(writer)).as("bus messages").isZero();
      assertThat(CacheFixtures.keys(env.redisUri(), CacheFixtures.cachePrefix(env) + "*unread*"))
          .as("cache keys written by the flush")
          .isEmpty();

      assertThat(reader.cachedCounters().get("unread", "k1")).isEqualTo(1);
      assertThat(CacheFixtures.keys(env.redisUri(), marker)).as("the reader's marker").hasSize(1);
      CacheFixtures.assertEveryKeyHasTtl(env.redisUri(), CacheFixtures.cachePrefix(env));
      writer.counters().increment("unread", "k1", 4);
      writer.counters().flush();
      writer.flushOnce();
      await()
          .atMost(Duration.ofSeconds(5))
          .until(() -> reader.cachedCounters().get("unread", "k1") == 5);
      assertThat(skipped(writer)).as("nothing more skipped").isEqualTo(300);
      assertThat(published(writer)).as("bus messages").isPositive();
    }
  }

  /**
   * The marker outlives anything its reader cached, then goes: a reader that stopped reading no
   * longer costs flushes anything.
   */
  @Test
  void readerMarker_expiresAfterTheReaderStops(TestEnv env) {
    CacheSettings s = BRIEF;
    try (Spillway sw = CacheFixtures.runtime(env, s)) {
      String marker = marker(env);
      assertThat(sw.cachedCounters().get("gone", "k")).isZero();
      assertThat(CacheFixtures.keys(env.redisUri(), marker)).hasSize(1);
      // Lives 3 x (100 ms + 10 % jitter + 1 s of load time) = 3.33 s.
      await()
          .atMost(Duration.ofSeconds(10))
          .pollInterval(Duration.ofMillis(200))
          .until(() -> CacheFixtures.keys(env.redisUri(), marker).isEmpty());
      sw.counters().increment("gone", "k", 2);
      sw.counters().flush();
      sw.flushOnce();
      await().atMost(Duration.ofSeconds(5)).until(() -> skipped(sw) == 1);
    }
  }

  /**
   * A runtime with a shorter entry lifetime refreshing the marker never shortens the life another
   * runtime's entries count on: the TTL only grows.
   */
  @Test
  void readerMarker_ttlOnlyGrows(TestEnv env) {
    CacheSettings longLived = MINUTE;
    CacheSettings shortLived = BRIEF;
    String marker = marker(env);
    RedisClient client = RedisClient.create(env.redisUri());
    try (var conn = client.connect();
        Spillway a = CacheFixtures.runtime(env, longLived);
        Spillway b = CacheFixtures.runtime(env, shortLived)) {
      a.cachedCounters().get("ttl", "k");
      long afterLong = conn.sync().pttl(marker);
      assertThat(afterLong).as("3 x (66 s + max-load-time)").isGreaterThan(180_000);
      b.cachedCounters().get("ttl", "k");
      assertThat(conn.sync().pttl(marker))
          .as("after the short-lived reader")
          .isGreaterThan(170_000);
    } finally {
      client.shutdown();
    }
  }

  /**
   * A reader that Redis does not confirm as a reader (here its Redis user may not run scripts, so
   * the marker's script and the cache's lease are refused while plain reads and the bus work)
   * caches nothing: it reads PostgreSQL. A flush then finds no marker and sends nothing, and the
   * reader still sees it at once. Had it cached the total loaded meanwhile in its L1, it would have
   * kept the old total for the whole TTL.
   */
  @Test
  void readerNotConfirmed_cachesNothing_seesTheNextFlush(TestEnv env) {
    CacheSettings s = MINUTE;
    RedisClient client = null;
    try (RedisServerProcess redis = RedisServerProcess.start()) {
      client = RedisClient.create(redis.uri());
      try (var conn = client.connect()) {
        conn.sync()
            .aclSetuser(
                "noscripts",
                AclSetuserArgs.Builder.on()
                    .addPassword("pw")
                    .allKeys()
                    .allChannels()
                    .allCommands()
                    .removeCommand(CommandType.EVALSHA)
                    .removeCommand(CommandType.EVAL));
      }
      String limited = "redis://noscripts:pw@127.0.0.1:" + redis.port();
      try (Spillway writer = CacheFixtures.runtime(env, redis.uri(), s);
          Spillway reader = CacheFixtures.runtime(env, limited, s)) {
        assertThat(reader.cachedCounters().get("refused", "k")).isZero();
        writer.counters().increment("refused", "k", 5);
        writer.counters().flush();
        assertThat(writer.flushOnce().cells()).isEqualTo(1);
        assertThat(CacheFixtures.keys(redis.uri(), CacheFixtures.cachePrefix(env) + "readers:*"))
            .as("no marker: the reader was never confirmed")
            .isEmpty();
        assertThat(reader.cachedCounters().get("refused", "k"))
            .as("no stale cached 0")
            .isEqualTo(5);
      }
    } finally {
      if (client != null) {
        client.shutdown();
      }
    }
  }

  private static double skipped(Spillway sw) {
    var c = sw.meterRegistry().find("spillway.cache.counters.invalidations.skipped").counter();
    return c == null ? 0 : c.count();
  }

  private static double published(Spillway sw) {
    var c =
        sw.meterRegistry()
            .find("spillway.cache.bus.messages")
            .tag("direction", "published")
            .counter();
    return c == null ? 0 : c.count();
  }
}
