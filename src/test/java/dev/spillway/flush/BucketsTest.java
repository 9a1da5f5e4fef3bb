package dev.spillway.flush;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.Granularity;
import dev.spillway.Spillway;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.Spillways;
import dev.spillway.testing.TestEnv;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** A counter with buckets: one Redis cell per event fans out to the total and each granularity. */
@ExtendWith(ServicesExtension.class)
class BucketsTest {
  @Test
  void flush_bucketedCounter_totalsAndBucketsByEventTimeUtc(TestEnv env) {
    Instant t1 = Instant.parse("2026-11-26T10:15:30Z");
    Instant t2 = Instant.parse("2026-11-26T10:59:59Z");
    Instant t3 = Instant.parse("2026-11-26T23:30:00Z");
    Instant t4 = Instant.parse("2026-11-27T00:00:01Z");
    try (Spillway sw =
        Spillways.builder(env)
            .counter("views", Granularity.MINUTE, Granularity.HOUR, Granularity.DAY)
            .counter("calls", Granularity.DAY)
            .build()) {
      var c = sw.counters();
      c.increment("views", "p1", 1, t1);
      c.increment("views", "p1", 2, t2);
      c.increment("views", "p1", 4, t3);
      c.increment("views", "p1", 8, t4);
      c.increment("calls", "acme", 5, t1);
      c.increment("calls", "acme", 6, t3);
      c.flush();
      assertThat(c.get("views", "p1")).isEqualTo(15);
      ExactnessTest.drain(sw);
      assertThat(c.get("views", "p1")).isEqualTo(15);
    }
    assertThat(env.queryLong("SELECT total FROM counter_totals WHERE counter='views'"))
        .isEqualTo(15);
    assertThat(bucket(env, "views", 'm', "2026-11-26T10:15:00Z")).isEqualTo(1);
    assertThat(bucket(env, "views", 'm', "2026-11-26T10:59:00Z")).isEqualTo(2);
    assertThat(bucket(env, "views", 'h', "2026-11-26T10:00:00Z")).isEqualTo(3);
    assertThat(bucket(env, "views", 'h', "2026-11-26T23:00:00Z")).isEqualTo(4);
    assertThat(bucket(env, "views", 'd', "2026-11-26T00:00:00Z")).isEqualTo(7);
    assertThat(bucket(env, "views", 'd', "2026-11-27T00:00:00Z")).isEqualTo(8);
    assertThat(bucket(env, "calls", 'd', "2026-11-26T00:00:00Z")).isEqualTo(11);
    assertThat(env.queryLong("SELECT count(*) FROM counter_buckets WHERE counter='calls'"))
        .isEqualTo(1);
    assertThat(env.queryLong("SELECT total FROM counter_totals WHERE counter='calls'"))
        .isEqualTo(11);
  }

  private static long bucket(TestEnv env, String counter, char g, String start) {
    return env.queryLong(
        "SELECT value FROM counter_buckets WHERE counter = ? AND granularity = ?::\"char\""
            + " AND bucket_start = ?::timestamptz",
        counter,
        String.valueOf(g),
        start);
  }
}
