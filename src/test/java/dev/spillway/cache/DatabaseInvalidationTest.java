package dev.spillway.cache;

import static dev.spillway.cache.CacheFixtures.User;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.spillway.Spillway;
import dev.spillway.config.CacheSettings;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.TestEnv;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Issue 5, case 8: a change made in PostgreSQL by plain SQL (no application code, no invalidate
 * call) evicts the cached entity on every instance, through the trigger function of migration V30,
 * NOTIFY, the relay in the runtime with {@code listen-database: true}, and the bus.
 */
@ExtendWith(ServicesExtension.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class DatabaseInvalidationTest {

  @Test
  void trigger_rowChangedBySql_evictsEveryInstance(TestEnv env) {
    CacheSettings relaying =
        CacheSettings.builder().listenDatabase(true).l1Ttl(Duration.ofMinutes(1)).build();
    CacheSettings plain = CacheSettings.builder().l1Ttl(Duration.ofMinutes(1)).build();
    try (Spillway worker = CacheFixtures.runtime(env, relaying);
        Spillway a = CacheFixtures.runtime(env, plain);
        Spillway b = CacheFixtures.runtime(env, plain)) {
      CacheFixtures.createUsers(env, 10);
      env.exec(
          "CREATE TRIGGER users_cache AFTER INSERT OR UPDATE OR DELETE ON users"
              + " FOR EACH ROW EXECUTE FUNCTION "
              + env.schema()
              + ".cache_invalidate('user', 'id')");
      env.exec(
          "CREATE TRIGGER users_team_cache AFTER INSERT OR UPDATE OR DELETE ON users"
              + " FOR EACH ROW EXECUTE FUNCTION "
              + env.schema()
              + ".cache_invalidate('#team:', 'member', 'team_id')");
      CacheAside<Long, User> onA = users(a, env);
      CacheAside<Long, User> onB = users(b, env);
      assertThat(onA.get(1L).name()).isEqualTo("user-1");
      assertThat(onB.get(1L).name()).isEqualTo("user-1");
      assertThat(onA.get(99L)).as("no such row: remembered as null").isNull();

      // The relay connects asynchronously: repeat the (idempotent) change until it is relayed.
      await()
          .atMost(Duration.ofSeconds(20))
          .untilAsserted(
              () -> {
                env.exec("UPDATE users SET name = 'alice' WHERE id = 1");
                assertThat(onA.get(1L).name()).isEqualTo("alice");
              });
      await().atMost(Duration.ofSeconds(5)).until(() -> "alice".equals(onB.get(1L).name()));

      // Once relaying, a single statement suffices, INSERTs included (the cached null goes).
      env.exec("INSERT INTO users VALUES (99, 'new', 8)");
      await()
          .atMost(Duration.ofSeconds(5))
          .until(() -> onA.get(99L) != null && onB.get(99L) != null);
      env.exec("DELETE FROM users WHERE id = 2");
      onB.get(3L);
      await().atMost(Duration.ofSeconds(5)).until(() -> onA.get(2L) == null && onB.get(2L) == null);

      // The tag form: a change to any team-7 row bumps tag team:7 of cache "member".
      CacheAside<Long, User> membersA =
          a.cache("member", Long.class, User.class)
              .loader(id -> CacheFixtures.loadUser(env, id, 0))
              .tags(u -> List.of("team:" + u.teamId()))
              .build();
      assertThat(membersA.get(5L).name()).isEqualTo("user-5"); // team 7
      assertThat(membersA.get(6L).name()).isEqualTo("user-6"); // team 8
      env.exec("UPDATE users SET name = 'five' WHERE id = 5");
      await().atMost(Duration.ofSeconds(5)).until(() -> "five".equals(membersA.get(5L).name()));
      assertThat(worker.meterRegistry().counter("spillway.cache.relay.notifications").count())
          .isGreaterThanOrEqualTo(4);
    }
    CacheFixtures.assertEveryKeyHasTtl(env.redisUri(), CacheFixtures.cachePrefix(env));
  }

  private static CacheAside<Long, User> users(Spillway sw, TestEnv env) {
    return sw.cache("user", Long.class, User.class)
        .loader(id -> CacheFixtures.loadUser(env, id, 0))
        .build();
  }
}
