package dev.spillway.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.zaxxer.hikari.HikariDataSource;
import dev.spillway.Spillway;
import dev.spillway.counter.Counters;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.TcpProxy;
import dev.spillway.testing.TestEnv;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import javax.sql.DataSource;
import org.assertj.core.api.Assertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.Status;
import org.springframework.boot.test.context.FilteredClassLoader;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.cache.CacheManager;
import org.springframework.cache.annotation.CacheEvict;
import org.springframework.cache.annotation.Cacheable;
import org.springframework.cache.annotation.EnableCaching;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * The Spring Boot auto-configuration against the real Redis and PostgreSQL, in application contexts
 * built from {@code spillway.*} properties: the beans count exactly and close draining, the
 * context's MeterRegistry and PostgreSQL DataSource are used, {@code @Cacheable} runs its method
 * once across two contexts (two application instances) and {@code @CacheEvict} in one evicts in the
 * other, the health component reports UP and DOWN, bad properties fail with the file's sentences.
 */
@ExtendWith(ServicesExtension.class)
class SpringBootStarterTest {
  private final TestEnv env;

  SpringBootStarterTest(TestEnv env) {
    this.env = env;
  }

  /** One application instance: the auto-configuration and this class's servers, by properties. */
  private ApplicationContextRunner app(String... more) {
    return app(true, more);
  }

  private ApplicationContextRunner app(boolean jdbcUrl, String... more) {
    List<String> props =
        new ArrayList<>(
            List.of(
                "spillway.redis.uri=" + env.redisUri(),
                "spillway.redis.cluster=" + env.redisCluster(),
                "spillway.postgres.user=" + env.jdbcUser(),
                "spillway.postgres.schema=" + env.schema(),
                "spillway.keys.prefix=" + env.keyPrefix(),
                "spillway.client.drain-interval=50ms",
                "spillway.counters.page_views.buckets=HOUR,DAY",
                "spillway.spring-cache.allowed-types=dev.spillway.spring.SpringBootStarterTest$Book"));
    if (jdbcUrl) {
      props.add("spillway.postgres.jdbc-url=" + env.jdbcUrl());
    }
    if (env.jdbcPassword() != null) {
      props.add("spillway.postgres.password=" + env.jdbcPassword());
    }
    props.addAll(List.of(more));
    return new ApplicationContextRunner()
        .withConfiguration(AutoConfigurations.of(SpillwayAutoConfiguration.class))
        .withPropertyValues(props.toArray(String[]::new));
  }

  @Test
  void beansCountExactlyAndTheContextClosesDraining() throws Exception {
    String totals = env.schema() + ".counter_totals";
    app()
        .run(
            ctx -> {
              assertThat(ctx)
                  .hasNotFailed()
                  .hasSingleBean(Spillway.class)
                  .hasSingleBean(Counters.class);
              Spillway sw = ctx.getBean(Spillway.class);
              Counters counters = ctx.getBean(Counters.class);
              assertThat(counters).isSameAs(sw.counters());
              assertThat(sw.config().keyPrefix()).isEqualTo(env.keyPrefix());
              assertThat(sw.config().drainInterval()).isEqualTo(Duration.ofMillis(50));
              assertThat(sw.config().bucketsOf("page_views")).hasSize(2);

              ExecutorService pool = Executors.newFixedThreadPool(4);
              try {
                List<Future<?>> done = new ArrayList<>();
                for (int t = 0; t < 4; t++) {
                  done.add(
                      pool.submit(
                          () -> {
                            for (int i = 0; i < 2_500; i++) {
                              counters.increment("page_views", "k" + (i % 5));
                            }
                          }));
                }
                for (Future<?> f : done) {
                  f.get();
                }
              } finally {
                pool.shutdown();
              }
              counters.flush();
              sw.flushOnce();
              assertThat(env.queryLong("SELECT coalesce(sum(total), 0) FROM " + totals))
                  .isEqualTo(10_000);
              assertThat(counters.get("page_views", "k0")).isEqualTo(2_000);
              // Left in the local buffer: closing the context closes Spillway, which drains it to
              // Redis.
              counters.increment("page_views", "k0", 7);
            });
    app()
        .run(
            ctx -> {
              Spillway sw = ctx.getBean(Spillway.class);
              assertThat(sw.counters().get("page_views", "k0")).isEqualTo(2_007);
              sw.flushOnce();
              assertThat(env.queryLong("SELECT coalesce(sum(total), 0) FROM " + totals))
                  .isEqualTo(10_007);
            });
  }

  @Test
  void usesTheContextsMeterRegistryAndItsPostgresDataSource() {
    HikariDataSource appPool = new HikariDataSource();
    appPool.setJdbcUrl(env.jdbcUrl());
    appPool.setUsername(env.jdbcUser());
    appPool.setPassword(env.jdbcPassword());
    appPool.setMaximumPoolSize(2);
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    try (appPool) {
      app(false) // no spillway.postgres.jdbc-url: the application's DataSource
          .withBean(
              "appDataSource", DataSource.class, () -> appPool, d -> d.setDestroyMethodName(""))
          .withBean(MeterRegistry.class, () -> registry)
          .run(
              ctx -> {
                assertThat(ctx).hasNotFailed();
                Spillway sw = ctx.getBean(Spillway.class);
                assertThat(sw.dataSource()).isSameAs(appPool);
                assertThat(sw.meterRegistry()).isSameAs(registry);
                sw.counters().increment("page_views", "ds", 3);
                sw.counters().flush();
                sw.flushOnce();
                assertThat(
                        env.queryLong(
                            "SELECT total FROM "
                                + env.schema()
                                + ".counter_totals WHERE key = 'ds'"))
                    .isEqualTo(3);
                assertThat(registry.getMeters())
                    .anyMatch(m -> m.getId().getName().startsWith("spillway."));
              });
      // Spillway closed with its context and left the application's pool open.
      assertThat(appPool.isClosed()).isFalse();
    }
  }

  /** A cached value: allowed by spillway.spring-cache.allowed-types. */
  record Book(String id, String title, int pages) {}

  /** Not on the allow-list: served, never cached. */
  record Secret(String id) {}

  /** An application's service; each context counts its own method runs. */
  static class Books {
    private final AtomicInteger runs = new AtomicInteger();
    private final AtomicInteger plainRuns = new AtomicInteger();
    private final AtomicInteger secretRuns = new AtomicInteger();

    // Read through methods: the bean is a caching proxy, whose own fields are not these.
    public int runs() {
      return runs.get();
    }

    public int plainRuns() {
      return plainRuns.get();
    }

    public int secretRuns() {
      return secretRuns.get();
    }

    @Cacheable(cacheNames = "books", sync = true)
    public Book find(String id) {
      runs.incrementAndGet();
      return id.equals("missing") ? null : new Book(id, "Title " + id, id.length() * 100);
    }

    @Cacheable(cacheNames = "plain")
    public Book plain(String id) {
      plainRuns.incrementAndGet();
      return new Book(id, "Plain " + id, 1);
    }

    @Cacheable(cacheNames = "secrets", sync = true)
    public Secret secret(String id) {
      secretRuns.incrementAndGet();
      return new Secret(id);
    }

    @CacheEvict(cacheNames = "books")
    public void evict(String id) {}
  }

  @Configuration(proxyBeanMethods = false)
  @EnableCaching
  static class CachingApp {
    @Bean
    Books books() {
      return new Books();
    }
  }

  @Test
  void cacheableRunsOnceAcrossTwoInstancesAndEvictReachesTheOther() {
    app()
        .withUserConfiguration(CachingApp.class)
        .run(
            a ->
                app()
                    .withUserConfiguration(CachingApp.class)
                    .run(
                        b -> {
                          assertThat(a).hasSingleBean(SpillwayCacheManager.class);
                          Books inA = a.getBean(Books.class);
                          Books inB = b.getBean(Books.class);

                          for (int i = 0; i < 3; i++) {
                            assertThat(inA.find("b1")).isEqualTo(new Book("b1", "Title b1", 200));
                            assertThat(inB.find("b1")).isEqualTo(new Book("b1", "Title b1", 200));
                          }
                          assertThat(inA.runs() + inB.runs()).isEqualTo(1);

                          // sync = true: 16 concurrent callers in both instances, one load.
                          CountDownLatch start = new CountDownLatch(1);
                          ExecutorService pool = Executors.newFixedThreadPool(16);
                          try {
                            List<Future<Book>> got = new ArrayList<>();
                            for (int t = 0; t < 16; t++) {
                              Books which = t % 2 == 0 ? inA : inB;
                              got.add(
                                  pool.submit(
                                      () -> {
                                        start.await();
                                        return which.find("b22");
                                      }));
                            }
                            start.countDown();
                            for (Future<Book> f : got) {
                              assertThat(f.get()).isEqualTo(new Book("b22", "Title b22", 300));
                            }
                          } finally {
                            pool.shutdownNow();
                          }
                          assertThat(inA.runs() + inB.runs()).isEqualTo(2);

                          // Null results are cached too.
                          assertThat(inA.find("missing")).isNull();
                          assertThat(inB.find("missing")).isNull();
                          assertThat(inA.runs() + inB.runs()).isEqualTo(3);

                          // @CacheEvict in B: A's copy (its L1) goes through the bus; A's next call
                          // runs the method.
                          inB.evict("b1");
                          await()
                              .atMost(Duration.ofSeconds(30))
                              .until(
                                  () -> {
                                    inA.find("b1");
                                    return inA.runs() + inB.runs() == 4;
                                  });
                          inB.find("b1");
                          assertThat(inA.runs() + inB.runs()).isEqualTo(4);

                          // clear() in A reaches B too.
                          a.getBean(CacheManager.class).getCache("books").clear();
                          await()
                              .atMost(Duration.ofSeconds(30))
                              .until(
                                  () -> {
                                    inB.find("b22");
                                    return inA.runs() + inB.runs() == 5;
                                  });
                          inA.find("b22");
                          assertThat(inA.runs() + inB.runs()).isEqualTo(5);

                          // Without sync: lookup, miss, method, put; the other instance then finds
                          // it.
                          assertThat(inA.plain("p1")).isEqualTo(new Book("p1", "Plain p1", 1));
                          assertThat(inB.plain("p1")).isEqualTo(new Book("p1", "Plain p1", 1));
                          assertThat(inA.plain("p1")).isEqualTo(new Book("p1", "Plain p1", 1));
                          assertThat(inA.plainRuns() + inB.plainRuns()).isEqualTo(1);

                          // A class off the allow-list is served but never cached, so never read
                          // back from Redis.
                          inA.secret("s1");
                          inA.secret("s1");
                          inB.secret("s1");
                          assertThat(inA.secretRuns() + inB.secretRuns()).isEqualTo(3);
                        }));
  }

  @Test
  void noCacheManagerWithoutEnableCaching() {
    app().run(ctx -> assertThat(ctx).hasNotFailed().doesNotHaveBean(CacheManager.class));
  }

  @Test
  void healthIsUpThenDownWhenRedisGoes() {
    URI redis = URI.create(env.redisUri().split(",")[0]);
    try (TcpProxy proxy = TcpProxy.start(redis.getHost(), redis.getPort())) {
      app(
              "spillway.redis.uri=redis://127.0.0.1:" + proxy.port(),
              "spillway.redis.cluster=false",
              "spillway.redis.timeout=1s")
          .run(
              ctx -> {
                assertThat(ctx).hasNotFailed();
                SpillwayHealthIndicator health =
                    ctx.getBean("spillwayHealthIndicator", SpillwayHealthIndicator.class);
                Health up = health.health();
                assertThat(up.getStatus()).isEqualTo(Status.UP);
                assertThat(up.getDetails()).containsKeys("redis", "postgres", "runtime");
                assertThat(up.getDetails().get("postgres")).isEqualTo("UP: SELECT 1 answered");

                proxy.cut();
                Health down = health.health();
                assertThat(down.getStatus()).isEqualTo(Status.DOWN);
                assertThat((String) down.getDetails().get("redis")).startsWith("DOWN: ");
                assertThat(down.getDetails().get("postgres")).isEqualTo("UP: SELECT 1 answered");

                proxy.restore();
                await()
                    .atMost(Duration.ofSeconds(30))
                    .until(() -> health.health().getStatus().equals(Status.UP));
              });
    }
  }

  @Test
  void badPropertiesFailWithTheFilesSentences() {
    new ApplicationContextRunner()
        .withConfiguration(AutoConfigurations.of(SpillwayAutoConfiguration.class))
        .withPropertyValues("spillway.flush.interval=0ms")
        .run(
            ctx ->
                assertThat(ctx)
                    .hasFailed()
                    .getFailure()
                    .rootCause()
                    .hasMessage("spillway.flush.interval must be at least 10ms but was 0ms"));
    new ApplicationContextRunner()
        .withConfiguration(AutoConfigurations.of(SpillwayAutoConfiguration.class))
        .withPropertyValues("spillway.client.drain-interval=soon")
        .run(
            ctx ->
                assertThat(ctx)
                    .hasFailed()
                    .getFailure()
                    .rootCause()
                    .hasMessageStartingWith(
                        "spillway.client.drain-interval must be a duration like 250ms"));
  }

  @Test
  void healthComponentCanBeTurnedOff() {
    app("management.health.spillway.enabled=false")
        .run(
            ctx ->
                assertThat(ctx)
                    .hasNotFailed()
                    .hasSingleBean(Spillway.class)
                    .doesNotHaveBean(SpillwayHealthIndicator.class));
  }

  @Test
  void withoutSpringBootHealthOnTheClassPath() {
    app()
        .withClassLoader(new FilteredClassLoader("org.springframework.boot.health"))
        .run(
            ctx ->
                assertThat(ctx)
                    .hasNotFailed()
                    .hasSingleBean(Counters.class)
                    .doesNotHaveBean("spillwayHealthIndicator"));
  }

  @Test
  void disabledByProperty() {
    new ApplicationContextRunner()
        .withConfiguration(AutoConfigurations.of(SpillwayAutoConfiguration.class))
        .withPropertyValues("spillway.enabled=false")
        .run(ctx -> assertThat(ctx).hasNotFailed().doesNotHaveBean(Spillway.class));
  }

  @Test
  void configurationMetadataListsTheKeys() throws Exception {
    JsonNode meta;
    try (InputStream in =
        getClass().getResourceAsStream("/META-INF/spring-configuration-metadata.json")) {
      assertThat(in).as("metadata generated by spring-boot-configuration-processor").isNotNull();
      meta = new ObjectMapper().readTree(in);
    }
    List<String> names = new ArrayList<>();
    meta.path("properties").forEach(p -> names.add(p.path("name").asText()));
    assertThat(names)
        .contains(
            "spillway.redis.uri",
            "spillway.postgres.jdbc-url",
            "spillway.postgres.user",
            "spillway.postgres.password",
            "spillway.keys.prefix",
            "spillway.counters",
            "spillway.cache.ttl",
            "spillway.cache.l1.max-size",
            "spillway.flush.interval",
            "spillway.spring-cache.allowed-types");
    meta.path("properties")
        .forEach(
            p ->
                assertThat(p.path("description").asText())
                    .as(p.path("name").asText())
                    .isNotBlank());
  }

  @Test
  void serializerReadsOnlyAllowedClassesAndNeverPolymorphically() throws Exception {
    TypedJsonSerializer s =
        new TypedJsonSerializer(
            List.of("dev.spillway.spring.SpringBootStarterTest$Book"), getClass().getClassLoader());
    Book b = new Book("x", "T", 3);
    assertThat(s.read(s.write(b))).isEqualTo(b);
    assertThat(s.read(s.write("text"))).isEqualTo("text");
    assertThat(s.read(s.write(42L))).isEqualTo(42L);
    // What Redis may hold, written by anyone: a class off the list is refused before it is loaded.
    byte[] hostile =
        "{\"t\":\"java.lang.ProcessBuilder\",\"v\":{\"command\":[\"true\"]}}".getBytes();
    Assertions.assertThatThrownBy(() -> s.read(hostile))
        .isInstanceOf(IOException.class)
        .hasMessageContaining(
            "values of class java.lang.ProcessBuilder are not in"
                + " spillway.spring-cache.allowed-types");
    Assertions.assertThatThrownBy(() -> s.write(new Secret("s"))).isInstanceOf(IOException.class);
  }
}
