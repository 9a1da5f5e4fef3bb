package dev.spillway.cache;

import static dev.spillway.cache.CacheFixtures.User;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.spillway.Spillway;
import dev.spillway.config.CacheSettings;
import dev.spillway.testing.RedisServerProcess;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.TestEnv;
import io.lettuce.core.KillArgs;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Issue 5, case 3: the bus subscription killed by the server ({@code CLIENT KILL TYPE pubsub}) on a
 * test-owned Redis: L1 is cleared, the runtime re-subscribes, and the next invalidation arrives.
 */
@ExtendWith(ServicesExtension.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class BusReconnectTest {

  @Test
  void subscriptionKilled_l1ClearedResubscribedNextInvalidationArrives(TestEnv env) {
    CacheFixtures.createUsers(env, 5);
    CacheSettings s = CacheSettings.builder().l1Ttl(Duration.ofMinutes(1)).build();
    try (RedisServerProcess server = RedisServerProcess.start();
        Spillway a = CacheFixtures.runtime(env, server.uri(), s);
        Spillway b = CacheFixtures.runtime(env, server.uri(), s)) {
      CacheAside<Long, User> onA =
          a.cache("user", Long.class, User.class)
              .loader(id -> CacheFixtures.loadUser(env, id, 0))
              .build();
      DefaultCacheAside<Long, User> onB =
          CacheFixtures.engine(
              b.cache("user", Long.class, User.class)
                  .loader(id -> CacheFixtures.loadUser(env, id, 0))
                  .build());
      onB.get(1L);
      onB.get(2L);
      assertThat(onB.inL1(1L)).isTrue();

      RedisClient admin = RedisClient.create(server.uri());
      try (StatefulRedisConnection<String, String> c = admin.connect()) {
        String killed = c.sync().clientKill(KillArgs.Builder.typePubsub()).toString();
        assertThat(Long.parseLong(killed)).as("pub/sub connections killed").isEqualTo(2);
      } finally {
        admin.shutdown(Duration.ZERO, Duration.ofSeconds(2));
      }

      // L1 cleared on the drop (and again on the re-subscription), without any message.
      await().atMost(Duration.ofSeconds(5)).until(() -> onB.l1Size() == 0);
      await()
          .atMost(Duration.ofSeconds(10))
          .until(
              () ->
                  b.meterRegistry()
                          .counter("spillway.cache.l1.clears", "reason", "resubscribed")
                          .count()
                      >= 1);
      assertThat(
              b.meterRegistry()
                  .counter("spillway.cache.l1.clears", "reason", "disconnected")
                  .count())
          .isGreaterThanOrEqualTo(1);

      onB.get(1L);
      assertThat(onB.inL1(1L)).isTrue();
      onA.invalidate(1L);
      await().atMost(Duration.ofSeconds(5)).until(() -> !onB.inL1(1L));
      CacheFixtures.assertEveryKeyHasTtl(server.uri(), CacheFixtures.cachePrefix(env));
    }
  }
}
