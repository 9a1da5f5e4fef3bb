package dev.spillway.flush;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.Spillway;
import dev.spillway.testing.RedisServerProcess;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.Spillways;
import dev.spillway.testing.TestEnv;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.output.StatusOutput;
import io.lettuce.core.protocol.CommandArgs;
import io.lettuce.core.protocol.CommandType;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Issue 3, case 3: a keyspace of 1M unrelated keys plus 10k matching ones. The adopt run takes only
 * the matching keys, and Redis keeps answering another client throughout (SCAN does bounded work
 * per call; there is no KEYS). Runs on a Redis of its own, so the 1M keys bother nobody.
 */
@ExtendWith(ServicesExtension.class)
class AdoptScanTest {
  @Test
  void adopt_millionUnrelatedKeys_takesOnlyMatching_redisStaysResponsive(TestEnv env)
      throws Exception {
    AdoptFixtures.createTables(env, 10_000);
    try (RedisServerProcess redis = RedisServerProcess.start("--enable-debug-command", "yes");
        RedisClient client = RedisClient.create(redis.uri());
        StatefulRedisConnection<String, String> conn = client.connect();
        StatefulRedisConnection<String, String> probe = client.connect()) {
      // keys other:0 .. other:999999, created server-side in one command
      conn.sync()
          .dispatch(
              CommandType.DEBUG,
              new StatusOutput<>(StringCodec.UTF8),
              new CommandArgs<>(StringCodec.UTF8).add("POPULATE").add(1_000_000).add("other"));
      List<RedisFuture<String>> sets = new ArrayList<>();
      for (int p = 0; p < 10_000; p++) {
        sets.add(conn.async().set("t:views:" + p, Integer.toString(p % 7 + 1)));
      }
      for (RedisFuture<String> f : sets) {
        f.get(10, TimeUnit.SECONDS);
      }
      assertThat(conn.sync().dbsize()).isEqualTo(1_010_000);

      AtomicBoolean running = new AtomicBoolean(true);
      AtomicLong pings = new AtomicLong();
      AtomicLong worstMicros = new AtomicLong();
      Thread prober =
          Thread.ofPlatform()
              .start(
                  () -> {
                    while (running.get()) {
                      long t0 = System.nanoTime();
                      probe.sync().ping();
                      worstMicros.accumulateAndGet((System.nanoTime() - t0) / 1000, Math::max);
                      pings.incrementAndGet();
                    }
                  });
      FlushReport r;
      long pingsBefore;
      try (Spillway sw =
          Spillways.builder(env)
              .redisUri(redis.uri())
              .adopt(AdoptFixtures.pageViews(env, "t:"))
              .build()) {
        pingsBefore = pings.get();
        r = sw.adoptOnce("page-views");
      } finally {
        running.set(false);
        prober.join();
      }
      assertThat(r.ok()).as(r.toString()).isTrue();
      assertThat(r.cells()).isEqualTo(10_000);
      assertThat(conn.sync().dbsize()).as("only the matching keys were taken").isEqualTo(1_000_000);
      assertThat(conn.sync().exists("other:0", "other:999999")).isEqualTo(2);
      assertThat(env.queryLong("SELECT sum(view_count) FROM pages")).isEqualTo(expectedSum());
      long answered = pings.get() - pingsBefore;
      System.out.printf(
          "adopt over 1,010,000 keys: %d ms, %d matching values moved; another client got %d PINGs"
              + " answered meanwhile, slowest %.1f ms%n",
          r.duration().toMillis(), r.cells(), answered, worstMicros.get() / 1000.0);
      assertThat(answered).as("PINGs answered during the adopt run").isGreaterThan(10);
    }
  }

  private static long expectedSum() {
    long s = 0;
    for (int p = 0; p < 10_000; p++) {
      s += p % 7 + 1;
    }
    return s;
  }
}
