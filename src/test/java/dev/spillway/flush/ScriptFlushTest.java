package dev.spillway.flush;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.Spillway;
import dev.spillway.testing.RedisServerProcess;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.Spillways;
import dev.spillway.testing.TestEnv;
import dev.spillway.testing.TestRedis;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Redis forgets its scripts ({@code SCRIPT FLUSH}; likewise a restart, a promoted replica, a slot
 * moved to a node that never ran them) at the worst moments: between drain and claim, and between
 * commit and ack. Every step answers NOSCRIPT with the script's text and finishes in the same call:
 * one flush run leaves nothing pending, one adopt run leaves no batch behind.
 *
 * <p>On its own server: flushing the scripts of the shared one would disturb other classes.
 */
@ExtendWith(ServicesExtension.class)
class ScriptFlushTest {

  @Test
  void scriptsForgotten_beforeDrainClaimAndAck_everyStepStillCompletesInOneCall(TestEnv env) {
    try (RedisServerProcess server = RedisServerProcess.start();
        TestRedis redis = TestRedis.connect(server.uri(), false)) {
      FlushListener forgetBeforeAck =
          new FlushListener() {
            @Override
            public void afterCommit(Set<String> batchIds) {
              redis.sync().scriptFlush();
            }
          };
      try (Spillway sw =
          Spillways.builder(env).redisUri(server.uri()).flushListener(forgetBeforeAck).build()) {
        sleep(2_500); // past the text window the start opened
        redis.sync().scriptFlush();
        sw.counters().increment("hits", "a", 3);
        sw.counters().flush(); // the drain meets NOSCRIPT
        redis.sync().scriptFlush();
        FlushReport r = sw.flushOnce(); // the claim meets NOSCRIPT, then the ack does
        assertThat(r.ok()).as(r.toString()).isTrue();
        assertThat(r.batchesApplied()).isEqualTo(1);
        assertThat(redis.keys(env.keyPrefix() + "*batch*"))
            .as("acknowledged in the same run")
            .isEmpty();
        assertThat(env.queryLong("SELECT total FROM counter_totals WHERE key = 'a'")).isEqualTo(3);

        AdoptFixtures.createTables(env, 10);
        redis.sync().set("sf:views:4", "5");
        try (Spillway adopter =
            Spillways.builder(env)
                .redisUri(server.uri())
                .adopt(AdoptFixtures.pageViews(env, "sf:"))
                .flushListener(forgetBeforeAck)
                .build()) {
          sleep(2_500);
          redis.sync().scriptFlush();
          FlushReport a = adopter.adoptOnce("page-views"); // claim, then ack, meet NOSCRIPT
          assertThat(a.ok()).as(a.toString()).isTrue();
          assertThat(redis.keys(env.keyPrefix() + "*adopt*"))
              .as("acknowledged in the same run")
              .isEmpty();
          assertThat(env.queryLong("SELECT view_count FROM pages WHERE id = 4")).isEqualTo(5);
        }
      }
    }
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
