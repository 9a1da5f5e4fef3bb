package dev.spillway.flush;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.Spillway;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.Spillways;
import dev.spillway.testing.TestEnv;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RestoreArgs;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.codec.ByteArrayCodec;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Redis rolling back (AOF everysec after a crash, a lagging replica promoted) must not make
 * Spillway count twice or stop delivering. Simulated by DUMPing a stripe's keys and RESTOREing them
 * after the state moved on.
 */
@ExtendWith(ServicesExtension.class)
class RedisRollbackTest {
  private static Map<String, byte[]> snapshot(
      StatefulRedisConnection<byte[], byte[]> raw, List<String> keys) {
    Map<String, byte[]> out = new HashMap<>();
    for (String k : keys) {
      byte[] d = raw.sync().dump(k.getBytes(StandardCharsets.UTF_8));
      out.put(k, d);
    }
    return out;
  }

  private static void restore(
      StatefulRedisConnection<byte[], byte[]> raw, Map<String, byte[]> snap) {
    for (var e : snap.entrySet()) {
      byte[] key = e.getKey().getBytes(StandardCharsets.UTF_8);
      raw.sync().del(key);
      if (e.getValue() != null) {
        raw.sync().restore(key, e.getValue(), RestoreArgs.Builder.ttl(0).replace());
      }
    }
  }

  @Test
  void flush_redisRolledBackToBeforeAnAppliedClaim_resurrectedCellsDeadLetteredNotCountedTwice(
      TestEnv env) {
    String p = env.keyPrefix();
    List<String> stripeKeys =
        List.of(p + "{0}:live", p + "{0}:epoch", p + "{0}:batches", p + "{0}:seen");
    try (Spillway sw = Spillways.builder(env).stripes(1).build();
        RedisClient rc = RedisClient.create(env.redisUri());
        StatefulRedisConnection<byte[], byte[]> raw = rc.connect(ByteArrayCodec.INSTANCE)) {
      var c = sw.counters();
      c.increment("rb", "a", 5);
      c.flush();
      ExactnessTest.drain(sw); // claim #1 applied: a = 5
      c.increment("rb", "a", 2);
      c.increment("rb", "b", 3);
      c.flush();
      Map<String, byte[]> before = snapshot(raw, stripeKeys); // live: a=2, b=3; claims so far: 1
      FlushReport applied = sw.flushOnce(); // claim #2 applied: a = 7, b = 3
      assertThat(applied.batchesApplied()).isEqualTo(1);

      restore(raw, before); // Redis "rolls back": claim #2 never happened, its cells are back
      FlushReport after = sw.flushOnce(); // reissues claim #2
      assertThat(after.ok()).as(after.toString()).isTrue();
      assertThat(after.deadLetters()).isEqualTo(2);
      assertThat(c.get("rb", "a")).isEqualTo(7);
      assertThat(c.get("rb", "b")).isEqualTo(3);
      ExactnessTest.drain(sw);
    }
    assertThat(env.queryLong("SELECT total FROM counter_totals WHERE counter = 'rb' AND key = 'a'"))
        .as("not counted twice")
        .isEqualTo(7);
    assertThat(env.queryLong("SELECT total FROM counter_totals WHERE counter = 'rb' AND key = 'b'"))
        .isEqualTo(3);
    assertThat(
            env.queryLong(
                "SELECT count(*) FROM dead_letter WHERE reason LIKE 'Redis rolled back to before"
                    + " claim%' AND kind = 'maybe_counted'"))
        .isEqualTo(2);
  }

  @Test
  void drain_redisLostAcknowledgedPackets_clientResyncsAndKeepsDelivering(TestEnv env) {
    String p = env.keyPrefix();
    try (Spillway sw = Spillways.builder(env).stripes(1).build();
        RedisClient rc = RedisClient.create(env.redisUri());
        StatefulRedisConnection<byte[], byte[]> raw = rc.connect(ByteArrayCodec.INSTANCE)) {
      var c = sw.counters();
      c.increment("rs", "a", 1);
      c.flush(); // packet 1
      Map<String, byte[]> before = snapshot(raw, List.of(p + "{0}:seen", p + "{0}:live"));
      c.increment("rs", "a", 10);
      c.flush(); // packet 2
      c.increment("rs", "a", 100);
      c.flush(); // packet 3
      restore(raw, before); // Redis forgets packets 2 and 3 (and their 110)
      c.increment("rs", "a", 1000);
      c.flush(); // packet 4 would be a gap forever; it resyncs instead
      assertThat(c.pendingCells()).isZero();
      c.increment("rs", "a", 10000);
      c.flush();
      ExactnessTest.drain(sw);
      // 1 + 1000 + 10000: the 110 Redis lost are gone (Redis's durability bounds that), but the
      // client keeps delivering.
      assertThat(c.get("rs", "a")).isEqualTo(11001);
    }
  }
}
