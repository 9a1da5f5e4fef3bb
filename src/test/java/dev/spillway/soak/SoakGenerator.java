package dev.spillway.soak;

import dev.spillway.Spillway;
import dev.spillway.counter.Counters;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * The load side of {@code make soak} (ops/soak.sh): an application using the embedded client
 * ({@code Spillway.builder()…build()}, no flush of its own) that increments counter {@code soak}
 * over {@code keys} distinct keys at a steady {@code rate} for {@code seconds}, from {@code
 * threads} threads, and counts every increment it made.
 *
 * <pre>
 * java -cp target/classes:target/test-classes:$(cat target/soak-classpath.txt) \
 *   dev.spillway.soak.SoakGenerator redis=redis://127.0.0.1:6379 \
 *   jdbc=jdbc:postgresql://127.0.0.1:5432/test user=postgres schema=soak_x prefix=soakx: \
 *   stripes=4096 keys=200000 rate=200000 seconds=120 threads=2 drain-seconds=180 out=target/soak/run
 * </pre>
 *
 * <p>Steady means paced, not "as fast as possible": each thread owns {@code rate/threads} per
 * second and sleeps when ahead. After a stall (GC, a busy machine) it catches up at most one
 * second's worth and lets the rest go ({@code missed}), so the load never turns into a burst; the
 * rate actually achieved is what {@code out/progress} and {@code out/result} report.
 *
 * <p>A probe thread adds to {@code soak_probe/lag}, every 100 ms, the milliseconds since its
 * previous add (the first add is the epoch milliseconds), so the key's total is always the wall
 * clock time of the newest probe that arrived: the orchestrator subtracts PostgreSQL's total from
 * the time of its query to get the end-to-end lag, increment() to PostgreSQL, while the load runs.
 *
 * <p>The load ends after {@code seconds}, or early when the file {@code out/stop} appears. The
 * generator then stops its threads and calls {@link Counters#flush()} (returns when Redis
 * acknowledged everything buffered) until it succeeds or {@code drain-seconds} (180) have passed,
 * then {@link Spillway#close()}, and writes:
 *
 * <ul>
 *   <li>{@code out/result}: {@code key=value} lines, {@code acknowledged} being the number of
 *       increments of {@code soak} that Redis acknowledged ({@code flush_ok=true}) — what
 *       PostgreSQL must end up holding, exactly;
 *   <li>{@code out/expected.csv}: {@code counter,key,count} for every key incremented, for a
 *       per-key comparison.
 * </ul>
 *
 * Exit status 0 when the final flush was acknowledged, 1 otherwise.
 */
public final class SoakGenerator {
  static final String COUNTER = "soak";
  static final String PROBE_COUNTER = "soak_probe";
  static final String PROBE_KEY = "lag";
  static final Duration PROBE_EVERY = Duration.ofMillis(100);
  static final Duration PROGRESS_EVERY = Duration.ofSeconds(1);

  private SoakGenerator() {}

  public static void main(String[] args) throws Exception {
    Map<String, String> a = parse(args);
    String redis = a.getOrDefault("redis", "redis://127.0.0.1:6379");
    String jdbc = a.getOrDefault("jdbc", "jdbc:postgresql://127.0.0.1:5432/test");
    String user = a.getOrDefault("user", "postgres");
    String schema = required(a, "schema");
    String prefix = required(a, "prefix");
    int stripes = Integer.parseInt(a.getOrDefault("stripes", "4096"));
    int keyCount = Integer.parseInt(a.getOrDefault("keys", "200000"));
    long rate = Long.parseLong(a.getOrDefault("rate", "200000"));
    long seconds = Long.parseLong(a.getOrDefault("seconds", "120"));
    int threads = Integer.parseInt(a.getOrDefault("threads", "2"));
    Duration drainFor = Duration.ofSeconds(Long.parseLong(a.getOrDefault("drain-seconds", "180")));
    Path out = Path.of(required(a, "out"));
    if (keyCount < 1 || rate < threads || seconds < 1 || threads < 1) {
      throw new IllegalArgumentException(
          "keys, seconds and threads must be at least 1 and rate at least threads, but were keys="
              + keyCount
              + " seconds="
              + seconds
              + " threads="
              + threads
              + " rate="
              + rate);
    }
    Files.createDirectories(out);

    String[] keys = new String[keyCount];
    for (int i = 0; i < keyCount; i++) {
      keys[i] = "k" + i;
    }

    try (Spillway sw =
        Spillway.builder()
            .redisUri(redis)
            .jdbcUrl(jdbc)
            .jdbcUser(user)
            .schema(schema)
            .keyPrefix(prefix)
            .stripes(stripes)
            .migrate(false) // the worker migrated the schema before the generator starts
            .build()) {
      Counters counters = sw.counters();
      AtomicBoolean running = new AtomicBoolean(true);
      long startNanos = System.nanoTime();
      long endNanos = startNanos + Duration.ofSeconds(seconds).toNanos();
      writeAtomically(out.resolve("started"), System.currentTimeMillis() + "\n");

      List<Pacer> pacers = new ArrayList<>();
      List<Thread> workers = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        // Spread the remainder so the threads' rates add up to the target exactly.
        long share = rate / threads + (t < rate % threads ? 1 : 0);
        Pacer p = new Pacer(counters, keys, share, startNanos, running);
        pacers.add(p);
        workers.add(Thread.ofPlatform().name("soak-gen-" + t).start(p));
      }
      AtomicLong probes = new AtomicLong(); // sum of the probe's deltas = time of the last probe
      AtomicLong failures = new AtomicLong();
      Thread probe =
          Thread.ofPlatform()
              .name("soak-probe")
              .daemon()
              .start(
                  () -> {
                    while (running.get()) {
                      long now = System.currentTimeMillis();
                      try {
                        counters.increment(PROBE_COUNTER, PROBE_KEY, now - probes.get());
                        probes.set(now);
                      } catch (RuntimeException e) {
                        failures.incrementAndGet();
                      }
                      LockSupport.parkNanos(PROBE_EVERY.toNanos());
                    }
                  });

      Path stop = out.resolve("stop"); // the orchestrator ends the load early by creating it
      while (System.nanoTime() < endNanos && !Files.exists(stop)) {
        LockSupport.parkNanos(Math.min(PROGRESS_EVERY.toNanos(), endNanos - System.nanoTime()));
        writeProgress(out, pacers, probes.get(), failures.get(), counters.pendingCells());
      }
      running.set(false);
      for (Thread w : workers) {
        w.join();
      }
      probe.join();
      double elapsed = (System.nanoTime() - startNanos) / 1e9;
      writeProgress(out, pacers, probes.get(), failures.get(), counters.pendingCells());

      // flush() gives up after redis.timeout but keeps the cells buffered and retried, as an
      // application would see it; a slow Redis is not a reason to drop what was counted.
      boolean flushOk = false;
      String flushError = "";
      int flushAttempts = 0;
      long flushStart = System.nanoTime();
      long flushDeadline = flushStart + drainFor.toNanos();
      while (!flushOk) {
        flushAttempts++;
        try {
          counters.flush();
          flushOk = true;
        } catch (RuntimeException e) {
          flushError = e.toString();
          System.out.println(
              "flush attempt "
                  + flushAttempts
                  + " failed, "
                  + counters.pendingCells()
                  + " cell(s) pending: "
                  + flushError);
          if (System.nanoTime() > flushDeadline) {
            break;
          }
        }
        writeProgress(out, pacers, probes.get(), failures.get(), counters.pendingCells());
      }
      long flushMillis = (System.nanoTime() - flushStart) / 1_000_000;

      long sent = 0;
      long missed = 0;
      long[] perKey = new long[keyCount];
      for (Pacer p : pacers) {
        sent += p.sent;
        missed += p.missed;
        failures.addAndGet(p.failures);
        for (int i = 0; i < keyCount; i++) {
          perKey[i] += p.counts[i];
        }
      }
      writeExpected(out.resolve("expected.csv"), keys, perKey, probes.get());
      Map<String, String> result = new LinkedHashMap<>();
      result.put("flush_ok", Boolean.toString(flushOk));
      result.put("flush_error", flushOk ? "" : flushError.replace('\n', ' '));
      result.put("flush_attempts", Integer.toString(flushAttempts));
      result.put("final_flush_ms", Long.toString(flushMillis));
      result.put("acknowledged", flushOk ? Long.toString(sent) : "unknown");
      result.put("sent", Long.toString(sent));
      result.put("probe_last_ms", Long.toString(probes.get()));
      result.put("failures", Long.toString(failures.get()));
      result.put("missed", Long.toString(missed));
      result.put("target_rate", Long.toString(rate));
      result.put("elapsed_s", String.format("%.1f", elapsed));
      result.put("achieved_rate", Long.toString(Math.round(sent / elapsed)));
      result.put("keys_touched", Long.toString(Arrays.stream(perKey).filter(c -> c > 0).count()));
      StringBuilder text = new StringBuilder();
      result.forEach((k, v) -> text.append(k).append('=').append(v).append('\n'));
      writeAtomically(out.resolve("result"), text.toString());
      System.out.print(text);
      System.out.flush();
      if (!flushOk) {
        // close() would wait close-timeout for the same Redis; the result is already written.
        System.exit(1);
      }
    }
  }

  /** One generator thread: increments at its share of the rate, counting per key. */
  static final class Pacer implements Runnable {
    /** Catch up at most this much after a stall; the rest is counted as missed. */
    private static final long MAX_CATCH_UP_NANOS = Duration.ofSeconds(1).toNanos();

    /** Increments between two clock reads: cheap enough, and fine-grained enough to stay steady. */
    private static final int CHUNK = 64;

    private final Counters counters;
    private final String[] keys;
    private final long perSecond;
    private final long startNanos;
    private final AtomicBoolean running;
    final long[] counts;
    volatile long sent;
    volatile long missed;
    volatile long failures;

    Pacer(
        Counters counters, String[] keys, long perSecond, long startNanos, AtomicBoolean running) {
      this.counters = counters;
      this.keys = keys;
      this.perSecond = perSecond;
      this.startNanos = startNanos;
      this.running = running;
      this.counts = new long[keys.length];
    }

    @Override
    public void run() {
      ThreadLocalRandom rnd = ThreadLocalRandom.current();
      long done = 0; // sent + missed + failures: opportunities used
      long sentLocal = 0;
      long nanosPerOp = Math.max(1, 1_000_000_000L / perSecond);
      while (running.get()) {
        long elapsed = System.nanoTime() - startNanos;
        long due = elapsed / 1_000 * perSecond / 1_000_000; // microseconds: no overflow for days
        long behind = due - done;
        if (behind <= 0) {
          LockSupport.parkNanos(Math.min(1_000_000L, Math.max(50_000L, -behind * nanosPerOp)));
          continue;
        }
        long maxBehind = MAX_CATCH_UP_NANOS / nanosPerOp;
        if (behind > maxBehind) {
          missed += behind - maxBehind;
          done += behind - maxBehind;
          behind = maxBehind;
        }
        int n = (int) Math.min(behind, CHUNK);
        for (int i = 0; i < n; i++) {
          int k = rnd.nextInt(keys.length);
          try {
            counters.increment(COUNTER, keys[k]);
            counts[k]++;
            sentLocal++;
          } catch (RuntimeException e) {
            // BufferFullException after block-timeout, or a refusal: not counted as sent.
            failures++;
          }
        }
        done += n;
        sent = sentLocal;
      }
      sent = sentLocal;
    }
  }

  /**
   * One line: epoch ms, increments sent, probe time, paced slots missed, failures, cells pending in
   * the client.
   */
  private static void writeProgress(
      Path out, List<Pacer> pacers, long probes, long failures, int pending) {
    long sent = 0;
    long missed = 0;
    for (Pacer p : pacers) {
      sent += p.sent;
      missed += p.missed;
      failures += p.failures;
    }
    writeAtomically(
        out.resolve("progress"),
        System.currentTimeMillis()
            + " "
            + sent
            + " "
            + probes
            + " "
            + missed
            + " "
            + failures
            + " "
            + pending
            + "\n");
  }

  private static void writeExpected(Path file, String[] keys, long[] perKey, long probes)
      throws IOException {
    try (PrintWriter w = new PrintWriter(Files.newBufferedWriter(file, StandardCharsets.UTF_8))) {
      for (int i = 0; i < keys.length; i++) {
        if (perKey[i] > 0) {
          w.append(COUNTER)
              .append(',')
              .append(keys[i])
              .append(',')
              .append(Long.toString(perKey[i]))
              .append('\n');
        }
      }
      if (probes > 0) {
        w.append(PROBE_COUNTER)
            .append(',')
            .append(PROBE_KEY)
            .append(',')
            .append(Long.toString(probes))
            .append('\n');
      }
    }
  }

  private static void writeAtomically(Path file, String text) {
    try {
      Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
      Files.writeString(tmp, text);
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static Map<String, String> parse(String[] args) {
    Map<String, String> m = new LinkedHashMap<>();
    for (String arg : args) {
      int eq = arg.indexOf('=');
      if (eq <= 0) {
        throw new IllegalArgumentException("argument '" + arg + "' must look like name=value");
      }
      m.put(arg.substring(0, eq), arg.substring(eq + 1));
    }
    return m;
  }

  private static String required(Map<String, String> a, String name) {
    String v = a.get(name);
    if (v == null || v.isBlank()) {
      throw new IllegalArgumentException("argument " + name + "=... is required");
    }
    return v;
  }
}
