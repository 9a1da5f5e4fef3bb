package dev.spillway.schedule;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.Spillway;
import dev.spillway.layout.KeyLayout;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.Spillways;
import dev.spillway.testing.TestEnv;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Ledger pruning and the dead-letter monitor against real PostgreSQL and Redis. */
@ExtendWith(ServicesExtension.class)
class LedgerPrunerTest {
  static final Duration RETENTION = Duration.ofDays(7);
  private static Spillway sw;
  private static RedisClient client;
  private static StatefulRedisConnection<String, String> redis;

  @BeforeAll
  static void open(TestEnv env) {
    sw = Spillways.builder(env).build();
    client = RedisClient.create(env.redisUri());
    redis = client.connect();
  }

  @AfterAll
  static void close() {
    redis.close();
    client.shutdown();
    sw.close();
  }

  @BeforeEach
  void ledger(TestEnv env) {
    env.exec("DELETE FROM flush_ledger");
    // 12,000 old rows: more than two chunks of the DELETE.
    env.exec(
        "INSERT INTO flush_ledger (batch_id, stripe, cells, delta_sum, applied_at)"
            + " SELECT 'old-' || g, 0, 1, 1, now() - interval '8 days'"
            + " FROM generate_series(1, 12000) g");
    env.exec(
        "INSERT INTO flush_ledger (batch_id, stripe, cells, delta_sum, applied_at)"
            + " VALUES ('recent', 0, 1, 1, now() - interval '1 hour')");
  }

  @Test
  void prune_nothingPending_deletesRowsOlderThanTheRetentionOnly(TestEnv env) {
    LedgerPruner p = pruner(env, () -> new PendingBatches.Summary(0, Optional.empty()));

    LedgerPruner.Result r = p.prune();

    assertThat(r.outcome()).isEqualTo(LedgerPruner.Outcome.PRUNED);
    assertThat(r.deleted()).isEqualTo(12_000);
    assertThat(env.queryLong("SELECT count(*) FROM flush_ledger")).isOne();
  }

  @Test
  void prune_pendingBatchOlderThanTheRetention_refusesAndDeletesNothing(TestEnv env) {
    KeyLayout layout = new KeyLayout(env.keyPrefix(), 64);
    String oldId =
        Long.toString(Instant.now().minus(Duration.ofDays(8)).toEpochMilli(), 36) + "-abc";
    redis.sync().sadd(layout.batches(5), oldId);
    try {
      LedgerPruner p =
          pruner(
              env,
              () ->
                  PendingBatches.scan(
                      redis.async(), layout, List.of(), false, Duration.ofSeconds(5)));

      LedgerPruner.Result r = p.prune();

      assertThat(r.outcome()).isEqualTo(LedgerPruner.Outcome.SKIPPED);
      assertThat(r.reason())
          .contains("a batch pending in Redis is 8d old")
          .contains("retention 7d");
      assertThat(env.queryLong("SELECT count(*) FROM flush_ledger")).isEqualTo(12_001);
    } finally {
      redis.sync().srem(layout.batches(5), oldId);
    }
  }

  @Test
  void prune_pendingBatchYoungerThanTheRetention_prunes(TestEnv env) {
    Instant claimed = Instant.now().minus(Duration.ofDays(2));
    LedgerPruner p = pruner(env, () -> new PendingBatches.Summary(3, Optional.of(claimed)));

    assertThat(p.prune().deleted()).isEqualTo(12_000);
  }

  @Test
  void prune_redisUnreadable_refuses(TestEnv env) {
    LedgerPruner p =
        pruner(
            env,
            () -> {
              throw new IllegalStateException("Connection refused");
            });

    LedgerPruner.Result r = p.prune();

    assertThat(r.outcome()).isEqualTo(LedgerPruner.Outcome.SKIPPED);
    assertThat(env.queryLong("SELECT count(*) FROM flush_ledger")).isEqualTo(12_001);
  }

  @Test
  void deadLetterMonitor_check_countsWaitingRowsIntoTheGauge(TestEnv env) {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    DeadLetterMonitor m =
        new DeadLetterMonitor(sw.dataSource(), env.schema(), registry, InstantSource.system());
    assertThat(registry.get("spillway.dead.letters.waiting").gauge().value()).isNaN();
    env.exec("INSERT INTO dead_letter (batch_id, source, reason) VALUES ('b1', 'counter', 'test')");
    env.exec(
        "INSERT INTO dead_letter (batch_id, source, reason, replayed_at) VALUES ('b2', 'counter',"
            + " 'test', now())");
    try {
      DeadLetterMonitor.Waiting w = m.check();

      assertThat(w.count()).isOne();
      assertThat(w.oldest()).isPresent();
      assertThat(registry.get("spillway.dead.letters.waiting").gauge().value()).isEqualTo(1.0);
    } finally {
      env.exec("DELETE FROM dead_letter");
    }
  }

  private static LedgerPruner pruner(TestEnv env, Supplier<PendingBatches.Summary> pending) {
    return new LedgerPruner(
        sw.dataSource(),
        env.schema(),
        RETENTION,
        pending,
        InstantSource.system(),
        new SimpleMeterRegistry());
  }
}
