package dev.spillway.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.spillway.Spillway;
import dev.spillway.config.CacheSettings;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.TestEnv;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The counter invalidation queue is bounded ({@code cache.counters-invalidation-queue}, in cells):
 * a flush that does not fit is not queued; every cached counter read is purged instead (L2, the
 * flushing runtime's L1, every other runtime's L1 through one CLEAR on the bus). TTLs are a minute
 * here, so only an invalidation or a purge can explain a refreshed value.
 */
@ExtendWith(ServicesExtension.class)
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class CounterInvalidationBoundTest {
  private static final CacheSettings TINY_QUEUE =
      CacheFixtures.EXACT.toBuilder()
          .countersTtl(Duration.ofMinutes(1))
          .l1Ttl(Duration.ofMinutes(1))
          .countersInvalidationQueue(10)
          .build();

  @Test
  void countersApplied_pastBound_dropsQueueAndPurgesEveryCachedRead(TestEnv env) {
    try (Spillway a = CacheFixtures.runtime(env, TINY_QUEUE);
        Spillway b = CacheFixtures.runtime(env, TINY_QUEUE)) {
      // Cached at 0 in b's L1 and in L2, and in a's L1 for one key.
      assertThat(b.cachedCounters().get("views", "k0")).isZero();
      assertThat(b.cachedCounters().get("views", "k1")).isZero();
      assertThat(a.cachedCounters().get("views", "k1")).isZero();

      for (int i = 0; i < 50; i++) { // 50 cells in one flush: five times the queue's bound
        a.counters().increment("views", "k" + i);
      }
      a.counters().flush();
      a.flushOnce();

      // The purge reaches every reader; nothing was invalidated key by key.
      await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> b.cachedCounters().get("views", "k0") == 1);
      await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> b.cachedCounters().get("views", "k1") == 1);
      await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> a.cachedCounters().get("views", "k1") == 1);
      assertThat(counter(a, "spillway.cache.counters.purges")).isGreaterThanOrEqualTo(1);
      assertThat(counter(a, "spillway.cache.counters.invalidations.dropped"))
          .isGreaterThanOrEqualTo(50);

      // A flush that fits is invalidated key by key again, with no further purge.
      double purges = counter(a, "spillway.cache.counters.purges");
      a.counters().increment("views", "k0", 5);
      a.counters().flush();
      a.flushOnce();
      await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> b.cachedCounters().get("views", "k0") == 6);
      assertThat(counter(a, "spillway.cache.counters.purges")).isEqualTo(purges);
      assertThat(b.counters().get("views", "k0")).as("exact read agrees").isEqualTo(6);
    }
  }

  @Test
  void countersApplied_manyFlushesPastBound_cachedReadsStayCorrect(TestEnv env) {
    try (Spillway a = CacheFixtures.runtime(env, TINY_QUEUE);
        Spillway b = CacheFixtures.runtime(env, TINY_QUEUE)) {
      for (int round = 1; round <= 5; round++) {
        for (int i = 0; i < 40; i++) {
          a.counters().increment("clicks", "k" + i);
        }
        a.counters().flush();
        a.flushOnce();
        assertThat(b.cachedCounters().get("clicks", "k7")).isBetween(0L, (long) round);
      }
      await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> b.cachedCounters().get("clicks", "k7") == 5);
      await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> a.cachedCounters().get("clicks", "k39") == 5);
    }
  }

  private static double counter(Spillway sw, String name) {
    var c = sw.meterRegistry().find(name).counter();
    return c == null ? 0 : c.count();
  }
}
