package dev.spillway.api;

import static dev.spillway.api.ApiWorker.TOKEN;
import static dev.spillway.api.ApiWorker.await;
import static dev.spillway.api.ApiWorker.total;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.TestEnv;
import dev.spillway.worker.WorkerProcess;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.parallel.ResourceLock;

/**
 * The API behind a real caching proxy: nginx from Debian's package as a CDN stand-in ({@link
 * NginxProcess}). Repeated GETs within max-age never reach Spillway (its request counter on
 * /metrics), a GET after max-age revalidates with a conditional request that Spillway answers 304,
 * a changed value replaces the cached one after max-age, and with Spillway stopped the proxy keeps
 * serving the last value (stale). Skipped where nginx is not installed.
 */
@ExtendWith(ServicesExtension.class)
@ResourceLock(WorkerProcess.CHILD_JVMS)
class NginxCacheTest {
  static final Duration FLUSHED = Duration.ofSeconds(30);
  static final ObjectMapper JSON = new ObjectMapper();
  static final String PATH = "/v1/counters/views/home";

  record Via(int status, String cache, String etag, long value, String body) {}

  static Via via(NginxProcess proxy) {
    HttpResponse<String> r =
        ApiWorker.send(
            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + proxy.port + PATH))
                .timeout(Duration.ofSeconds(10))
                .GET());
    long value = -1;
    try {
      value = JSON.readTree(r.body()).path("value").asLong(-1);
    } catch (Exception e) {
      // not JSON: value stays -1 and the assertions show the body
    }
    return new Via(
        r.statusCode(),
        r.headers().firstValue("X-Cache-Status").orElse("-"),
        r.headers().firstValue("ETag").orElse(null),
        value,
        r.body());
  }

  /** GETs through the proxy every 200 ms while it answers HIT; returns the first other answer. */
  static Via untilNotHit(NginxProcess proxy) {
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (true) {
      Via v = via(proxy);
      if (!v.cache().equals("HIT") || System.nanoTime() > deadline) {
        return v;
      }
      ApiWorker.sleep(200);
    }
  }

  @Test
  void cdnInFront_cachesRevalidatesAndServesStale(TestEnv env, @TempDir Path dir) throws Exception {
    Optional<Path> nginx = NginxProcess.find();
    assumeTrue(nginx.isPresent(), "nginx is not installed (apt-get install nginx)");
    try (ApiWorker worker = ApiWorker.start(env, "max-age: 3s\nstale-while-revalidate: 60s\n");
        NginxProcess proxy = NginxProcess.start(nginx.get(), dir, worker.port)) {
      assertThat(worker.post(PATH + "/increments?by=4", TOKEN).statusCode()).isEqualTo(202);
      await(() -> total(env, "views", "home") == 4, FLUSHED, "4 flushed");
      await(() -> worker.get(PATH).body().contains("\"value\":4"), FLUSHED, "4 readable");

      // 1. Within max-age: one request reaches Spillway, the rest are answered by the proxy.
      long readsBefore = worker.requests("read");
      List<Via> burst = new ArrayList<>();
      for (int i = 0; i < 5; i++) {
        burst.add(via(proxy));
      }
      long reached = worker.requests("read") - readsBefore;
      assertThat(burst).allMatch(v -> v.status() == 200 && v.value() == 4, "200 with value 4");
      assertThat(burst.get(0).cache()).isEqualTo("MISS");
      assertThat(burst.subList(1, 5)).allMatch(v -> v.cache().equals("HIT"), "HIT");
      assertThat(reached)
          .as("requests reaching Spillway; proxy log:\n%s", proxy.log())
          .isEqualTo(1);

      // 2. After max-age: the proxy revalidates (If-None-Match / If-Modified-Since), Spillway
      // answers 304, the proxy keeps its copy.
      long notModifiedBefore = worker.requests("read", 304);
      long okBefore = worker.requests("read", 200);
      Via revalidated = untilNotHit(proxy);
      assertThat(revalidated.cache()).as(revalidated.toString()).isEqualTo("REVALIDATED");
      assertThat(revalidated.value()).isEqualTo(4);
      assertThat(worker.requests("read", 304) - notModifiedBefore).isEqualTo(1);
      assertThat(worker.requests("read", 200) - okBefore).isZero();

      // 3. A new value replaces the cached one once max-age is over, with a new ETag.
      assertThat(worker.post(PATH + "/increments?by=1", TOKEN).statusCode()).isEqualTo(202);
      await(() -> total(env, "views", "home") == 5, FLUSHED, "5 flushed");
      await(() -> worker.get(PATH).body().contains("\"value\":5"), FLUSHED, "5 readable");
      Via changed = untilNotHit(proxy);
      while (changed.value() == 4 && changed.cache().equals("REVALIDATED")) {
        changed = untilNotHit(proxy); // revalidated before the cached view moved on
      }
      assertThat(changed.cache()).as(changed.toString()).isEqualTo("EXPIRED");
      assertThat(changed.value()).isEqualTo(5);
      assertThat(changed.etag()).isEqualTo("\"v5\"").isNotEqualTo(revalidated.etag());

      // 4. Spillway stopped (a graceful stop: exit 0): the proxy serves the stale value.
      assertThat(worker.stop())
          .as("worker exit code; output:\n%s", worker.process.output())
          .isEqualTo(0);
      Via stale = untilNotHit(proxy);
      assertThat(stale.cache()).as(stale + "\n" + proxy.log()).isEqualTo("STALE");
      assertThat(stale.status()).isEqualTo(200);
      assertThat(stale.value()).isEqualTo(5);
      assertThat(via(proxy)).matches(v -> v.value() == 5 && v.status() == 200, "still stale 5");
      System.out.printf(
          "NginxCacheTest: burst %s, reached Spillway %d; then %s, %s, %s%n",
          burst.stream().map(Via::cache).toList(),
          reached,
          revalidated.cache(),
          changed.cache(),
          stale.cache());
    }
  }
}
