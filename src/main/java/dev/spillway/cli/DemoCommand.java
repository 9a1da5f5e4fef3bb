package dev.spillway.cli;

import dev.spillway.Granularity;
import dev.spillway.Spillway;
import dev.spillway.SpillwayConfig;
import dev.spillway.config.Durations;
import dev.spillway.counter.Counters;
import dev.spillway.embedded.LocalServices;
import dev.spillway.flush.FlushReport;
import dev.spillway.layout.KeyLayout;
import dev.spillway.redis.RedisConnector;
import dev.spillway.redis.RedisLink;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.ScanCursor;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import javax.sql.DataSource;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The demo: synthetic page views through the embedded client for a while, flushed every 500 ms,
 * with a live progress line, then the top pages read back from PostgreSQL with SQL and an exact
 * check that PostgreSQL holds every increment sent. Runs against the configured Redis and
 * PostgreSQL, or embedded ones when those do not answer, in its own schema and key prefix.
 */
@Command(
    name = "demo",
    mixinStandardHelpOptions = true,
    description = {
      "Send synthetic page views for a while, flush them to PostgreSQL, print the top 10 pages.",
      "Uses the configured Redis and PostgreSQL, or starts embedded ones when none answers.",
      "Writes only to schema spillway_demo and keys under swdemo: (both reset at start)."
    },
    footer = {"", "Examples:", "  spillway demo", "  spillway demo --duration 5s --threads 4"})
final class DemoCommand implements Callable<Integer> {
  static final String SCHEMA = "spillway_demo";
  static final String PREFIX = "swdemo:";

  @Mixin ConfigOptions options;

  @Option(
      names = "--duration",
      defaultValue = "20s",
      description = "How long to send traffic (default ${DEFAULT-VALUE})")
  String duration;

  @Option(
      names = "--threads",
      defaultValue = "2",
      description = "Sending threads (default ${DEFAULT-VALUE})")
  int threads;

  @Option(
      names = "--pages",
      defaultValue = "10000",
      description = "Distinct pages (default ${DEFAULT-VALUE})")
  int pages;

  @Override
  public Integer call() throws Exception {
    Duration runFor = Durations.parse("--duration", duration);
    if (runFor.compareTo(Duration.ofSeconds(1)) < 0 || runFor.compareTo(Duration.ofDays(1)) > 0) {
      throw new IllegalArgumentException(
          "--duration must be between 1s and 1d but was " + Durations.format(runFor));
    }
    if (threads < 1 || threads > 64) {
      throw new IllegalArgumentException("--threads must be between 1 and 64 but was " + threads);
    }
    if (pages < 1) {
      throw new IllegalArgumentException("--pages must be at least 1 but was " + pages);
    }
    SpillwayConfig base = options.load();
    try (LocalServices services =
        LocalServices.resolve(
            base.redisUri(),
            base.jdbcUrl(),
            base.jdbcUser(),
            base.jdbcPassword(),
            System.out::println)) {
      SpillwayConfig config =
          base.toBuilder()
              .redisUri(services.redisUri())
              .jdbcUrl(services.jdbcUrl())
              .jdbcUser(services.jdbcUser())
              .jdbcPassword(services.jdbcPassword())
              .schema(SCHEMA)
              .keyPrefix(PREFIX)
              .flushEnabled(true)
              .flushInterval(Duration.ofMillis(500))
              .counter("page_views", Granularity.MINUTE, Granularity.HOUR)
              .build();
      reset(config);
      try (Spillway sw = Spillway.builder().config(config).build()) {
        return run(sw, config, runFor);
      }
    }
  }

  private int run(Spillway sw, SpillwayConfig config, Duration runFor) throws Exception {
    Counters counters = sw.counters();
    LongAdder sent = new LongAdder();
    AtomicBoolean stop = new AtomicBoolean();
    List<Thread> senders = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      long seed = 42 + t;
      Thread th =
          Thread.ofPlatform()
              .name("demo-sender-" + t)
              .start(
                  () -> {
                    SplittableRandom rnd = new SplittableRandom(seed);
                    while (!stop.get()) {
                      for (int i = 0; i < 1000; i++) {
                        counters.increment("page_views", Integer.toString(zipfish(rnd)));
                      }
                      sent.add(1000);
                    }
                  });
      senders.add(th);
    }
    System.out.printf(
        "sending page views for %s on %d thread(s) over %,d pages; flushing every 500 ms%n",
        Durations.format(runFor), threads, pages);
    long start = System.nanoTime();
    long lastSent = 0;
    long lastTick = start;
    boolean tty = System.console() != null;
    KeyLayout layout = new KeyLayout(config.keyPrefix(), config.stripes());
    try (RedisConnector rc = RedisConnector.create(config, null);
        RedisLink<String, String> conn = rc.connect()) {
      RedisClusterAsyncCommands<String, String> redis = conn.async();
      while (System.nanoTime() - start < runFor.toNanos()) {
        Thread.sleep(1000);
        long now = System.nanoTime();
        long s = sent.sum();
        long flushed = flushedSum(sw.dataSource());
        double rate = (s - lastSent) / ((now - lastTick) / 1e9);
        long behind = Math.max(0, s - flushed);
        System.out.printf(
            "%s%5.1fs  %,10.0f incr/s  %,6d cells pending in Redis  %,9d rows flushed"
                + "  lag %,10d incr (%.1f s)%s",
            tty ? "\r" : "",
            (now - start) / 1e9,
            rate,
            pendingCells(redis, layout),
            (long) sw.meterRegistry().counter("spillway.flush.rows.upserted").count(),
            behind,
            rate > 0 ? behind / rate : 0.0,
            tty ? "" : "\n");
        System.out.flush();
        lastSent = s;
        lastTick = now;
      }
    }
    stop.set(true);
    for (Thread t : senders) {
      t.join();
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    counters.flush();
    FlushReport last = sw.flushOnce();
    for (int i = 0; i < 20 && flushedSum(sw.dataSource()) != sent.sum(); i++) {
      Thread.sleep(200);
      last = sw.flushOnce();
    }
    long total = sent.sum();
    long inDb = flushedSum(sw.dataSource());
    System.out.printf(
        "%n%nsent %,d increments in %.1f s (%,.0f/s); PostgreSQL holds %,d: %s%n",
        total, seconds, total / seconds, inDb, total == inDb ? "exact" : "MISMATCH (" + last + ")");
    printTop(sw.dataSource());
    return total == inDb ? 0 : 1;
  }

  /** Roughly Zipf: page 1 is hottest, the tail is long. */
  private int zipfish(SplittableRandom rnd) {
    double u = rnd.nextDouble();
    return 1 + (int) Math.min(pages - 1, Math.floor(Math.pow(pages, u) - 1));
  }

  private static long pendingCells(
      RedisClusterAsyncCommands<String, String> redis, KeyLayout layout) throws Exception {
    List<RedisFuture<Long>> f = new ArrayList<>(layout.stripes());
    for (int s = 0; s < layout.stripes(); s++) {
      f.add(redis.hlen(layout.live(s)));
    }
    long n = 0;
    for (var x : f) {
      long fields = x.get();
      n += fields > 0 ? fields - 1 : 0; // a live hash also holds its claim id, #claim
    }
    return n;
  }

  private static long flushedSum(DataSource ds) throws SQLException {
    try (Connection c = ds.getConnection();
        Statement st = c.createStatement();
        ResultSet rs =
            st.executeQuery(
                "SELECT coalesce(sum(total), 0) FROM "
                    + SCHEMA
                    + ".counter_totals WHERE counter = 'page_views'")) {
      rs.next();
      return rs.getLong(1);
    }
  }

  private static void printTop(DataSource ds) throws SQLException {
    String sql =
        "SELECT key, total, updated_at FROM "
            + SCHEMA
            + ".counter_totals"
            + " WHERE counter = ? ORDER BY total DESC, key LIMIT 10";
    System.out.println();
    System.out.println("Top 10 pages (" + sql.replace("?", "'page_views'") + "):");
    System.out.println();
    System.out.printf("  %4s  %-8s  %12s%n", "rank", "page", "views");
    try (Connection c = ds.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setString(1, "page_views");
      try (ResultSet rs = ps.executeQuery()) {
        int rank = 0;
        while (rs.next()) {
          System.out.printf("  %4d  %-8s  %,12d%n", ++rank, rs.getString(1), rs.getLong(2));
        }
      }
    }
    System.out.println();
  }

  /** Drops the demo schema and keys so that each run starts from zero. */
  private static void reset(SpillwayConfig config) throws Exception {
    try (Connection c =
            DriverManager.getConnection(
                config.jdbcUrl(), config.jdbcUser(), config.jdbcPassword());
        Statement st = c.createStatement()) {
      st.execute("DROP SCHEMA IF EXISTS " + SCHEMA + " CASCADE");
    }
    try (RedisConnector rc = RedisConnector.create(config, null);
        RedisLink<String, String> conn = rc.connect()) {
      var sync = conn.sync();
      ScanCursor cursor = ScanCursor.INITIAL;
      do {
        var r = sync.scan(cursor, ScanArgs.Builder.matches(PREFIX + "*").limit(1000));
        if (!r.getKeys().isEmpty()) {
          sync.unlink(r.getKeys().toArray(String[]::new));
        }
        cursor = r;
      } while (!cursor.isFinished());
    }
  }
}
