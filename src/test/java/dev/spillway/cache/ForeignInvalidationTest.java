package dev.spillway.cache;

import static dev.spillway.cache.CacheFixtures.User;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.spillway.ConfigException;
import dev.spillway.Spillway;
import dev.spillway.SpillwayConfig;
import dev.spillway.config.CacheSettings;
import dev.spillway.config.ConfigLoader;
import dev.spillway.testing.LogCapture;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.TestEnv;
import dev.spillway.testing.TestRedis;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 16, item 2: invalidation events that other services publish on {@code
 * cache.foreign-channel}, between two runtimes A and B sharing Redis and PostgreSQL. Events are
 * published on a raw Lettuce connection, as {@code redis-cli PUBLISH} would (and through redis-cli
 * itself when it is installed). L1 TTLs are a minute, so anything evicted within a test was evicted
 * by an event.
 */
@ExtendWith(ServicesExtension.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ForeignInvalidationTest {
  private final TestEnv env;
  private final String channel;
  private Spillway a;
  private Spillway b;
  private TestRedis redis;

  ForeignInvalidationTest(TestEnv env) {
    this.env = env;
    this.channel = env.keyPrefix() + "invalidate";
  }

  @BeforeAll
  void start() {
    CacheFixtures.createUsers(env, 100);
    CacheSettings settings =
        CacheFixtures.EXACT_L1_BY_MESSAGE.toBuilder()
            .foreignChannel(channel)
            .foreignEntities(Map.of("person", "people"))
            .build();
    a = CacheFixtures.runtime(env, settings);
    b = CacheFixtures.runtime(env, settings);
    redis = env.redis();
  }

  @AfterAll
  void stop() {
    for (AutoCloseable c : new AutoCloseable[] {a, b, redis}) {
      try {
        if (c != null) {
          c.close();
        }
      } catch (Exception e) {
        throw new AssertionError(e);
      }
    }
  }

  private DefaultCacheAside<Long, User> users(Spillway sw, String name, AtomicInteger loads) {
    return CacheFixtures.engine(
        sw.cache(name, Long.class, User.class)
            .loader(
                id -> {
                  loads.incrementAndGet();
                  return CacheFixtures.loadUser(env, id, 0);
                })
            .tags(u -> List.of("team:" + u.teamId()))
            .build());
  }

  private void publish(String json) {
    redis.sync().publish(channel, json);
  }

  private static double meter(Spillway sw, String outcome) {
    return sw.meterRegistry().counter("spillway.cache.foreign.events", "outcome", outcome).count();
  }

  /** Loads 42 through A (one load) and B (an L2 hit), so both L1s and L2 hold it. */
  private void warm(DefaultCacheAside<Long, User> onA, DefaultCacheAside<Long, User> onB, long id) {
    assertThat(onA.get(id)).isNotNull();
    assertThat(onB.get(id)).isNotNull();
    assertThat(onA.inL1(id)).isTrue();
    assertThat(onB.inL1(id)).isTrue();
  }

  @Test
  void entityEvent_evictsL1AndL2InBothRuntimes() {
    AtomicInteger loads = new AtomicInteger();
    DefaultCacheAside<Long, User> onA = users(a, "user", loads);
    DefaultCacheAside<Long, User> onB = users(b, "user", loads);
    warm(onA, onB, 42);
    assertThat(loads).hasValue(1);
    double applied = meter(a, "applied") + meter(b, "applied");

    publish("{\"entity\":\"user\",\"id\":\"42\",\"action\":\"update\"}");
    await().atMost(Duration.ofSeconds(5)).until(() -> !onA.inL1(42L) && !onB.inL1(42L));
    await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> meter(a, "applied") + meter(b, "applied") >= applied + 2);
    assertThat(onA.get(42L)).isNotNull();
    assertThat(loads).as("A's get after the event runs the loader").hasValue(2);

    // The same again, read through B first: B's get, too, finds neither L1 nor L2.
    publish("{\"entity\":\"user\",\"id\":42,\"action\":\"delete\"}");
    await().atMost(Duration.ofSeconds(5)).until(() -> !onA.inL1(42L) && !onB.inL1(42L));
    await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> meter(a, "applied") + meter(b, "applied") >= applied + 4);
    assertThat(onB.get(42L)).isNotNull();
    assertThat(loads).as("B's get after the event runs the loader").hasValue(3);
  }

  @Test
  void entityEvent_mappedEntity_evictsMappedCache() {
    AtomicInteger loads = new AtomicInteger();
    DefaultCacheAside<Long, User> onA = users(a, "people", loads);
    DefaultCacheAside<Long, User> onB = users(b, "people", loads);
    warm(onA, onB, 7);

    publish("{\"entity\":\"person\",\"id\":7,\"action\":\"update\"}");
    await().atMost(Duration.ofSeconds(5)).until(() -> !onA.inL1(7L) && !onB.inL1(7L));
    int before = loads.get();
    assertThat(onB.get(7L)).isNotNull();
    assertThat(loads).as("L2 lost the entry too").hasValue(before + 1);
  }

  @Test
  void tagEvent_evictsTaggedEntries() {
    AtomicInteger loads = new AtomicInteger();
    DefaultCacheAside<Long, User> onA = users(a, "tagged", loads);
    DefaultCacheAside<Long, User> onB = users(b, "tagged", loads);
    for (long id = 1; id <= 4; id++) {
      warm(onA, onB, id); // odd ids are in team 7, even ones in team 8
    }
    assertThat(loads).hasValue(4);

    publish("{\"tag\":\"team:7\",\"cache\":\"tagged\"}");
    await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> !onA.inL1(1L) && !onB.inL1(1L) && !onA.inL1(3L) && !onB.inL1(3L));
    assertThat(onA.inL1(2L) && onB.inL1(2L) && onA.inL1(4L) && onB.inL1(4L)).isTrue();
    assertThat(onB.get(1L)).isNotNull();
    assertThat(loads).as("the tag moved in L2 too").hasValue(5);
    assertThat(onB.get(2L)).isNotNull();
    assertThat(loads).hasValue(5);

    // Without "cache": the tag of every cache.
    publish("{\"tag\":\"team:8\"}");
    await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> !onA.inL1(2L) && !onB.inL1(2L) && !onA.inL1(4L) && !onB.inL1(4L));
  }

  @Test
  void onMessage_garbage_countedIgnoredAndSubscriberKeepsWorking() {
    AtomicInteger loads = new AtomicInteger();
    DefaultCacheAside<Long, User> onA = users(a, "garbage", loads);
    DefaultCacheAside<Long, User> onB = users(b, "garbage", loads);
    warm(onA, onB, 5);
    double malformedBefore = meter(a, "malformed");
    double unknownBefore = meter(a, "unknown");
    List<String> malformed =
        List.of(
            "not json at all",
            "{}",
            "[1,2,3]",
            "{\"entity\":\"garbage\"}",
            "{\"entity\":\"garbage\",\"id\":1.5}",
            "{\"entity\":\"garbage\",\"id\":\"\"}",
            "{\"entity\":\"garbage\",\"id\":\"a\\u0001b\"}",
            "{\"entity\":\"garbage\",\"id\":\"5\",\"action\":7}",
            "{\"entity\":\"garbage\",\"id\":\"5\",\"tag\":\"x\"}",
            "{\"entity\":\"garbage\",\"id\":\"" + "x".repeat(70_000) + "\"}");
    try (LogCapture logs = new LogCapture()) {
      for (String m : malformed) {
        publish(m);
      }
      publish("{\"entity\":\"nosuchcache\",\"id\":\"5\",\"action\":\"update\"}");
      await()
          .atMost(Duration.ofSeconds(5))
          .until(
              () ->
                  meter(a, "malformed") - malformedBefore >= malformed.size()
                      && meter(a, "unknown") - unknownBefore >= 1);
      assertThat(meter(a, "malformed") - malformedBefore).isEqualTo(malformed.size());
      assertThat(logs.containing("event=cache_foreign_event_ignored"))
          .as("at most one line a minute per runtime (another test may have used the minute)")
          .hasSizeLessThanOrEqualTo(2);
    }
    assertThat(onA.inL1(5L) && onB.inL1(5L)).as("garbage evicts nothing").isTrue();

    publish("{\"entity\":\"garbage\",\"id\":\"5\",\"action\":\"update\"}");
    await().atMost(Duration.ofSeconds(5)).until(() -> !onA.inL1(5L) && !onB.inL1(5L));
  }

  @Test
  void onMessage_publishedByRedisCli_evicts() throws Exception {
    assumeTrue(onPath("redis-cli"), "redis-cli is not on PATH");
    assumeTrue(!env.redisUri().contains(","), "redis-cli is used against a single server only");
    AtomicInteger loads = new AtomicInteger();
    DefaultCacheAside<Long, User> onA = users(a, "cli", loads);
    DefaultCacheAside<Long, User> onB = users(b, "cli", loads);
    warm(onA, onB, 9);

    Process p =
        new ProcessBuilder(
                "redis-cli",
                "-u",
                env.redisUri(),
                "PUBLISH",
                channel,
                "{\"entity\":\"cli\",\"id\":\"9\",\"action\":\"update\"}")
            .redirectErrorStream(true)
            .start();
    assertThat(p.waitFor(10, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(new String(p.getInputStream().readAllBytes())).isZero();
    await().atMost(Duration.ofSeconds(5)).until(() -> !onA.inL1(9L) && !onB.inL1(9L));
    int before = loads.get();
    assertThat(onA.get(9L)).isNotNull();
    assertThat(loads).hasValue(before + 1);
  }

  private static boolean onPath(String program) {
    String path = System.getenv("PATH");
    if (path == null) {
      return false;
    }
    for (String dir : path.split(File.pathSeparator)) {
      if (Files.isExecutable(Path.of(dir, program))) {
        return true;
      }
    }
    return false;
  }

  @Test
  void load_foreignKeys_fromYaml(@TempDir Path dir) throws Exception {
    Path p = dir.resolve("spillway.yaml");
    Files.writeString(
        p,
        "cache:\n"
            + "  foreign-channel: 'cache:invalidate'\n"
            + "  foreign-entities: {user: users, Order: orders}\n");
    SpillwayConfig c = ConfigLoader.load(p, Map.of());
    assertThat(c.cache().foreignChannel()).isEqualTo("cache:invalidate");
    assertThat(c.cache().foreignEntities())
        .containsExactlyInAnyOrderEntriesOf(Map.of("user", "users", "Order", "orders"));
    assertThat(c.cache().cacheForEntity("user")).isEqualTo("users");
    assertThat(c.cache().cacheForEntity("team")).isEqualTo("team");
    assertThat(c.toString()).contains("foreign-channel=cache:invalidate");
    assertThat(ConfigLoader.load(null, Map.of()).cache().foreignChannel()).isNull();
  }

  @Test
  void load_foreignKeys_wrongType_namesKey(@TempDir Path dir) throws Exception {
    Path p = dir.resolve("spillway.yaml");
    Files.writeString(p, "cache:\n  foreign-channel: [a, b]\n");
    assertThatThrownBy(() -> ConfigLoader.load(p, Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith("cache.foreign-channel must be a single value");
    Files.writeString(p, "cache:\n  foreign-entities: [user]\n");
    assertThatThrownBy(() -> ConfigLoader.load(p, Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith("cache.foreign-entities must be a mapping");
    Files.writeString(p, "cache:\n  foreign-entities: {user: {name: users}}\n");
    assertThatThrownBy(() -> ConfigLoader.load(p, Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith("cache.foreign-entities.user must be a cache name");
    Files.writeString(p, "cache:\n  foreign-entities: {user: 'Not A Cache'}\n");
    assertThatThrownBy(() -> ConfigLoader.load(p, Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith("cache.foreign-entities.user must be a cache name matching");
    Files.writeString(p, "cache:\n  foreign-channel: 'has space'\n");
    assertThatThrownBy(() -> ConfigLoader.load(p, Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith("cache.foreign-channel must match");
  }

  @Test
  void build_foreignChannelIsBusChannel_refused() {
    CacheSettings clash = CacheSettings.builder().foreignChannel("sw:c:bus").build();
    assertThatThrownBy(
            () -> CacheFixtures.config(env, env.redisUri(), clash).keyPrefix("sw:").build())
        .isInstanceOf(ConfigException.class)
        .hasMessage(
            "cache.foreign-channel must differ from the invalidation bus channel but both were"
                + " 'sw:c:bus'");
  }
}
