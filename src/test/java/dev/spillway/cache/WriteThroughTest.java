package dev.spillway.cache;

import static dev.spillway.cache.CacheFixtures.User;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.spillway.Spillway;
import dev.spillway.config.CacheSettings;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.TestEnv;
import dev.spillway.testing.TestRedis;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Issue 16, item 1: {@code put} and {@code writeThrough} between two runtimes A and B sharing
 * Redis, PostgreSQL and the bus. L1 TTLs are a minute, so anything that left an L1 during a test
 * left it through a message; loader calls are counted, so "served without loading" is exact.
 */
@ExtendWith(ServicesExtension.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class WriteThroughTest {
  private static final CacheSettings SETTINGS = CacheFixtures.EXACT_L1_BY_MESSAGE;
  private final TestEnv env;
  private Spillway a;
  private Spillway b;

  WriteThroughTest(TestEnv env) {
    this.env = env;
  }

  @BeforeAll
  void start() {
    CacheFixtures.createUsers(env, 100);
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
    CacheFixtures.assertEveryKeyHasTtl(env.redisUri(), CacheFixtures.cachePrefix(env));
  }

  private DefaultCacheAside<Long, User> users(Spillway sw, String name, AtomicInteger loads) {
    return CacheFixtures.engine(
        sw.cache(name, Long.class, User.class)
            .loader(
                id -> {
                  loads.incrementAndGet();
                  return CacheFixtures.loadUser(env, id, 0);
                })
            .build());
  }

  private User rename(long id, String name) {
    env.exec("UPDATE users SET name = ? WHERE id = ?", name, id);
    return new User(id, name, id % 2 == 1 ? 7 : 8);
  }

  @Test
  void put_valueInOtherL1_otherServesNewValueWithoutLoading() {
    AtomicInteger loads = new AtomicInteger();
    DefaultCacheAside<Long, User> onA = users(a, "put", loads);
    DefaultCacheAside<Long, User> onB = users(b, "put", loads);
    assertThat(onB.get(5L).name()).isEqualTo("user-5");
    assertThat(onB.inL1(5L)).isTrue();
    assertThat(loads.get()).isEqualTo(1);

    onA.put(5L, rename(5, "put-5"));

    assertThat(onA.inL1(5L)).as("the new value is in the putter's L1").isTrue();
    await().atMost(Duration.ofSeconds(5)).until(() -> !onB.inL1(5L));
    assertThat(onB.get(5L).name()).isEqualTo("put-5");
    assertThat(onA.get(5L).name()).isEqualTo("put-5");
    assertThat(loads.get()).as("B read the put value from L2, A from L1").isEqualTo(1);
    assertThat(a.meterRegistry().counter("spillway.cache.puts", "cache", "put").count())
        .isEqualTo(1);
  }

  @Test
  void writeThrough_writerReturns_cachedEverywhereWithoutLoading() throws SQLException {
    AtomicInteger loads = new AtomicInteger();
    DefaultCacheAside<Long, User> onA = users(a, "through", loads);
    DefaultCacheAside<Long, User> onB = users(b, "through", loads);
    assertThat(onB.get(6L).name()).isEqualTo("user-6");

    User written = onA.writeThrough(6L, () -> rename(6, "through-6"));

    assertThat(written.name()).isEqualTo("through-6");
    await().atMost(Duration.ofSeconds(5)).until(() -> !onB.inL1(6L));
    assertThat(onB.get(6L).name()).isEqualTo("through-6");
    assertThat(onA.get(6L).name()).isEqualTo("through-6");
    assertThat(loads.get()).isEqualTo(1);
  }

  /** The slow load runs on B (another instance) or on A (the putter's own JVM). */
  @Test
  void put_slowLoadStartedBeforeOnOtherInstance_neverOverwrites() throws Exception {
    racingSlowLoad("race-other", false);
  }

  @Test
  void put_slowLoadStartedBeforeOnSameInstance_neverOverwrites() throws Exception {
    racingSlowLoad("race-same", true);
  }

  private void racingSlowLoad(String cache, boolean sameInstance) throws Exception {
    AtomicInteger loads = new AtomicInteger();
    CountDownLatch readDone = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    AtomicBoolean first = new AtomicBoolean(true);
    DefaultCacheAside<Long, User> slowSide =
        CacheFixtures.engine(
            (sameInstance ? a : b)
                .cache(cache, Long.class, User.class)
                .loader(
                    id -> {
                      loads.incrementAndGet();
                      User u = CacheFixtures.loadUser(env, id, 0);
                      if (first.getAndSet(false)) {
                        readDone.countDown();
                        release.await(); // the put happens while we hold the old row
                      }
                      return u;
                    })
                .build());
    DefaultCacheAside<Long, User> onA = sameInstance ? slowSide : users(a, cache, loads);
    DefaultCacheAside<Long, User> onB = sameInstance ? users(b, cache, loads) : slowSide;
    long id = sameInstance ? 21 : 20;

    CompletableFuture<User> slow = CompletableFuture.supplyAsync(() -> slowSide.get(id));
    assertThat(readDone.await(10, TimeUnit.SECONDS)).isTrue();
    double received = received(b);
    onA.put(id, rename(id, "put-" + id));
    release.countDown();
    assertThat(slow.get(10, TimeUnit.SECONDS).name())
        .as("the slow load returns what it read to its caller")
        .isEqualTo("user-" + id);

    assertThat(slowSide.meters.writesRefused.count()).as("the slow load's L2 write").isEqualTo(1);
    // B reads only once the put's message arrived: a read that snapshotted B's generation before
    // it would, rightly, not keep what it read in L1 (the message looks like any invalidation).
    awaitReceived(b, received);
    if (!sameInstance) {
      assertThat(onB.inL1(id)).as("the slow load filled no L1").isFalse();
    }
    assertThat(onB.get(id).name()).isEqualTo("put-" + id);
    assertThat(onA.get(id).name()).isEqualTo("put-" + id);
    assertThat(onA.inL1(id)).isTrue();
    assertThat(onB.inL1(id)).isTrue();
    assertThat(onB.get(id).name()).isEqualTo("put-" + id);
    assertThat(onA.get(id).name()).isEqualTo("put-" + id);
    assertThat(loads.get()).as("only the slow load ran the loader").isEqualTo(1);
  }

  @Test
  void writeThrough_writerThrows_cachesNothingAndInvalidates() {
    AtomicInteger loads = new AtomicInteger();
    DefaultCacheAside<Long, User> onA = users(a, "fails", loads);
    DefaultCacheAside<Long, User> onB = users(b, "fails", loads);
    assertThat(onA.get(7L).name()).isEqualTo("user-7");
    assertThat(onB.get(7L).name()).isEqualTo("user-7");
    assertThat(onB.inL1(7L)).isTrue();

    SQLException boom = new SQLException("deadlock detected");
    assertThatThrownBy(
            () ->
                onA.writeThrough(
                    7L,
                    () -> {
                      throw boom;
                    }))
        .isSameAs(boom);

    assertThat(onA.inL1(7L)).isFalse();
    assertThat(CacheFixtures.keys(env.redisUri(), CacheFixtures.cachePrefix(env) + "{fails:7}"))
        .as("no L2 entry: invalidated, nothing written")
        .isEmpty();
    await().atMost(Duration.ofSeconds(5)).until(() -> !onB.inL1(7L));
    assertThat(onA.meters.puts.count()).isZero();
    assertThat(onB.get(7L).name()).isEqualTo("user-7");
    assertThat(loads.get()).as("the next read loads").isEqualTo(2);
  }

  @Test
  void put_taggedValue_invalidateTagEvictsIt() {
    AtomicInteger loads = new AtomicInteger();
    CacheLoader<Long, User> loader = countingLoader(loads);
    DefaultCacheAside<Long, User> onA =
        CacheFixtures.engine(
            a.cache("tagged", Long.class, User.class)
                .loader(loader)
                .tags(u -> List.of("team:" + u.teamId()))
                .build());
    DefaultCacheAside<Long, User> onB =
        CacheFixtures.engine(
            b.cache("tagged", Long.class, User.class)
                .loader(loader)
                .tags(u -> List.of("team:" + u.teamId()))
                .build());

    double received = received(b);
    onA.put(9L, rename(9, "put-9")); // team 7
    awaitReceived(b, received);
    assertThat(onB.get(9L).name()).isEqualTo("put-9");
    assertThat(onB.inL1(9L)).isTrue();
    assertThat(loads.get()).as("B read the put value from L2").isZero();

    onA.invalidateTag("team:7");

    assertThat(onA.inL1(9L)).isFalse();
    await().atMost(Duration.ofSeconds(5)).until(() -> !onB.inL1(9L));
    assertThat(onB.get(9L).name()).isEqualTo("put-9");
    assertThat(loads.get()).as("the L2 entry recorded team:7's version, now moved").isEqualTo(1);
  }

  @Test
  void put_valueOverMaxValueBytes_invalidatesInstead() {
    AtomicInteger loads = new AtomicInteger();
    CacheLoader<Long, User> loader = countingLoader(loads);
    DefaultCacheAside<Long, User> onA =
        CacheFixtures.engine(a.cache("small", Long.class, User.class).loader(loader).build());
    DefaultCacheAside<Long, User> onB =
        CacheFixtures.engine(
            b.cache("small", Long.class, User.class).loader(loader).maxValueBytes(64).build());
    assertThat(onA.get(11L).name()).isEqualTo("user-11");
    assertThat(onA.inL1(11L)).isTrue();

    onB.put(11L, rename(11, "x".repeat(100)));

    assertThat(onB.inL1(11L)).isFalse();
    assertThat(CacheFixtures.keys(env.redisUri(), CacheFixtures.cachePrefix(env) + "{small:11}"))
        .as("the old entry is gone, the new one was too large to write")
        .isEmpty();
    await().atMost(Duration.ofSeconds(5)).until(() -> !onA.inL1(11L));
    assertThat(onB.meters.oversize.count()).isEqualTo(1);
    assertThat(onA.get(11L).name()).isEqualTo("x".repeat(100));
  }

  @Test
  void put_encryptedCache_sealedInRedisReadableByOther() {
    AtomicInteger loads = new AtomicInteger();
    AesGcmCodec codec = AesGcmCodec.of("k1", Map.of("k1", new byte[32]));
    CacheLoader<Long, User> loader = countingLoader(loads);
    DefaultCacheAside<Long, User> onA =
        CacheFixtures.engine(
            a.cache("sealed", Long.class, User.class).loader(loader).encryption(codec).build());
    DefaultCacheAside<Long, User> onB =
        CacheFixtures.engine(
            b.cache("sealed", Long.class, User.class).loader(loader).encryption(codec).build());

    onA.put(13L, rename(13, "secret-13"));

    try (TestRedis redis = TestRedis.connect(env.redisUri(), false)) {
      String raw = redis.sync().get(CacheFixtures.cachePrefix(env) + "{sealed:13}");
      assertThat(raw).isNotNull().doesNotContain("secret-13");
    }
    assertThat(onB.get(13L).name()).isEqualTo("secret-13");
    assertThat(loads.get()).isZero();
  }

  @Test
  void put_invalidTag_throwsAndInvalidates() {
    AtomicInteger loads = new AtomicInteger();
    CacheLoader<Long, User> loader = countingLoader(loads);
    DefaultCacheAside<Long, User> onA =
        CacheFixtures.engine(
            a.cache("badtag", Long.class, User.class)
                .loader(loader)
                .tags(u -> List.of(u.name()))
                .build());
    assertThat(onA.get(15L).name()).isEqualTo("user-15");

    assertThatThrownBy(() -> onA.put(15L, rename(15, "bad\ntag")))
        .isInstanceOf(IllegalArgumentException.class);

    assertThat(onA.inL1(15L)).isFalse();
    assertThat(CacheFixtures.keys(env.redisUri(), CacheFixtures.cachePrefix(env) + "{badtag:15}"))
        .as("the old value is not left behind")
        .isEmpty();
  }

  @Test
  void writeThrough_racingWriterWonMeanwhile_invalidatesInstead() throws Exception {
    AtomicInteger loads = new AtomicInteger();
    DefaultCacheAside<Long, User> onA = users(a, "writers", loads);
    DefaultCacheAside<Long, User> onB = users(b, "writers", loads);
    CountDownLatch writing = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);

    CompletableFuture<User> slowWriter =
        CompletableFuture.supplyAsync(
            () ->
                onA.writeThrough(
                    12L,
                    () -> {
                      User u = rename(12, "first-12");
                      writing.countDown();
                      awaitUninterruptibly(release); // B writes and caches meanwhile
                      return u;
                    }));
    assertThat(writing.await(10, TimeUnit.SECONDS)).isTrue();
    onB.writeThrough(12L, () -> rename(12, "second-12"));
    release.countDown();
    assertThat(slowWriter.get(10, TimeUnit.SECONDS).name()).isEqualTo("first-12");

    assertThat(onA.meters.writesRefused.count()).isEqualTo(1);
    assertThat(CacheFixtures.keys(env.redisUri(), CacheFixtures.cachePrefix(env) + "{writers:12}"))
        .as("which commit came last is unknown to the cache: neither value is kept")
        .isEmpty();
    await().atMost(Duration.ofSeconds(5)).until(() -> !onB.inL1(12L));
    assertThat(onA.get(12L).name()).isEqualTo("second-12");
    assertThat(loads.get()).isEqualTo(1);
  }

  /** Invalidations this runtime received on the bus so far. */
  private static double received(Spillway sw) {
    return sw.meterRegistry()
        .counter("spillway.cache.invalidations", "direction", "received")
        .count();
  }

  private static void awaitReceived(Spillway sw, double before) {
    await().atMost(Duration.ofSeconds(5)).until(() -> received(sw) > before);
  }

  private static void awaitUninterruptibly(CountDownLatch latch) {
    try {
      assertThat(latch.await(10, TimeUnit.SECONDS)).isTrue();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** Loads users from PostgreSQL, counting the calls in {@code loads}. */
  private CacheLoader<Long, User> countingLoader(AtomicInteger loads) {
    return id -> {
      loads.incrementAndGet();
      return CacheFixtures.loadUser(env, id, 0);
    };
  }
}
