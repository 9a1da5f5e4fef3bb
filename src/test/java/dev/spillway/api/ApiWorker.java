package dev.spillway.api;

import dev.spillway.testing.TestEnv;
import dev.spillway.worker.WorkerProcess;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A {@code spillway worker} child process with the HTTP API enabled on a free port, and a real HTTP
 * client ({@link HttpClient}) aimed at it. {@link #close()} kills a worker still running.
 */
final class ApiWorker implements AutoCloseable {
  static final String TOKEN = "test-token-0123456789abcdef";
  static final String OTHER_TOKEN = "second-token-abcdefghijklmnop";
  private static final Pattern API = Pattern.compile("event=api_listening address=([^ :]+):(\\d+)");
  static final HttpClient HTTP =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  final WorkerProcess process;
  final int port;

  private ApiWorker(WorkerProcess process, int port) {
    this.process = process;
    this.port = port;
  }

  /**
   * Starts a worker with {@code apiYaml} as the body of its {@code api:} section (enabled, port 0
   * are added), flushing every 200 ms; waits until the API listens and the worker is ready.
   */
  static ApiWorker start(TestEnv env, String apiYaml) {
    String yaml =
        """
        keys: {stripes: 64}             # as Spillways.builder(env), so a test's runtime flushes the same
        flush: {interval: 200ms}
        client: {drain-interval: 20ms}
        worker:
          http: {port: 0}
          shutdown-timeout: 10s
        api:
          enabled: true
          port: 0
        """
            + apiYaml.indent(2);
    Map<String, String> e = new LinkedHashMap<>(WorkerProcess.env(env));
    e.put("SPILLWAY_API_TOKEN", TOKEN + ", " + OTHER_TOKEN);
    WorkerProcess p =
        WorkerProcess.start(e, "worker", "--config", WorkerProcess.config(yaml).toString());
    try {
      p.awaitPort(WorkerProcess.START_TIMEOUT);
      p.awaitStatus("/health/ready", 200, WorkerProcess.START_TIMEOUT);
      Matcher m = API.matcher(p.output());
      if (!m.find()) {
        throw new AssertionError("no event=api_listening in:\n" + p.output());
      }
      return new ApiWorker(p, Integer.parseInt(m.group(2)));
    } catch (RuntimeException | Error ex) {
      p.close();
      throw ex;
    }
  }

  URI uri(String pathAndQuery) {
    return URI.create("http://127.0.0.1:" + port + pathAndQuery);
  }

  HttpRequest.Builder request(String pathAndQuery) {
    return HttpRequest.newBuilder(uri(pathAndQuery)).timeout(Duration.ofSeconds(10));
  }

  HttpResponse<String> get(String pathAndQuery) {
    return send(request(pathAndQuery).GET());
  }

  HttpResponse<String> post(String pathAndQuery, String token) {
    HttpRequest.Builder b = request(pathAndQuery).POST(HttpRequest.BodyPublishers.noBody());
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    return send(b);
  }

  static HttpResponse<String> send(HttpRequest.Builder b) {
    try {
      return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
    } catch (IOException e) {
      throw new IllegalStateException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /**
   * Requests the API has answered on {@code route} (all statuses), from the worker's /metrics
   * ({@code spillway_api_requests_total}).
   */
  long requests(String route) {
    WorkerProcess.HttpResult r = process.get("/metrics");
    if (r.status() != 200) {
      throw new AssertionError("/metrics answered " + r);
    }
    long sum = 0;
    for (String line : r.body().lines().toList()) {
      if (line.startsWith("spillway_api_requests_total{")
          && line.contains("route=\"" + route + "\"")) {
        sum += (long) Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
      }
    }
    return sum;
  }

  /** Requests the API has answered on {@code route} with {@code status}. */
  long requests(String route, int status) {
    WorkerProcess.HttpResult r = process.get("/metrics");
    if (r.status() != 200) {
      throw new AssertionError("/metrics answered " + r);
    }
    long sum = 0;
    for (String line : r.body().lines().toList()) {
      if (line.startsWith("spillway_api_requests_total{")
          && line.contains("route=\"" + route + "\"")
          && line.contains("status=\"" + status + "\"")) {
        sum += (long) Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
      }
    }
    return sum;
  }

  static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  static void await(BooleanSupplier condition, Duration timeout, String what) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("not within " + timeout + ": " + what);
      }
      try {
        Thread.sleep(50);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(e);
      }
    }
  }

  static long total(TestEnv env, String counter, String key) {
    return env.queryLong(
        "SELECT coalesce(sum(total), 0) FROM counter_totals WHERE counter = ? AND key = ?",
        counter,
        key);
  }

  /** SIGTERM, and the exit code (null: still running after 30 s). */
  Integer stop() {
    process.terminate();
    return process.awaitExit(Duration.ofSeconds(30));
  }

  @Override
  public void close() {
    process.close();
  }
}
