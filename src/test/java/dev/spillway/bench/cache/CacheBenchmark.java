package dev.spillway.bench.cache;

import dev.spillway.Spillway;
import dev.spillway.SpillwayConfig;
import dev.spillway.cache.CacheAside;
import dev.spillway.config.ConfigLoader;
import dev.spillway.embedded.LocalServices;
import io.lettuce.core.RedisClient;
import io.lettuce.core.SetArgs;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.codec.ByteArrayCodec;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.OptionsBuilder;

/**
 * Read paths of a {@link CacheAside}, with their physical peer measured in the same run:
 *
 * <ul>
 *   <li>{@code l1Hit}: a get answered by Caffeine (key encoding, L1 lookup, XFetch draw).
 *   <li>{@code l2Hit}: L1 disabled; one Redis GET, envelope decode, JSON to a record.
 *   <li>{@code redisGetPeer}: a bare synchronous Lettuce GET of the same bytes, the floor under
 *       {@code l2Hit}.
 *   <li>{@code coalescedMiss}: the key invalidated, then 16 threads get it at once: one lease, one
 *       load (an in-memory loader, so the cache's own cost is what is measured), one write, 15
 *       callers joining the flight. Per invocation, i.e. per 16 gets.
 * </ul>
 *
 * <p>Uses SPILLWAY_REDIS_URI / SPILLWAY_JDBC_URL (or 127.0.0.1, or embedded servers), schema {@code
 * spillway_bench_cache} and key prefix {@code swbench:c:}. Run:
 *
 * <pre>
 * mvn -q -Dspillway.build.dir=/tmp/sw-bench test-compile dependency:build-classpath \
 *     -Dmdep.outputFile=/tmp/sw-bench/cp.txt -Dmdep.includeScope=test
 * java -cp /tmp/sw-bench/classes:/tmp/sw-bench/test-classes:$(cat /tmp/sw-bench/cp.txt) \
 *     dev.spillway.bench.cache.CacheBenchmark
 * </pre>
 *
 * Absolute times on a shared 2-core machine are noise; quote the ratios to the peer.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class CacheBenchmark {
  /** What the benchmark caches: a small record, as an entity cache would. */
  public record Item(long id, String name, int teamId) {}

  private static final int CALLERS = 16;

  private LocalServices services;
  private Spillway sw;
  private CacheAside<Long, Item> l1Cache;
  private CacheAside<Long, Item> l2Cache;
  private CacheAside<Long, Item> missCache;
  private ExecutorService callers;
  private RedisClient peerClient;
  private StatefulRedisConnection<byte[], byte[]> peer;
  private byte[] peerKey;
  private final AtomicLong missLoads = new AtomicLong();
  private final AtomicLong invocations = new AtomicLong();

  @Setup(Level.Trial)
  public void start() {
    SpillwayConfig env = ConfigLoader.load(null, System.getenv());
    services =
        LocalServices.resolve(
            env.redisUri(), env.jdbcUrl(), env.jdbcUser(), env.jdbcPassword(), System.out::println);
    SpillwayConfig c =
        env.toBuilder()
            .redisUri(services.redisUri())
            .jdbcUrl(services.jdbcUrl())
            .jdbcUser(services.jdbcUser())
            .jdbcPassword(services.jdbcPassword())
            .schema("spillway_bench_cache")
            .keyPrefix("swbench:")
            .build();
    sw = Spillway.builder().config(c).build();
    Item item = new Item(1, "user-1", 7);
    l1Cache =
        sw.cache("l1", Long.class, Item.class)
            .loader(id -> item)
            .ttl(Duration.ofHours(1))
            .l1(10_000, Duration.ofHours(1))
            .build();
    l2Cache =
        sw.cache("l2", Long.class, Item.class)
            .loader(id -> item)
            .ttl(Duration.ofHours(1))
            .l1(0, Duration.ofSeconds(1))
            .build();
    missCache =
        sw.cache("miss", Long.class, Item.class)
            .loader(
                id -> {
                  missLoads.incrementAndGet();
                  return item;
                })
            .ttl(Duration.ofHours(1))
            .build();
    l1Cache.get(1L);
    l2Cache.get(1L);
    callers = Executors.newFixedThreadPool(CALLERS);
    peerClient = RedisClient.create(services.redisUri());
    peer = peerClient.connect(ByteArrayCodec.INSTANCE);
    peerKey = "swbench:c:peer".getBytes(StandardCharsets.UTF_8);
    peer.sync()
        .set(
            peerKey,
            "{\"id\":1,\"name\":\"user-1\",\"teamId\":7}"
                .repeat(2)
                .getBytes(StandardCharsets.UTF_8),
            SetArgs.Builder.px(3_600_000));
  }

  @TearDown(Level.Trial)
  public void stop() {
    if (invocations.get() > 0) {
      System.out.printf(
          "%ncoalescedMiss: loader runs per invocation of %d gets: %.3f%n",
          CALLERS, missLoads.get() / (double) invocations.get());
    }
    peer.sync().del(peerKey);
    peer.close();
    peerClient.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    callers.shutdownNow();
    sw.close();
    services.close();
  }

  @Benchmark
  public Item l1Hit() {
    return l1Cache.get(1L);
  }

  @Benchmark
  public Item l2Hit() {
    return l2Cache.get(1L);
  }

  @Benchmark
  public byte[] redisGetPeer() {
    return peer.sync().get(peerKey);
  }

  @Benchmark
  public List<Item> coalescedMiss() {
    invocations.incrementAndGet();
    missCache.invalidate(1L);
    List<CompletableFuture<Item>> all = new ArrayList<>(CALLERS);
    for (int i = 0; i < CALLERS; i++) {
      all.add(CompletableFuture.supplyAsync(() -> missCache.get(1L), callers));
    }
    List<Item> out = new ArrayList<>(CALLERS);
    for (CompletableFuture<Item> f : all) {
      out.add(f.join());
    }
    return out;
  }

  public static void main(String[] args) throws Exception {
    new Runner(new OptionsBuilder().include(CacheBenchmark.class.getName()).build()).run();
  }
}
