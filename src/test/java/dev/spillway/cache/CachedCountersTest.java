package dev.spillway.cache;

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
 * {@code cachedCounters()}: a cached view of flushed totals that every flush invalidates, in every
 * instance. The TTL is set to a minute so that only the flush's invalidation can explain a
 * refreshed value.
 */
@ExtendWith(ServicesExtension.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class CachedCountersTest {

  @Test
  void cached_flushInvalidates_everyInstanceSeesFlushedTotal(TestEnv env) {
    CacheSettings s =
        CacheFixtures.EXACT.toBuilder()
            .countersTtl(Duration.ofMinutes(1))
            .l1Ttl(Duration.ofMinutes(1))
            .build();
    try (Spillway a = CacheFixtures.runtime(env, s);
        Spillway b = CacheFixtures.runtime(env, s)) {
      assertThat(b.cachedCounters().get("page_views", "42")).isZero(); // nothing flushed yet
      a.counters().increment("page_views", "42", 5);
      a.counters().flush();
      assertThat(b.cachedCounters().get("page_views", "42")).as("not flushed: cached 0").isZero();
      a.flushOnce();
      await()
          .atMost(Duration.ofSeconds(5))
          .until(() -> b.cachedCounters().get("page_views", "42") == 5);
      assertThat(a.cachedCounters().get("page_views", "42")).isEqualTo(5);

      a.counters().increment("page_views", "42", 3);
      a.counters().flush();
      assertThat(b.cachedCounters().get("page_views", "42"))
          .as("pending, not flushed")
          .isEqualTo(5);
      assertThat(b.counters().get("page_views", "42"))
          .as("the exact read sees pending")
          .isEqualTo(8);
      b.flushOnce(); // any runtime's flush invalidates every instance
      await()
          .atMost(Duration.ofSeconds(5))
          .until(() -> a.cachedCounters().get("page_views", "42") == 8);
      await()
          .atMost(Duration.ofSeconds(5))
          .until(() -> b.cachedCounters().get("page_views", "42") == 8);
      assertThat(
              a.meterRegistry()
                  .counter(
                      "spillway.cache.loads", "cache", "spillway.counters", "outcome", "success")
                  .count())
          .isLessThanOrEqualTo(4);
    }
    CacheFixtures.assertEveryKeyHasTtl(env.redisUri(), CacheFixtures.cachePrefix(env));
  }

  /**
   * A flush invalidates only what is cached (or being loaded): 200 counter keys nobody read through
   * the cache leave no generation key behind, while the one that was cached is invalidated.
   */
  @Test
  void flush_ofKeysCachedNowhere_writesNothingToTheCache(TestEnv env) {
    try (Spillway sw = CacheFixtures.runtime(env, CacheFixtures.EXACT)) {
      assertThat(sw.cachedCounters().get("cold", "read")).isZero();
      for (int i = 0; i < 200; i++) {
        sw.counters().increment("cold", "k" + i);
      }
      sw.counters().increment("cold", "read", 7);
      sw.counters().flush();
      sw.flushOnce();
      await()
          .atMost(Duration.ofSeconds(5))
          .until(() -> sw.cachedCounters().get("cold", "read") == 7);
      List<String> generations =
          CacheFixtures.keys(env.redisUri(), CacheFixtures.cachePrefix(env) + "*cold*}:i");
      assertThat(generations).as("generation keys written by the flush").hasSize(1);
      assertThat(generations.get(0)).contains("read");
    }
  }
}
