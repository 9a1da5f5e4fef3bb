package dev.spillway.schedule;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.Spillway;
import dev.spillway.counter.Counters;
import dev.spillway.layout.KeyLayout;
import dev.spillway.testing.OnRedisCluster;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.Spillways;
import dev.spillway.testing.TestEnv;
import dev.spillway.testing.TestRedis;
import dev.spillway.worker.WorkerProcess;
import io.lettuce.core.RedisFuture;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.parallel.ResourceLock;

/**
 * Flush throughput of 1, 2 and 3 clustered workers (Quartz on PostgreSQL, one job per stripe group)
 * draining one fixed backlog from the shared Redis Cluster into PostgreSQL. Measured and printed,
 * never asserted: the machine has two shared cores. What is asserted is exactness, each round: the
 * total and a sample of single keys in PostgreSQL are what was sent, and nothing is left pending in
 * Redis.
 *
 * <p>Each round uses its own counter name and preloads its backlog (distinct cells, one increment
 * each) through an app {@link Spillway} that does not flush, <em>under a key prefix of its
 * own</em>, while the round's workers boot. Only once every worker answers {@code /health/ready} is
 * the backlog handed to them: one {@code RENAMENX} per stripe moves the loaded live hash to the
 * workers' live key (same hash tag {@code {s}}, so same slot; a few milliseconds for 256 stripes).
 * Without that gate the first worker to boot would flush much of the backlog while the others are
 * still starting, and the rounds would measure JVM start-up, not sharing.
 *
 * <p>The clock runs from the hand-over until the flush ledger's delta sum for the round equals what
 * was sent; the ledger row commits in the same transaction as the counter rows, and polling the few
 * hundred ledger rows is far cheaper than summing the counter table, which would take CPU from what
 * is measured. The counter table is checked once, right after.
 *
 * <p>From the workers' logs ({@code event=job_start}, and the DEBUG {@code event=flush} line each
 * run that applied batches writes) the table shows how the work spread: flush-job runs per worker
 * during the window, the runs that applied batches, the cells each worker applied, and when each
 * such run started relative to the hand-over.
 *
 * <p>Keep in mind when reading the numbers: 8 groups every 100 ms ask Quartz for 80 fires a second
 * across the cluster, more than its clustered JDBC store sustains on two cores, so the triggers run
 * late; one left waiting more than {@code misfireThreshold} (2 s) is skipped by acquisition until a
 * misfire-handler pass (every 2 s) reschedules it, which shows up as a group starting seconds after
 * the others. Every applied cell also costs a cache invalidation (a Redis script and a marker key),
 * done on the worker after the acknowledgement, beside the next flushes.
 */
@ExtendWith(ServicesExtension.class)
@ResourceLock(WorkerProcess.CHILD_JVMS)
@OnRedisCluster
class WorkersThroughputOnClusterTest {
  static final int STRIPES = 256;
  static final int GROUPS = 8;
  static final int CELLS = Integer.getInteger("spillway.throughput.cells", 300_000);
  static final Duration FLUSH_DEADLINE = Duration.ofSeconds(60);
  static final Pattern TS = Pattern.compile("^ts=(\\S+) ");
  static final Pattern PAIR = Pattern.compile("(\\w+)=(\"[^\"]*\"|\\S+)");

  static final String WORKER_CONFIG =
      """
      keys: {stripes: %d}
      flush: {interval: 100ms}
      postgres: {pool-size: 6}
      worker:
        http: {port: 0}
        cluster: true
        cluster-checkin-interval: 1s
        threads: 2
        flush: {groups: %d}
        shutdown-timeout: 10s
        log: {level: DEBUG}
      """
          .formatted(STRIPES, GROUPS);

  /** What one round measured. */
  record Round(
      int workers,
      long cells,
      long sum,
      Duration took,
      Duration preload,
      Duration boot,
      List<WorkerShare> shares) {
    double cellsPerSecond() {
      return cells / (took.toNanos() / 1e9);
    }
  }

  /** One worker's part of a round, from its log. */
  record WorkerShare(
      int jobRuns,
      int runsWithData,
      long cells,
      long claimMs,
      long readMs,
      long applyMs,
      long ackMs,
      List<String> timeline) {}

  @Test
  void flushThroughput_oneTwoThreeWorkers_exactEachRound(TestEnv env) throws Exception {
    long classStart = System.nanoTime();
    // Migrate once, so that workers starting together do not race on Flyway.
    try (Spillway migrate = Spillways.builder(env).stripes(STRIPES).build()) {
      assertThat(migrate.config().schema()).isEqualTo(env.schema());
    }
    Path config = WorkerProcess.config(WORKER_CONFIG);
    List<Round> rounds = new ArrayList<>();
    try (TestRedis redis = env.redis()) {
      for (int k = 1; k <= 3; k++) {
        rounds.add(round(env, redis, config, k));
      }
    }
    System.out.println(table(rounds, Duration.ofNanos(System.nanoTime() - classStart)));
  }

  private Round round(TestEnv env, TestRedis redis, Path config, int k) throws Exception {
    String counter = "tp" + k;
    String loadPrefix = env.keyPrefix() + "load" + k + ":";
    KeyLayout workersLayout = new KeyLayout(env.keyPrefix(), STRIPES);
    KeyLayout loadLayout = new KeyLayout(loadPrefix, STRIPES);
    long ledgerBefore = ledgerSum(env);

    List<WorkerProcess> workers = new ArrayList<>();
    try {
      long bootStart = System.nanoTime();
      for (int i = 0; i < k; i++) {
        workers.add(
            WorkerProcess.start(WorkerProcess.env(env), "worker", "--config", config.toString()));
      }

      // While they boot: the backlog, into the load prefix the workers never look at.
      long preloadStart = System.nanoTime();
      long sent = 0;
      boolean[] loaded = new boolean[STRIPES];
      try (Spillway app = Spillways.builder(env).keyPrefix(loadPrefix).stripes(STRIPES).build()) {
        Counters c = app.counters();
        for (int i = 0; i < CELLS; i++) {
          long delta = delta(i);
          c.increment(counter, key(i), delta);
          sent += delta;
          loaded[loadLayout.stripeOf(counter, key(i))] = true;
        }
        c.flush();
        assertThat(c.pendingCells()).isZero();
      }
      Duration preload = Duration.ofNanos(System.nanoTime() - preloadStart);
      { // Diagnostics: does Redis hold every preloaded cell before the hand-over?
        List<RedisFuture<Long>> lens = new ArrayList<>();
        for (int s = 0; s < STRIPES; s++) {
          lens.add(redis.async().hlen(loadLayout.live(s)));
        }
        long held = 0;
        StringBuilder shortStripes = new StringBuilder();
        int[] expectedPerStripe = new int[STRIPES];
        for (int i = 0; i < CELLS; i++) {
          expectedPerStripe[loadLayout.stripeOf(counter, key(i))]++;
        }
        for (int s = 0; s < STRIPES; s++) {
          long fields = lens.get(s).get(10, TimeUnit.SECONDS);
          long n = fields > 0 ? fields - 1 : 0; // a live hash also holds its claim id, #claim
          held += n;
          if (n != expectedPerStripe[s]) {
            shortStripes
                .append(" stripe ")
                .append(s)
                .append(": ")
                .append(n)
                .append('/')
                .append(expectedPerStripe[s])
                .append(" seen=")
                .append(redis.sync().hgetall(loadLayout.seen(s)));
          }
        }
        String epoch =
            redis
                .sync()
                .clusterInfo()
                .lines()
                .filter(l -> l.startsWith("cluster_current_epoch"))
                .findFirst()
                .orElse("?");
        assertThat(held)
            .as("cells in Redis after the preload's flush():%s; %s", shortStripes, epoch)
            .isEqualTo(CELLS);
      }

      for (WorkerProcess w : workers) {
        w.awaitPort(WorkerProcess.START_TIMEOUT);
        w.awaitStatus("/health/ready", 200, WorkerProcess.START_TIMEOUT);
      }
      Duration boot = Duration.ofNanos(System.nanoTime() - bootStart);

      // Hand the backlog over: every stripe at once, pipelined.
      Instant windowStart = Instant.now();
      long t0 = System.nanoTime();
      List<RedisFuture<Boolean>> moves = new ArrayList<>(STRIPES);
      for (int s = 0; s < STRIPES; s++) {
        if (loaded[s]) {
          moves.add(redis.async().renamenx(loadLayout.live(s), workersLayout.live(s)));
        }
      }
      int moved = 0;
      for (RedisFuture<Boolean> f : moves) {
        moved += f.get(10, TimeUnit.SECONDS) ? 1 : 0;
      }
      assertThat(moved)
          .as("every loaded stripe handed over (none had a live hash already)")
          .isEqualTo(moves.size());

      long deadline = t0 + FLUSH_DEADLINE.toNanos();
      while (ledgerSum(env) - ledgerBefore != sent) {
        if (System.nanoTime() > deadline) {
          for (int w = 0; w < workers.size(); w++) { // whole logs, for a post-mortem
            Files.writeString(
                Path.of(
                    System.getProperty("java.io.tmpdir"),
                    "wt-round" + k + "-worker" + (w + 1) + ".log"),
                workers.get(w).output());
          }
          throw new AssertionError(
              "%d worker(s) did not flush %,d cells within %s: %,d of %,d in the ledger, %d key(s) pending in Redis; the workers' warnings:%n%s"
                      .formatted(
                          k,
                          CELLS,
                          FLUSH_DEADLINE,
                          ledgerSum(env) - ledgerBefore,
                          sent,
                          pendingInRedis(redis, workersLayout),
                          warnings(workers))
                  + "\nQuartz: "
                  + quartzState(env)
                  + "\ndead letters: "
                  + env.queryLong("SELECT count(*) FROM dead_letter")
                  + " rows, delta "
                  + env.queryLong("SELECT coalesce(sum(delta), 0)::bigint FROM dead_letter")
                  + "; rows of this counter: "
                  + env.queryLong("SELECT count(*) FROM counter_totals WHERE counter = ?", counter)
                  + ", sum "
                  + env.queryLong(
                      "SELECT coalesce(sum(total), 0) FROM counter_totals WHERE counter = ?",
                      counter)
                  + "; ledger rows "
                  + env.queryLong("SELECT count(*) FROM flush_ledger")
                  + "; load-prefix keys left "
                  + redis.keys(loadPrefix + "*").size()
                  + "\nmissing: "
                  + missing(env, counter, workersLayout));
        }
        Thread.sleep(20);
      }
      Duration took = Duration.ofNanos(System.nanoTime() - t0);
      Instant windowEnd = Instant.now();

      // Exactness: the total, the row count, a sample of single keys, nothing left in Redis.
      assertThat(
              env.queryLong(
                  "SELECT coalesce(sum(total), 0) FROM counter_totals WHERE counter = ?", counter))
          .isEqualTo(sent);
      assertThat(env.queryLong("SELECT count(*) FROM counter_totals WHERE counter = ?", counter))
          .isEqualTo(CELLS);
      SplittableRandom rnd = new SplittableRandom(k);
      for (int j = 0; j < 50; j++) {
        int i = rnd.nextInt(CELLS);
        assertThat(
                env.queryLong(
                    "SELECT total FROM counter_totals WHERE counter = ? AND key = ?",
                    counter,
                    key(i)))
            .as("%s/%s", counter, key(i))
            .isEqualTo(delta(i));
      }
      // The ledger holds every cell once the last transaction commits; its batches are
      // acknowledged in Redis just after, so give the acks a moment.
      long ackDeadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
      while (pendingInRedis(redis, workersLayout) != 0 && System.nanoTime() < ackDeadline) {
        Thread.sleep(20);
      }
      assertThat(pendingInRedis(redis, workersLayout)).as("batches pending in Redis").isZero();

      for (WorkerProcess w : workers) {
        w.terminate();
      }
      for (WorkerProcess w : workers) {
        assertThat(w.awaitExit(Duration.ofSeconds(20))).as("worker exits on SIGTERM").isZero();
      }
      // Every applied cell left a cache-invalidation marker (60 s TTL) under <prefix>c:; remove
      // them now, pipelined, rather than leave ~300k keys per round to the class clean-up, which
      // unlinks one key per round trip.
      unlinkPipelined(redis, env.keyPrefix() + "c:*");
      List<WorkerShare> shares = new ArrayList<>();
      for (WorkerProcess w : workers) {
        shares.add(share(w.output(), windowStart, windowEnd));
      }
      assertThat(shares.stream().mapToLong(WorkerShare::cells).sum())
          .as("cells the workers logged as applied")
          .isEqualTo(CELLS);
      Round round = new Round(k, CELLS, sent, took, preload, boot, shares);
      System.out.printf(
          "WorkersThroughputOnClusterTest: round %d: %,d cells in %.2f s, flush window %s .. %s%n",
          k, CELLS, took.toNanos() / 1e9, windowStart, windowEnd);
      return round;
    } finally {
      workers.forEach(WorkerProcess::close);
    }
  }

  /** WARN and ERROR lines of every worker, and the last lines of each, for a failure message. */
  private static String warnings(List<WorkerProcess> workers) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < workers.size(); i++) {
      List<String> lines = workers.get(i).output().lines().toList();
      b.append("--- worker ").append(i + 1).append('\n');
      lines.stream()
          .filter(l -> l.contains("level=WARN") || l.contains("level=ERROR"))
          .limit(40)
          .forEach(l -> b.append(l).append('\n'));
      b.append("--- last lines\n");
      lines
          .subList(Math.max(0, lines.size() - 30), lines.size())
          .forEach(l -> b.append(l).append('\n'));
    }
    return b.toString();
  }

  /** The flush triggers' states and the fired-trigger rows, for a failure message. */
  private static String quartzState(TestEnv env) {
    StringBuilder b = new StringBuilder();
    try (Connection c = env.dataSource().getConnection();
        Statement st = c.createStatement()) {
      for (String sql :
          List.of(
              "SELECT trigger_name, trigger_state, next_fire_time - (extract(epoch FROM now()) *"
                  + " 1000)::bigint FROM "
                  + env.schema()
                  + ".qrtz_triggers ORDER BY trigger_name",
              "SELECT trigger_name, instance_name, state, fired_time FROM "
                  + env.schema()
                  + ".qrtz_fired_triggers ORDER BY trigger_name",
              "SELECT instance_name, last_checkin_time - (extract(epoch FROM now()) * 1000)::bigint"
                  + " FROM "
                  + env.schema()
                  + ".qrtz_scheduler_state")) {
        try (ResultSet rs = st.executeQuery(sql)) {
          int n = rs.getMetaData().getColumnCount();
          while (rs.next()) {
            List<String> row = new ArrayList<>();
            for (int i = 1; i <= n; i++) {
              row.add(rs.getString(i));
            }
            b.append(row).append('\n');
          }
        }
        b.append("--\n");
      }
    } catch (SQLException e) {
      b.append(e);
    }
    return b.toString();
  }

  static String key(int i) {
    return "k" + i;
  }

  static long delta(int i) {
    return 1 + i % 5;
  }

  /** Keys whose total differs from what was sent, with their stripes (diagnostics only). */
  private static String missing(TestEnv env, String counter, KeyLayout layout) {
    Map<String, Long> got = new HashMap<>();
    try (var c = env.dataSource().getConnection();
        var ps =
            c.prepareStatement(
                "SELECT key, total FROM \""
                    + env.schema()
                    + "\".counter_totals WHERE counter = ?")) {
      ps.setString(1, counter);
      try (var rs = ps.executeQuery()) {
        while (rs.next()) {
          got.put(rs.getString(1), rs.getLong(2));
        }
      }
    } catch (SQLException e) {
      return e.toString();
    }
    Map<Integer, Integer> byStripe = new TreeMap<>();
    List<String> sample = new ArrayList<>();
    for (int i = 0; i < CELLS; i++) {
      if (got.getOrDefault(key(i), 0L) != delta(i)) {
        byStripe.merge(layout.stripeOf(counter, key(i)), 1, Integer::sum);
        if (sample.size() < 5) {
          sample.add(key(i) + "=" + got.get(key(i)) + "/" + delta(i));
        }
      }
    }
    return "by stripe " + byStripe + " e.g. " + sample;
  }

  private static long ledgerSum(TestEnv env) {
    return env.queryLong("SELECT coalesce(sum(delta_sum), 0)::bigint FROM flush_ledger");
  }

  private static void unlinkPipelined(TestRedis redis, String pattern) throws Exception {
    List<String> keys = redis.keys(pattern);
    for (int from = 0; from < keys.size(); from += 10_000) {
      List<RedisFuture<Long>> unlinks = new ArrayList<>();
      for (String key : keys.subList(from, Math.min(keys.size(), from + 10_000))) {
        unlinks.add(redis.async().unlink(key));
      }
      for (RedisFuture<Long> f : unlinks) {
        f.get(30, TimeUnit.SECONDS);
      }
    }
  }

  private static long pendingInRedis(TestRedis redis, KeyLayout layout) throws Exception {
    List<RedisFuture<Long>> cards = new ArrayList<>();
    List<RedisFuture<Long>> lives = new ArrayList<>();
    for (int s = 0; s < STRIPES; s++) {
      cards.add(redis.async().scard(layout.batches(s)));
      lives.add(redis.async().exists(layout.live(s)));
    }
    long n = 0;
    for (int s = 0; s < STRIPES; s++) {
      n += cards.get(s).get(10, TimeUnit.SECONDS) + lives.get(s).get(10, TimeUnit.SECONDS);
    }
    return n;
  }

  /**
   * A worker's flush-job runs that started inside {@code [from, to]}, and the runs that applied
   * batches ({@code event=flush}, logged at DEBUG with the time spent in each step).
   */
  static WorkerShare share(String log, Instant from, Instant to) {
    int runs = 0;
    int withData = 0;
    long cells = 0;
    long claim = 0;
    long read = 0;
    long apply = 0;
    long ack = 0;
    List<String> timeline = new ArrayList<>();
    Map<String, String> jobOnThread = new HashMap<>();
    Map<String, Instant> startOnThread = new HashMap<>();
    for (String line : log.lines().toList()) {
      Matcher ts = TS.matcher(line);
      if (!ts.find()) {
        continue;
      }
      Map<String, String> kv = pairs(line);
      String event = kv.get("event");
      if ("job_start".equals(event) && kv.getOrDefault("job", "").startsWith("flush-")) {
        Instant t = Instant.parse(ts.group(1));
        jobOnThread.put(kv.get("thread"), kv.get("job"));
        startOnThread.put(kv.get("thread"), t);
        if (!t.isBefore(from.minusMillis(1)) && !t.isAfter(to)) {
          runs++;
        }
      } else if (("flush".equals(event) || "flush_incomplete".equals(event))
          && Long.parseLong(kv.getOrDefault("applied", "0")) > 0) {
        // event=flush (DEBUG) after a clean run that applied batches; flush_incomplete (WARN)
        // when a run applied some and left others pending (a claim its replicas did not confirm
        // in time, say): its cells count too, it has no per-step times.
        withData++;
        Instant started = startOnThread.get(kv.get("thread"));
        timeline.add(
            "%s@%+dms:%sms"
                .formatted(
                    jobOnThread.get(kv.get("thread")),
                    started == null ? 0 : Duration.between(from, started).toMillis(),
                    kv.get("duration_ms")));
        cells += Long.parseLong(kv.getOrDefault("cells", "0"));
        claim += Long.parseLong(kv.getOrDefault("claim_ms", "0"));
        read += Long.parseLong(kv.getOrDefault("read_ms", "0"));
        apply += Long.parseLong(kv.getOrDefault("apply_ms", "0"));
        ack += Long.parseLong(kv.getOrDefault("ack_ms", "0"));
      }
    }
    return new WorkerShare(runs, withData, cells, claim, read, apply, ack, timeline);
  }

  private static Map<String, String> pairs(String line) {
    Map<String, String> out = new HashMap<>();
    Matcher m = PAIR.matcher(line);
    while (m.find()) {
      out.putIfAbsent(m.group(1), m.group(2));
    }
    return out;
  }

  static String table(List<Round> rounds, Duration whole) {
    StringBuilder b = new StringBuilder();
    b.append(
        "WorkersThroughputOnClusterTest: %d stripes, %d flush groups, flush interval 100ms, 2 job threads per worker, %d cores%n"
            .formatted(STRIPES, GROUPS, Runtime.getRuntime().availableProcessors()));
    b.append(
        String.format(
            "%-8s %9s %8s %10s %8s   %-60s%n",
            "workers",
            "cells",
            "seconds",
            "cells/s",
            "vs 1",
            "per worker: flush-job runs in window / runs with data / cells"));
    double base = rounds.get(0).cellsPerSecond();
    for (Round r : rounds) {
      List<String> parts = new ArrayList<>();
      for (WorkerShare s : r.shares()) {
        parts.add(s.jobRuns() + "/" + s.runsWithData() + "/" + s.cells());
      }
      b.append(
          String.format(
              "%-8d %,9d %8.2f %,10.0f %7.2fx   %s%n",
              r.workers(),
              r.cells(),
              r.took().toNanos() / 1e9,
              r.cellsPerSecond(),
              r.cellsPerSecond() / base,
              String.join("  ", parts)));
    }
    b.append(
        "where the applying runs spent their time (ms summed over workers: claim / read / apply / ack):%n"
            .formatted());
    for (Round r : rounds) {
      long claim = r.shares().stream().mapToLong(WorkerShare::claimMs).sum();
      long read = r.shares().stream().mapToLong(WorkerShare::readMs).sum();
      long apply = r.shares().stream().mapToLong(WorkerShare::applyMs).sum();
      long ack = r.shares().stream().mapToLong(WorkerShare::ackMs).sum();
      b.append(
          String.format(
              "  %d worker(s): %d / %d / %d / %d; preload %.1f s, workers ready after %.1f s%n",
              r.workers(),
              claim,
              read,
              apply,
              ack,
              r.preload().toNanos() / 1e9,
              r.boot().toNanos() / 1e9));
    }
    b.append(
        "runs that applied batches, per worker (group@start after the hand-over:duration):%n"
            .formatted());
    for (Round r : rounds) {
      for (int i = 0; i < r.shares().size(); i++) {
        b.append(
            String.format(
                "  %d worker(s), worker %d: %s%n",
                r.workers(), i + 1, String.join(" ", r.shares().get(i).timeline())));
      }
    }
    b.append(String.format("whole class: %.1f s%n", whole.toNanos() / 1e9));
    return b.toString();
  }
}
