package dev.spillway.cache;

import static dev.spillway.cache.CacheFixtures.User;
import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.Spillway;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.TestEnv;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Issue 5, case 1: 1,000 concurrent gets of one cold key over 4 independent runtimes (each with its
 * own Redis connections, bus subscription and L1) run the PostgreSQL loader once: single flight
 * inside each JVM-instance, the SET NX PX lease across them.
 */
@ExtendWith(ServicesExtension.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class StampedeTest {
  private static final int INSTANCES = 4;
  private static final int GETS = 1_000;

  @Test
  void get_thousandConcurrentColdGetsOverFourInstances_loaderRunsOnce(TestEnv env)
      throws Exception {
    CacheFixtures.createUsers(env, 3);
    AtomicInteger loads = new AtomicInteger();
    List<Spillway> runtimes = new ArrayList<>();
    try {
      List<CacheAside<Long, User>> caches = new ArrayList<>();
      for (int i = 0; i < INSTANCES; i++) {
        Spillway sw = CacheFixtures.runtime(env, CacheFixtures.EXACT);
        runtimes.add(sw);
        caches.add(
            sw.cache("user", Long.class, User.class)
                .loader(
                    id -> {
                      loads.incrementAndGet();
                      return CacheFixtures.loadUser(env, id, 0.2); // a slow query: 200 ms
                    })
                .build());
      }
      CountDownLatch go = new CountDownLatch(1);
      List<Future<User>> results = new ArrayList<>(GETS);
      try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
        for (int i = 0; i < GETS; i++) {
          CacheAside<Long, User> cache = caches.get(i % INSTANCES);
          results.add(
              threads.submit(
                  () -> {
                    go.await();
                    return cache.get(2L);
                  }));
        }
        go.countDown();
        for (Future<User> f : results) {
          assertThat(f.get(30, TimeUnit.SECONDS)).isEqualTo(new User(2, "user-2", 8));
        }
      }
      System.out.printf(
          "StampedeTest: %d concurrent gets over %d runtimes -> loader ran %d time(s)%n",
          GETS, INSTANCES, loads.get());
      assertThat(loads.get()).as("loader runs").isEqualTo(1);
      double coalesced = 0;
      double leaseWaits = 0;
      for (Spillway sw : runtimes) {
        coalesced +=
            sw.meterRegistry().counter("spillway.cache.coalesced", "cache", "user").count();
        leaseWaits +=
            sw.meterRegistry().counter("spillway.cache.lease.waits", "cache", "user").count();
      }
      // Every get but one per runtime joined a load in its own JVM; three runtimes waited on the
      // fourth's lease.
      assertThat(coalesced).isEqualTo(GETS - INSTANCES);
      assertThat(leaseWaits).isEqualTo(INSTANCES - 1);
    } finally {
      runtimes.forEach(Spillway::close);
    }
  }

  @AfterAll
  static void everyCacheKeyHasTtl(TestEnv env) {
    CacheFixtures.assertEveryKeyHasTtl(env.redisUri(), CacheFixtures.cachePrefix(env));
  }
}
