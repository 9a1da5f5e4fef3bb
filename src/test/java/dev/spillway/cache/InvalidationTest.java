package dev.spillway.cache;

import static dev.spillway.cache.CacheFixtures.User;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.spillway.Spillway;
import dev.spillway.config.CacheSettings;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.TestEnv;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Issue 5, cases 2, 4 and 6, between two runtimes A and B sharing Redis, PostgreSQL and the bus. L1
 * TTLs are a minute here, so anything evicted within the test was evicted by a message.
 */
@ExtendWith(ServicesExtension.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class InvalidationTest {
  private static final CacheSettings SETTINGS = CacheFixtures.EXACT_L1_BY_MESSAGE;
  private final TestEnv env;
  private Spillway a;
  private Spillway b;

  InvalidationTest(TestEnv env) {
    this.env = env;
  }

  @BeforeAll
  void start() {
    CacheFixtures.createUsers(env, 1_000);
    a = CacheFixtures.runtime(env, SETTINGS);
    b = CacheFixtures.runtime(env, SETTINGS);
  }

  @AfterAll
  void stop() {
    if (a != null) {
      a.close();
    }
    if (b != null) {
      b.close();
    }
    // Case 5: every key the caches wrote carries a TTL.
    int checked =
        CacheFixtures.assertEveryKeyHasTtl(env.redisUri(), CacheFixtures.cachePrefix(env));
    assertThat(checked).isPositive();
  }

  private CacheAside<Long, User> users(Spillway sw, String name, AtomicInteger loads) {
    return sw.cache(name, Long.class, User.class)
        .loader(
            id -> {
              loads.incrementAndGet();
              return CacheFixtures.loadUser(env, id, 0);
            })
        .build();
  }

  /**
   * Case 2: after {@code invalidate} on A, B's L1 no longer holds the old value. Measured over
   * 1,000 invalidations of 1,000 keys (all first loaded into B's L1), each from the call on A until
   * B's L1 lost the key. Asserted: every eviction arrives (5 s each at most) and the p99 stays
   * under a generous 1 s, which holds even on a 2-core machine running other builds; the measured
   * percentiles are printed.
   */
  @Test
  void invalidate_onA_evictsBsL1_p99Measured() {
    AtomicInteger loads = new AtomicInteger();
    CacheAside<Long, User> onA = users(a, "latency", loads);
    DefaultCacheAside<Long, User> onB = CacheFixtures.engine(users(b, "latency", loads));
    List<Long> ids = LongStream.rangeClosed(1, 1_000).boxed().toList();
    assertThat(onB.getAll(ids)).hasSize(1_000);
    long[] nanos = new long[ids.size()];
    for (int i = 0; i < nanos.length; i++) {
      long id = ids.get(i);
      assertThat(onB.inL1(id)).isTrue();
      long t0 = System.nanoTime();
      onA.invalidate(id);
      long deadline = t0 + TimeUnit.SECONDS.toNanos(5);
      while (onB.inL1(id)) {
        if (System.nanoTime() > deadline) {
          throw new AssertionError("B still holds key " + id + " in L1 5 s after A invalidated it");
        }
        LockSupport.parkNanos(20_000);
      }
      nanos[i] = System.nanoTime() - t0;
    }
    long[] sorted = LongStream.of(nanos).sorted().toArray();
    System.out.printf(
        "InvalidationTest: invalidate on A -> evicted from B's L1, 1000 invalidations:"
            + " p50 %.2f ms, p99 %.2f ms, max %.2f ms%n",
        sorted[499] / 1e6, sorted[989] / 1e6, sorted[999] / 1e6);
    assertThat(sorted[989]).as("p99 in ns").isLessThan(TimeUnit.SECONDS.toNanos(1));
    assertThat(
            b.meterRegistry()
                .counter("spillway.cache.invalidations", "direction", "received")
                .count())
        .isGreaterThanOrEqualTo(1_000);
  }

  /**
   * Case 4: a load on A that read the row before an update (and the invalidation sent from B after
   * it) returns the old value to its caller but caches it nowhere: the next get on either runtime
   * loads the new value.
   */
  @Test
  void get_invalidatedDuringSlowLoad_oldValueNotCached() throws Exception {
    AtomicInteger loads = new AtomicInteger();
    CountDownLatch readDone = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    AtomicBoolean first = new AtomicBoolean(true);
    CacheAside<Long, User> onA =
        a.cache("slow", Long.class, User.class)
            .loader(
                id -> {
                  loads.incrementAndGet();
                  User u = CacheFixtures.loadUser(env, id, 0);
                  if (first.getAndSet(false)) {
                    readDone.countDown();
                    release.await(); // the row changes while we hold its old version
                  }
                  return u;
                })
            .build();
    CacheAside<Long, User> onB = users(b, "slow", loads);
    CompletableFuture<User> slow = CompletableFuture.supplyAsync(() -> onA.get(900L));
    assertThat(readDone.await(10, TimeUnit.SECONDS)).isTrue();
    env.exec("UPDATE users SET name = 'renamed' WHERE id = 900");
    onB.invalidate(900L);
    release.countDown();
    assertThat(slow.get(10, TimeUnit.SECONDS).name()).isEqualTo("user-900"); // its caller's read

    assertThat(CacheFixtures.engine(onA).inL1(900L)).isFalse();
    assertThat(CacheFixtures.keys(env.redisUri(), CacheFixtures.cachePrefix(env) + "{slow:900}"))
        .as("no L2 entry written by the stale load")
        .isEmpty();
    assertThat(onA.get(900L).name()).isEqualTo("renamed");
    assertThat(onB.get(900L).name()).isEqualTo("renamed");
    assertThat(loads.get()).isEqualTo(2);
    assertThat(
            a.meterRegistry().counter("spillway.cache.l2.writes.refused", "cache", "slow").count())
        .isEqualTo(1);
  }

  /**
   * Case 6: a tag invalidation on A evicts exactly the tagged entries, from L2 and from B's L1; tag
   * metadata is one key per tag, whatever the number of entries.
   */
  @Test
  void invalidateTag_evictsExactlyTaggedEntriesAcrossInstances_metadataPerTagOnly() {
    AtomicInteger loads = new AtomicInteger();
    CacheAside<Long, User> onA =
        a.cache("member", Long.class, User.class)
            .loader(
                id -> {
                  loads.incrementAndGet();
                  return CacheFixtures.loadUser(env, id, 0);
                })
            .tags(u -> List.of("team:" + u.teamId()))
            .build();
    DefaultCacheAside<Long, User> onB =
        CacheFixtures.engine(
            b.cache("member", Long.class, User.class)
                .loader(
                    id -> {
                      loads.incrementAndGet();
                      return CacheFixtures.loadUser(env, id, 0);
                    })
                .tags(u -> List.of("team:" + u.teamId()))
                .build());
    List<Long> ids = new ArrayList<>();
    for (long id = 1; id <= 400; id++) {
      ids.add(id);
    }
    assertThat(onA.getAll(ids)).hasSize(400); // 200 in team 7 (odd ids), 200 in team 8
    assertThat(loads.get()).isEqualTo(400);
    for (long id : List.of(1L, 3L, 2L, 4L)) {
      assertThat(onB.get(id)).isNotNull(); // L2 hits on B, now in B's L1
    }
    assertThat(loads.get()).isEqualTo(400);
    String tagPattern = CacheFixtures.cachePrefix(env) + "{member}:*";
    assertThat(CacheFixtures.keys(env.redisUri(), tagPattern))
        .as("tag metadata: a sequence key and one key per tag, not per entry")
        .hasSizeLessThanOrEqualTo(3);

    onA.invalidateTag("team:7");

    await().atMost(Duration.ofSeconds(5)).until(() -> !onB.inL1(1L) && !onB.inL1(3L));
    assertThat(onB.inL1(2L)).isTrue();
    assertThat(onB.inL1(4L)).isTrue();
    assertThat(onB.get(2L)).isNotNull();
    assertThat(onA.getAll(ids.subList(1, 400).stream().filter(i -> i % 2 == 0).toList()))
        .hasSize(200);
    assertThat(loads.get()).as("team 8 is still cached everywhere").isEqualTo(400);
    assertThat(onB.get(1L).name()).isEqualTo("user-1");
    assertThat(onA.get(3L).name()).isEqualTo("user-3");
    assertThat(loads.get()).as("team 7 entries are misses in L2 too").isEqualTo(402);
    // A tag key exists only once the tag was bumped: the sequence key and team:7's version.
    List<String> meta = CacheFixtures.keys(env.redisUri(), tagPattern);
    assertThat(meta)
        .containsExactlyInAnyOrder(
            CacheFixtures.cachePrefix(env) + "{member}:seq",
            CacheFixtures.cachePrefix(env) + "{member}:t:team:7");
  }
}
