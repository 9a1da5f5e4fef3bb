package dev.spillway.cache;

import static dev.spillway.cache.CacheFixtures.User;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.spillway.Spillway;
import dev.spillway.config.CacheSettings;
import dev.spillway.testing.RedisServerProcess;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.TestEnv;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Issue 5, case 7: with a test-owned Redis stopped, reads still answer, from the loader within the
 * time box and then from L1, and never throw; an invalidation made meanwhile reaches Redis once it
 * is back.
 */
@ExtendWith(ServicesExtension.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class RedisDownTest {

  @Test
  void get_redisStopped_answersFromL1OrLoaderWithinTimeBox(TestEnv env) {
    CacheFixtures.createUsers(env, 5);
    AtomicInteger loads = new AtomicInteger();
    CacheSettings s = CacheSettings.builder().redisTimeout(Duration.ofMillis(200)).build();
    try (RedisServerProcess server = RedisServerProcess.start();
        Spillway sw = CacheFixtures.runtime(env, server.uri(), s)) {
      CacheAside<Long, User> users =
          sw.cache("user", Long.class, User.class)
              .loader(
                  id -> {
                    loads.incrementAndGet();
                    return CacheFixtures.loadUser(env, id, 0);
                  })
              .build();
      assertThat(users.get(1L).name()).isEqualTo("user-1");
      assertThat(loads.get()).isEqualTo(1);

      server.stop();
      // The bus subscription dropped with Redis, so L1 is cleared once (a message may have been
      // missed); from then on L1 serves what the loader answers.
      await()
          .atMost(Duration.ofSeconds(10))
          .until(
              () ->
                  sw.meterRegistry()
                          .counter("spillway.cache.l1.clears", "reason", "disconnected")
                          .count()
                      >= 1);
      for (long id = 1; id <= 5; id++) {
        long t0 = System.nanoTime();
        assertThat(users.get(id).name()).isEqualTo("user-" + id);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        // Time box 200 ms plus the loader's own query; generous for a loaded 2-core machine.
        assertThat(ms).as("get %d with Redis stopped took %d ms", id, ms).isLessThan(2_000);
      }
      assertThat(loads.get()).isEqualTo(6);
      assertThat(users.get(3L).name())
          .as("loaded while Redis was away, L1 serves")
          .isEqualTo("user-3");
      assertThat(loads.get()).isEqualTo(6);
      assertThat(users.getAll(List.of(1L, 2L, 3L))).hasSize(3);

      users.invalidate(1L); // must not throw; queued until Redis is back
      env.exec("UPDATE users SET name = 'changed' WHERE id = 1");
      assertThat(users.get(1L).name()).isEqualTo("changed");
      double failures =
          sw.meterRegistry().counter("spillway.cache.redis.errors", "cache", "user").count()
              + sw.meterRegistry()
                  .counter("spillway.cache.redis.bypassed", "cache", "user")
                  .count();
      assertThat(failures).isPositive();

      server.restart(); // empty, like a Redis that lost its data
      await()
          .atMost(Duration.ofSeconds(15))
          .until(
              () ->
                  sw.meterRegistry().counter("spillway.cache.invalidations.retried").count() >= 1);
      assertThat(users.get(1L).name()).isEqualTo("changed");
      CacheFixtures.assertEveryKeyHasTtl(server.uri(), CacheFixtures.cachePrefix(env));
    }
  }
}
