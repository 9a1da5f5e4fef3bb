package dev.spillway.flush;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.Spillway;
import dev.spillway.SpillwayException;
import dev.spillway.store.DeadLetters;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.Spillways;
import dev.spillway.testing.TestEnv;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicInteger;
import org.assertj.core.api.Assertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Issue 2, case 5: a delta that would overflow a bigint lands in dead_letter with its reason, and
 * nothing else of that batch is lost. Covered at both places an overflow can happen: in PostgreSQL
 * (total + delta) and in Redis (the pending cell itself, HINCRBY refuses).
 */
@ExtendWith(ServicesExtension.class)
class DeadLetterTest {
  @Test
  void flush_totalWouldOverflow_deadLetteredRestApplied(TestEnv env) {
    try (Spillway sw = Spillways.builder(env).stripes(1).build()) {
      var c = sw.counters();
      c.increment("big", "k", Long.MAX_VALUE - 5);
      c.increment("big", "neighbour", 3);
      c.flush();
      ExactnessTest.drain(sw);
      // Same stripe (1 stripe), same batch: one cell overflows the stored total, others are fine.
      c.increment("big", "k", 10);
      c.increment("big", "neighbour", 4);
      c.increment("other", "x", 7);
      c.flush();
      FlushReport r = sw.flushOnce();
      assertThat(r.deadLetters()).isEqualTo(1);
      assertThat(r.batchesApplied()).isEqualTo(1);
    }
    assertThat(env.queryLong("SELECT total FROM counter_totals WHERE counter='big' AND key='k'"))
        .isEqualTo(Long.MAX_VALUE - 5);
    assertThat(
            env.queryLong(
                "SELECT total FROM counter_totals WHERE counter='big' AND key='neighbour'"))
        .isEqualTo(7);
    assertThat(env.queryLong("SELECT total FROM counter_totals WHERE counter='other' AND key='x'"))
        .isEqualTo(7);
    assertThat(
            env.queryLong(
                "SELECT delta::bigint FROM dead_letter WHERE counter='big' AND key='k'"
                    + " AND reason LIKE '%would overflow bigint%' AND source = 'counter'"
                    + " AND kind = 'unapplied'"))
        .isEqualTo(10);
  }

  @Test
  void drain_redisCellWouldOverflow_deadLetteredNotLost(TestEnv env) {
    try (Spillway sw = Spillways.builder(env).stripes(1).build()) {
      var c = sw.counters();
      c.increment("cell", "k", Long.MAX_VALUE);
      c.flush(); // the Redis cell now holds MAX
      c.increment(
          "cell", "k", 1); // HINCRBY would overflow: Redis refuses, the script keeps it aside
      c.increment("cell", "ok", 2);
      c.flush();
      assertThat(sw.counters().get("cell", "ok")).isEqualTo(2);
      ExactnessTest.drain(sw);
    }
    assertThat(env.queryLong("SELECT total FROM counter_totals WHERE counter='cell' AND key='k'"))
        .isEqualTo(Long.MAX_VALUE);
    assertThat(env.queryLong("SELECT total FROM counter_totals WHERE counter='cell' AND key='ok'"))
        .isEqualTo(2);
    assertThat(
            env.queryLong(
                "SELECT delta::bigint FROM dead_letter WHERE counter='cell' AND key='k'"
                    + " AND reason LIKE 'Redis refused HINCRBY%'"))
        .isEqualTo(1);
  }

  @Test
  void flush_foreignGarbageInStripe_deadLetteredWithRaw(TestEnv env) {
    try (Spillway sw = Spillways.builder(env).stripes(1).build();
        RedisClient rc = RedisClient.create(env.redisUri());
        StatefulRedisConnection<String, String> conn = rc.connect()) {
      sw.counters().increment("fine", "a", 5);
      sw.counters().flush();
      String live = env.keyPrefix() + "{0}:live";
      conn.sync().hset(live, "no-separators", "1");
      conn.sync().hset(live, "fine||b", "not-a-number");
      ExactnessTest.drain(sw);
    }
    assertThat(env.queryLong("SELECT total FROM counter_totals WHERE counter='fine' AND key='a'"))
        .isEqualTo(5);
    assertThat(
            env.queryLong(
                "SELECT count(*) FROM dead_letter WHERE raw = 'no-separators'"
                    + " AND reason LIKE '%counter|buckets|key%'"))
        .isEqualTo(1);
    assertThat(
            env.queryLong(
                "SELECT count(*) FROM dead_letter WHERE counter = 'fine' AND key = 'b'"
                    + " AND reason LIKE '%not a 64-bit integer%'"))
        .isEqualTo(1);
  }

  @Test
  void replay_fourPeopleAtOnceByIdAndPlain_rowAppliedOnce(TestEnv env) throws Exception {
    try (Spillway sw = Spillways.builder(env).stripes(1).build()) {
      var c = sw.counters();
      c.increment("race", "k", Long.MAX_VALUE - 5);
      c.flush();
      ExactnessTest.drain(sw);
      c.increment("race", "k", 10); // overflows: an unapplied dead letter
      c.flush();
      ExactnessTest.drain(sw);
      long id =
          env.queryLong("SELECT id FROM dead_letter WHERE counter = 'race' AND decision IS NULL");
      env.exec("UPDATE counter_totals SET total = 0 WHERE counter = 'race'"); // it fits now

      DeadLetters dl = sw.deadLetters();
      CyclicBarrier start = new CyclicBarrier(4);
      AtomicInteger applied = new AtomicInteger();
      Queue<Throwable> unexpected = new ConcurrentLinkedQueue<>();
      List<Thread> people = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        boolean byId = i % 2 == 0;
        String who = "person" + i;
        people.add(
            Thread.ofPlatform()
                .start(
                    () -> {
                      try {
                        start.await();
                        if (byId) {
                          dl.replayOne(sw.config(), id, who, null);
                          applied.incrementAndGet();
                        } else {
                          applied.addAndGet(dl.replay(sw.config(), null, who, null).replayed());
                        }
                      } catch (SpillwayException e) {
                        if (!e.getMessage().contains("was already replayed by person")) {
                          unexpected.add(e);
                        }
                      } catch (Exception e) {
                        unexpected.add(e);
                      }
                    }));
      }
      for (Thread t : people) {
        t.join(60_000);
      }
      assertThat(unexpected).isEmpty();
      assertThat(applied.get()).as("applied by exactly one person").isOne();
      assertThat(
              env.queryLong(
                  "SELECT total FROM counter_totals WHERE counter = 'race' AND key = 'k'"))
          .isEqualTo(10);
      assertThat(
              env.queryLong(
                  "SELECT count(*) FROM dead_letter WHERE id = ? AND decision = 'replayed'", id))
          .isOne();
    }
  }

  @Test
  void increment_invalidInput_refusedWithRule(TestEnv env) {
    try (Spillway sw = Spillways.builder(env).build()) {
      var c = sw.counters();
      Assertions.assertThatThrownBy(() -> c.increment("Page Views", "1"))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessage("counter name 'Page Views' must match [a-z][a-z0-9_.-]{0,63}");
      Assertions.assertThatThrownBy(() -> c.increment("pv", "a\tb"))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("without control characters");
      Assertions.assertThatThrownBy(() -> c.increment("pv", ""))
          .isInstanceOf(IllegalArgumentException.class);
      assertThat(c.pendingCells()).isZero();
    }
  }
}
