package dev.spillway.bench;

import java.io.File;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Figure "api": the public HTTP API of a running worker (a child JVM, {@code spillway worker} with
 * {@code api.enabled}), measured with {@code wrk} (Debian's package): {@code GET} of a hot counter
 * and {@code POST} increments over 1,000 keys, requests/s and p99, each beside the same server's
 * trivial endpoint ({@code GET /v1/ping}) measured in the same run. Every increment the API
 * accepted (its 202 count on /metrics) must end in PostgreSQL. Skipped where wrk is missing.
 */
final class ApiBench {
  static final String TOKEN = "bench-token-0123456789abcdef";
  static final int CONNECTIONS = 32;

  /** Its own schema and key prefix, so that it never touches another benchmark's data. */
  static final String SCHEMA = "spillway_bench_api";

  static final String PREFIX = "swbench-api:";
  private static final Pattern LISTENING =
      Pattern.compile("event=(http|api)_listening address=([^ :]+):(\\d+)");
  private static final HttpClient HTTP =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

  private ApiBench() {}

  /** What one wrk run printed, parsed. */
  record Wrk(double rps, double p99Millis, long requests, long non2xx, String output) {}

  static List<BenchResult> run(Env env, Duration d) throws Exception {
    File wrk = new File("/usr/bin/wrk");
    if (!wrk.canExecute()) {
      System.out.println("  wrk is not installed (apt-get install wrk): figure 9 skipped");
      return List.of();
    }
    reset(env);
    Path dir = Files.createTempDirectory("spillway-apibench-");
    Path config = dir.resolve("spillway.yaml");
    Files.writeString(
        config,
        """
        flush: {interval: 1s}
        worker:
          http: {port: 0}
          log: {level: INFO}
        api:
          enabled: true
          port: 0
        """);
    Path log = dir.resolve("worker.log");
    String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    ProcessBuilder pb =
        new ProcessBuilder(
                javaBin,
                "-Xmx1g",
                "-cp",
                System.getProperty("java.class.path"),
                "dev.spillway.cli.Main",
                "worker",
                "--config",
                config.toString())
            .redirectErrorStream(true)
            .redirectOutput(log.toFile());
    pb.environment().keySet().removeIf(k -> k.startsWith("SPILLWAY_"));
    pb.environment().put("SPILLWAY_REDIS_URI", env.base.redisUri());
    pb.environment().put("SPILLWAY_JDBC_URL", env.base.jdbcUrl());
    pb.environment().put("SPILLWAY_JDBC_USER", env.base.jdbcUser());
    pb.environment().put("SPILLWAY_JDBC_PASSWORD", Objects.toString(env.base.jdbcPassword(), ""));
    pb.environment().put("SPILLWAY_SCHEMA", SCHEMA);
    pb.environment().put("SPILLWAY_KEY_PREFIX", PREFIX);
    pb.environment().put("SPILLWAY_API_TOKEN", TOKEN);
    Process worker = pb.start();
    try {
      int[] ports = awaitPorts(worker, log);
      int admin = ports[0];
      String base = "http://127.0.0.1:" + ports[1];
      // A hot counter with a value, flushed, so GET reads a real cached total.
      for (int i = 0; i < 3; i++) {
        send(
            HttpRequest.newBuilder(URI.create(base + "/v1/counters/bench_read/hot/increments?by=7"))
                .header("Authorization", "Bearer " + TOKEN)
                .POST(HttpRequest.BodyPublishers.noBody()));
      }
      awaitTotal(env, "bench_read", 21, Duration.ofSeconds(60));
      long seeded = accepted(admin); // those 3, on bench_read: not part of what bench_api must hold

      Path post = dir.resolve("post.lua");
      Files.writeString(
          post,
          """
          wrk.method = "POST"
          wrk.headers["Authorization"] = "Bearer %s"
          request = function()
            return wrk.format(nil, "/v1/counters/bench_api/k" .. math.random(1000) .. "/increments")
          end
          """
              .formatted(TOKEN));
      // Warm-up (JIT, connection pools), then the measured runs, reference first.
      wrk(wrk, base + "/v1/ping", null, Duration.ofSeconds(3));
      wrk(wrk, base + "/v1/counters/bench_read/hot", null, Duration.ofSeconds(3));
      wrk(wrk, base + "/", post, Duration.ofSeconds(2));
      long acceptedBefore = accepted(admin);
      Wrk ping = wrk(wrk, base + "/v1/ping", null, d);
      Wrk get = wrk(wrk, base + "/v1/counters/bench_read/hot", null, d);
      Wrk inc = wrk(wrk, base + "/", post, d);
      // Requests wrk left in flight may still be answered: wait until the count stands still.
      long accepted = accepted(admin);
      for (long again = -1; again != accepted; ) {
        Thread.sleep(500);
        again = accepted;
        accepted = accepted(admin);
      }
      accepted -= seeded;
      long flushed = awaitTotal(env, "bench_api", accepted, Duration.ofSeconds(120));
      String diagnosis = "";
      if (flushed != accepted) {
        // Where are the missing ones: pending in Redis (exact = PostgreSQL + pending), or nowhere?
        long exactSum = 0;
        for (int k = 1; k <= 1000; k++) {
          String body =
              send(HttpRequest.newBuilder(
                          URI.create(base + "/v1/counters/bench_api/k" + k + "?exact=true"))
                      .header("Authorization", "Bearer " + TOKEN)
                      .GET())
                  .body();
          Matcher m = Pattern.compile("\"value\":(-?\\d+)").matcher(body);
          exactSum += m.find() ? Long.parseLong(m.group(1)) : 0;
        }
        diagnosis = "; exact reads sum to " + exactSum;
        System.out.println(
            "  mismatch" + diagnosis + "; worker log tail:\n" + tail(Files.readString(log), 4000));
      }
      String exact =
          flushed == accepted
              ? "PostgreSQL holds all "
                  + String.format(Locale.ROOT, "%,d", accepted)
                  + " accepted increments ("
                  + String.format(Locale.ROOT, "%,d", accepted - (acceptedBefore - seeded))
                  + " measured)"
              : "MISMATCH: accepted " + accepted + ", PostgreSQL holds " + flushed + diagnosis;
      if (get.non2xx() > 0 || inc.non2xx() > 0 || ping.non2xx() > 0) {
        exact +=
            "; non-2xx answers: ping "
                + ping.non2xx()
                + ", get "
                + get.non2xx()
                + ", post "
                + inc.non2xx();
      }
      String how = "wrk -t2 -c" + CONNECTIONS + " -d" + d.toSeconds() + "s";
      BenchResult pingRps =
          BenchResult.of("api HTTP API", "GET /v1/ping (reference)", ping.rps(), "req/s").note(how);
      BenchResult pingP99 =
          BenchResult.of("api HTTP API", "GET /v1/ping p99", ping.p99Millis(), "ms");
      List<BenchResult> out = new ArrayList<>();
      out.add(pingRps);
      out.add(pingP99);
      out.add(
          BenchResult.of("api HTTP API", "GET hot counter (cached view)", get.rps(), "req/s")
              .against(pingRps, ">= 0.5x"));
      out.add(
          BenchResult.of("api HTTP API", "GET hot counter p99", get.p99Millis(), "ms")
              .against(pingP99, null));
      out.add(
          BenchResult.of("api HTTP API", "POST increments (1,000 keys)", inc.rps(), "req/s")
              .against(pingRps, null)
              .note(exact));
      out.add(
          BenchResult.of("api HTTP API", "POST increments p99", inc.p99Millis(), "ms")
              .against(pingP99, null));
      return out;
    } catch (RuntimeException | Error e) {
      System.out.println("worker output:\n" + Files.readString(log));
      throw e;
    } finally {
      worker.destroy();
      if (!worker.waitFor(30, TimeUnit.SECONDS)) {
        worker.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
      try (var files = Files.walk(dir)) {
        files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
      reset(env);
    }
  }

  private static void reset(Env env) {
    env.sql("DROP SCHEMA IF EXISTS " + SCHEMA + " CASCADE");
    env.unlink(PREFIX + "*");
  }

  private static String tail(String s, int n) {
    return s.length() <= n ? s : s.substring(s.length() - n);
  }

  private static int[] awaitPorts(Process worker, Path log) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
    int admin = -1;
    int api = -1;
    while (admin < 0 || api < 0) {
      if (!worker.isAlive() || System.nanoTime() > deadline) {
        throw new IllegalStateException("the worker did not start:\n" + Files.readString(log));
      }
      Thread.sleep(100);
      Matcher m = LISTENING.matcher(Files.readString(log));
      while (m.find()) {
        if (m.group(1).equals("http")) {
          admin = Integer.parseInt(m.group(3));
        } else {
          api = Integer.parseInt(m.group(3));
        }
      }
    }
    return new int[] {admin, api};
  }

  /** Increments the API accepted so far (202s), from the worker's /metrics. */
  private static long accepted(int adminPort) throws Exception {
    String body =
        send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + adminPort + "/metrics")).GET())
            .body();
    long sum = 0;
    for (String line : body.lines().toList()) {
      if (line.startsWith("spillway_api_requests_total{")
          && line.contains("route=\"increment\"")
          && line.contains("status=\"202\"")) {
        sum += (long) Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
      }
    }
    return sum;
  }

  /** Polls the counter's total in PostgreSQL until it is {@code want}; returns the last total. */
  private static long awaitTotal(Env env, String counter, long want, Duration timeout)
      throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    long total = -1;
    while (System.nanoTime() < deadline) {
      try (Connection c = env.jdbc();
          Statement st = c.createStatement();
          ResultSet rs =
              st.executeQuery(
                  "SELECT coalesce(sum(total), 0) FROM "
                      + SCHEMA
                      + ".counter_totals WHERE counter = '"
                      + counter
                      + "'")) {
        rs.next();
        total = rs.getLong(1);
      } catch (SQLException e) {
        total = -1; // the worker may not have migrated yet
      }
      if (total == want) {
        return total;
      }
      Thread.sleep(200);
    }
    return total;
  }

  private static HttpResponse<String> send(HttpRequest.Builder b)
      throws IOException, InterruptedException {
    return HTTP.send(
        b.timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
  }

  static Wrk wrk(File wrk, String url, Path script, Duration d) throws Exception {
    List<String> cmd =
        new ArrayList<>(
            List.of(
                wrk.getPath(), "-t2", "-c" + CONNECTIONS, "-d" + d.toSeconds() + "s", "--latency"));
    if (script != null) {
      cmd.addAll(List.of("-s", script.toString()));
    }
    cmd.add(url);
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(d.toSeconds() + 60, TimeUnit.SECONDS) || p.exitValue() != 0) {
      p.destroyForcibly();
      throw new IllegalStateException("wrk failed: " + out);
    }
    return parse(out);
  }

  static Wrk parse(String out) {
    Matcher rps = Pattern.compile("Requests/sec:\\s+([0-9.]+)").matcher(out);
    Matcher p99 = Pattern.compile("\\n\\s+99%\\s+([0-9.]+)(us|ms|s)\\b").matcher(out);
    Matcher n = Pattern.compile("(\\d+) requests in").matcher(out);
    Matcher bad = Pattern.compile("Non-2xx or 3xx responses: (\\d+)").matcher(out);
    if (!rps.find() || !p99.find() || !n.find()) {
      throw new IllegalStateException("cannot read wrk's output:\n" + out);
    }
    double v = Double.parseDouble(p99.group(1));
    double ms =
        switch (p99.group(2)) {
          case "us" -> v / 1000;
          case "s" -> v * 1000;
          default -> v;
        };
    return new Wrk(
        Double.parseDouble(rps.group(1)),
        ms,
        Long.parseLong(n.group(1)),
        bad.find() ? Long.parseLong(bad.group(1)) : 0,
        out);
  }
}
