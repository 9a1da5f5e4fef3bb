package dev.spillway.bench;

import dev.spillway.Durability;
import dev.spillway.Spillway;
import dev.spillway.counter.Counters;
import dev.spillway.testing.RedisServerProcess;
import io.lettuce.core.RedisClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Figure 9 (issue 16): the cost of {@code client.durability: replicated}. A master and one replica
 * of it, both started by the benchmark from {@code redis-server} on spare ports (and stopped
 * after); hot-key (1k) and cold-key ingest, increment() to acknowledged (flush() returns), {@code
 * async} against {@code replicated} on the same pair in the same run.
 */
final class DurableBench {
  /**
   * For both modes alike: a cold-key backlog of a million cells makes single drains of 250k cells,
   * which a master feeding a replica on two shared cores may take over 5 s to run.
   */
  private static final Duration TIMEOUT = Duration.ofSeconds(30);

  private DurableBench() {}

  static List<BenchResult> ingest(Env env, int threads, Duration d, int coldKeys) throws Exception {
    List<BenchResult> out = new ArrayList<>();
    try (RedisServerProcess master = RedisServerProcess.start();
        RedisServerProcess replica =
            RedisServerProcess.start("--replicaof", "127.0.0.1", Integer.toString(master.port()))) {
      awaitLinked(master);
      String hot = "10. durable mode, hot keys (1k keys, " + threads + " threads)";
      String cold =
          "10. durable mode, cold keys (" + coldKeys / 1000 + "k keys, " + threads + " threads)";
      out.addAll(pair(env, master.uri(), hot, threads, d, 1_000));
      out.addAll(pair(env, master.uri(), cold, threads, d, coldKeys));
    }
    return out;
  }

  /**
   * Async and replicated alternate (async, replicated, replicated, async) after a discarded
   * warm-up, and each keeps its better run: on a shared two-core machine the first run of a JVM and
   * a neighbour's burst otherwise decide the ratio.
   */
  private static List<BenchResult> pair(
      Env env, String uri, String group, int threads, Duration d, int keys) throws Exception {
    rate(env, uri, Durability.ASYNC, threads, Duration.ofSeconds(2), keys); // warm-up
    double async = 0;
    double durable = 0;
    for (int round = 0; round < 2; round++) { // the order flips: neither always runs first
      if (round == 0) {
        async = Math.max(async, rate(env, uri, Durability.ASYNC, threads, d, keys));
      }
      durable = Math.max(durable, rate(env, uri, Durability.REPLICATED, threads, d, keys));
      if (round == 1) {
        async = Math.max(async, rate(env, uri, Durability.ASYNC, threads, d, keys));
      }
    }
    BenchResult asyncR =
        BenchResult.of(
            group, "async (default), increment() to flush() returned", async, "events/s");
    List<BenchResult> out = new ArrayList<>();
    out.add(
        BenchResult.of(
                group, "replicated (WAIT 1), increment() to flush() returned", durable, "events/s")
            .against(asyncR, null));
    out.add(asyncR);
    if (keys <= 1_000) {
      double asyncUs = flushLatency(env, uri, Durability.ASYNC);
      double durableUs = flushLatency(env, uri, Durability.REPLICATED);
      BenchResult asyncL =
          BenchResult.of(group, "async: increment() + flush(), median latency", asyncUs, "us");
      out.add(
          BenchResult.of(
                  group, "replicated: increment() + flush(), median latency", durableUs, "us")
              .against(asyncL, null));
      out.add(asyncL);
    }
    return out;
  }

  /** Median microseconds of one increment() followed by flush(), one thread, 500 times. */
  private static double flushLatency(Env env, String uri, Durability durability) throws Exception {
    env.reset();
    try (Spillway sw =
        Spillway.builder()
            .config(
                env.base.toBuilder()
                    .redisUri(uri)
                    .redisTimeout(TIMEOUT)
                    .durability(durability)
                    .build())
            .build()) {
      Counters c = sw.counters();
      long[] micros = new long[500];
      for (int i = -100; i < micros.length; i++) { // the first 100: warm-up
        long t0 = System.nanoTime();
        c.increment("latency", "k" + (i & 63));
        c.flush();
        if (i >= 0) {
          micros[i] = (System.nanoTime() - t0) / 1_000;
        }
      }
      Arrays.sort(micros);
      return micros[micros.length / 2];
    }
  }

  private static double rate(
      Env env, String uri, Durability durability, int threads, Duration d, int keys)
      throws Exception {
    env.reset();
    try (Spillway sw =
        Spillway.builder()
            .config(
                env.base.toBuilder()
                    .redisUri(uri)
                    .redisTimeout(TIMEOUT)
                    .durability(durability)
                    .build())
            .build()) {
      Counters c = sw.counters();
      String counter = keys <= 1_000 ? "hot" : "cold";
      return Ingest.rate(
          threads,
          d,
          (t, stop, sent) -> {
            SplittableRandom r = new SplittableRandom(400 + t);
            while (!stop.get()) {
              for (int i = 0; i < 1000; i++) {
                c.increment(counter, Integer.toString(r.nextInt(keys)));
              }
              sent.add(1000);
            }
          },
          c::flush);
    }
  }

  private static void awaitLinked(RedisServerProcess master) throws InterruptedException {
    RedisClient client = RedisClient.create(master.uri());
    try (var c = client.connect()) {
      long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
      while (!c.sync().info("replication").contains("connected_slaves:1")) {
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException("the bench replica did not link to its master");
        }
        Thread.sleep(50);
      }
    } finally {
      client.shutdown(Duration.ZERO, Duration.ofSeconds(1));
    }
  }
}
