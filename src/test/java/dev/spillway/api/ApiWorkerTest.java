package dev.spillway.api;

import static dev.spillway.api.ApiWorker.TOKEN;
import static dev.spillway.api.ApiWorker.await;
import static dev.spillway.api.ApiWorker.total;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.TestEnv;
import dev.spillway.worker.WorkerProcess;
import java.io.IOException;
import java.net.Socket;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.parallel.ResourceLock;

/**
 * The HTTP API of a worker child process, through a real HTTP client: increments POSTed are flushed
 * and read back exactly (PostgreSQL, exact and cached reads), refusals carry the right status and
 * one sentence, the cache headers and validators behave as a CDN expects.
 */
@ExtendWith(ServicesExtension.class)
@ResourceLock(WorkerProcess.CHILD_JVMS)
class ApiWorkerTest {
  static final Duration FLUSHED = Duration.ofSeconds(30);
  static final ObjectMapper JSON = new ObjectMapper();
  static final String ORIGIN = "http://app.example.test:8000";
  static ApiWorker worker;

  @BeforeAll
  static void start(TestEnv env) {
    worker =
        ApiWorker.start(
            env,
            """
            public-increments: [page_views]
            anonymous-rate: 1000
            cors-origins: ["%s"]
            """
                .formatted(ORIGIN));
  }

  @AfterAll
  static void stop() {
    if (worker != null) {
      worker.close();
    }
  }

  static JsonNode json(HttpResponse<String> r) {
    try {
      return JSON.readTree(r.body());
    } catch (Exception e) {
      throw new AssertionError("not JSON (" + r.statusCode() + "): " + r.body(), e);
    }
  }

  static String header(HttpResponse<?> r, String name) {
    return r.headers().firstValue(name).orElse(null);
  }

  @Test
  void postedIncrements_areFlushedAndReadBackExactly(TestEnv env) {
    List<Integer> statuses = new ArrayList<>();
    for (int i = 0; i < 7; i++) {
      statuses.add(
          worker.post("/v1/counters/hits/blog%2Fpost-1/increments?by=3", TOKEN).statusCode());
    }
    for (int i = 0; i < 5; i++) {
      // the second token works as well as the first
      statuses.add(
          worker.post("/v1/counters/hits/k2/increments", ApiWorker.OTHER_TOKEN).statusCode());
    }
    HttpResponse<String> neg = worker.post("/v1/counters/hits/k2/increments?by=-2", TOKEN);
    assertThat(neg.statusCode()).isEqualTo(202);
    assertThat(json(neg).path("by").asLong()).isEqualTo(-2);
    assertThat(statuses).containsOnly(202);

    await(
        () -> total(env, "hits", "blog/post-1") == 21 && total(env, "hits", "k2") == 3,
        FLUSHED,
        "PostgreSQL holds 21 and 3");
    HttpResponse<String> exact =
        worker.send(
            worker
                .request("/v1/counters/hits/blog%2Fpost-1?exact=true")
                .header("Authorization", "Bearer " + TOKEN)
                .GET());
    assertThat(exact.statusCode()).isEqualTo(200);
    assertThat(json(exact).path("value").asLong()).isEqualTo(21);
    assertThat(json(exact).path("key").asText()).isEqualTo("blog/post-1");
    assertThat(header(exact, "Cache-Control")).isEqualTo("private, no-store");
    assertThat(header(exact, "ETag")).isNull();
    await(
        () -> json(worker.get("/v1/counters/hits/k2")).path("value").asLong() == 3,
        FLUSHED,
        "the cached view shows 3");
    // Nothing more arrived than was sent, a while later.
    assertThat(total(env, "hits", "blog/post-1")).isEqualTo(21);
  }

  @Test
  void cacheableRead_hasHeadersForACdn() {
    HttpResponse<String> r = worker.get("/v1/counters/hdr/k");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(header(r, "Content-Type")).startsWith("application/json");
    assertThat(header(r, "Cache-Control"))
        .isEqualTo("public, max-age=5, stale-while-revalidate=60");
    assertThat(header(r, "ETag")).isEqualTo("\"v0\"");
    assertThat(header(r, "Last-Modified")).endsWith(" GMT");
    assertThat(header(r, "Server")).isNull();
    JsonNode n = json(r);
    assertThat(n.path("counter").asText()).isEqualTo("hdr");
    assertThat(n.path("key").asText()).isEqualTo("k");
    assertThat(n.path("value").asLong()).isZero();
    assertThat(Instant.parse(n.path("as_of").asText())).isNotNull();

    HttpResponse<String> head =
        worker.send(
            worker
                .request("/v1/counters/hdr/k")
                .method("HEAD", HttpRequest.BodyPublishers.noBody()));
    assertThat(head.statusCode()).isEqualTo(200);
    assertThat(head.body()).isEmpty();
    assertThat(header(head, "ETag")).isEqualTo("\"v0\"");
    assertThat(header(head, "Content-Length"))
        .isEqualTo(Integer.toString(r.body().getBytes().length));

    HttpResponse<String> notModified =
        worker.send(worker.request("/v1/counters/hdr/k").header("If-None-Match", "\"v0\"").GET());
    assertThat(notModified.statusCode()).isEqualTo(304);
    assertThat(notModified.body()).isEmpty();
    assertThat(header(notModified, "ETag")).isEqualTo("\"v0\"");
    assertThat(header(notModified, "Cache-Control"))
        .isEqualTo("public, max-age=5, stale-while-revalidate=60");
    HttpResponse<String> ims =
        worker.send(
            worker
                .request("/v1/counters/hdr/k")
                .header("If-Modified-Since", header(r, "Last-Modified"))
                .GET());
    assertThat(ims.statusCode()).isEqualTo(304);
    HttpResponse<String> other =
        worker.send(
            worker.request("/v1/counters/hdr/k").header("If-None-Match", "\"v1\", W/\"v7\"").GET());
    assertThat(other.statusCode()).isEqualTo(200);
  }

  @Test
  void etag_changesWhenTheValueChanges_andOnlyThen(TestEnv env) {
    String path = "/v1/counters/tags/e";
    String first = header(worker.get(path), "ETag");
    // Another key's flushes do not touch it.
    assertThat(worker.post("/v1/counters/tags/other/increments?by=5", TOKEN).statusCode())
        .isEqualTo(202);
    await(() -> total(env, "tags", "other") == 5, FLUSHED, "other flushed");
    await(
        () -> json(worker.get("/v1/counters/tags/other")).path("value").asLong() == 5,
        FLUSHED,
        "other visible");
    HttpResponse<String> same = worker.get(path);
    assertThat(header(same, "ETag")).isEqualTo(first);
    assertThat(header(same, "Last-Modified")).isEqualTo(header(worker.get(path), "Last-Modified"));

    assertThat(worker.post(path + "/increments?by=2", TOKEN).statusCode()).isEqualTo(202);
    await(
        () -> json(worker.get(path)).path("value").asLong() == 2,
        FLUSHED,
        "the new value is visible");
    HttpResponse<String> changed = worker.get(path);
    assertThat(header(changed, "ETag")).isNotEqualTo(first).isEqualTo("\"v2\"");
    assertThat(worker.send(worker.request(path).header("If-None-Match", first).GET()).statusCode())
        .isEqualTo(200);
    assertThat(
            worker.send(worker.request(path).header("If-None-Match", "\"v2\"").GET()).statusCode())
        .isEqualTo(304);
    // Back to the first value: the first ETag again (it is derived from the value alone).
    assertThat(worker.post(path + "/increments?by=-2", TOKEN).statusCode()).isEqualTo(202);
    await(() -> json(worker.get(path)).path("value").asLong() == 0, FLUSHED, "back to 0");
    assertThat(header(worker.get(path), "ETag")).isEqualTo(first);
  }

  @Test
  void withoutAValidToken_401() {
    HttpResponse<String> none = worker.post("/v1/counters/hits/x/increments", null);
    assertThat(none.statusCode()).isEqualTo(401);
    assertThat(header(none, "WWW-Authenticate")).startsWith("Bearer");
    assertThat(json(none).path("error").asText()).contains("Authorization: Bearer");
    assertThat(worker.post("/v1/counters/hits/x/increments", "wrong-token-0123456789").statusCode())
        .isEqualTo(401);
    assertThat(worker.post("/v1/counters/hits/x/increments", TOKEN.substring(1)).statusCode())
        .isEqualTo(401);
    assertThat(worker.get("/v1/counters/hits/x?exact=true").statusCode()).isEqualTo(401);
    // A public counter still refuses a wrong token: only a request without one is anonymous.
    assertThat(
            worker
                .post("/v1/counters/page_views/x/increments", "wrong-token-0123456789")
                .statusCode())
        .isEqualTo(401);
  }

  @Test
  void badInput_400_withTheJavaApisSentence() {
    assertError(
        worker.post("/v1/counters/Hits/x/increments", TOKEN),
        400,
        "counter name 'Hits' must match [a-z][a-z0-9_.-]{0,63}");
    assertError(
        worker.get("/v1/counters/hits/" + "k".repeat(513)),
        400,
        "counter key must be 1 to 512 bytes of UTF-8");
    assertError(worker.get("/v1/counters/hits/a%01b"), 400, "control character (U+0001)");
    assertError(
        worker.post("/v1/counters/hits/x/increments?by=ten", TOKEN),
        400,
        "by must be a whole number (64-bit) but was 'ten'");
    assertError(
        worker.get("/v1/counters/hits/x?exact=yes"),
        400,
        "exact must be true or false but was 'yes'");
    assertError(
        worker.get("/v1/counters/hits/x?limit=3"),
        400,
        "query parameter 'limit' is not known here");
    assertError(
        worker.get("/v1/counters/hits?top=0"), 400, "top must be between 1 and 100000 but was 0");
    assertError(worker.get("/v1/counters/hits"), 400, "top must be given");
    assertError(worker.get("/v1/counters/hits?top=3&since=2%20days"), 400, "since");
    assertError(worker.get("/v1/counters/hits/%C3%28"), 400, null); // not UTF-8
    // What Jetty refuses before the routes (a bad escape) has the same JSON shape.
    String raw =
        rawRequest("GET /v1/counters/hits/%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assertThat(raw)
        .startsWith("HTTP/1.1 400")
        .contains("application/json")
        .contains("\"status\":400")
        .doesNotContain("Exception")
        .doesNotContain("\tat ");
    assertError(
        worker.post("/v1/counters/page_views/x/increments?by=5", null),
        400,
        "an anonymous increment adds 1, so by must be 1 but was 5");
    assertError(
        worker.get("/v1/counters/hits/x?exact=" + "x".repeat(2000)),
        414,
        "query string must be at most 1024");
    assertError(
        ApiWorker.send(
            worker
                .request("/v1/counters/hits/x/increments")
                .header("Authorization", "Bearer " + TOKEN)
                .POST(HttpRequest.BodyPublishers.ofString("x".repeat(10_000)))),
        413,
        "request body must be at most 4096 bytes");
  }

  @Test
  void unknownPaths_404_wrongMethods_405WithAllow() {
    assertError(worker.get("/v1/nothing"), 404, "no such resource");
    assertError(worker.get("/"), 404, "no such resource");
    assertError(worker.get("/v1/counters/a/b/c/d"), 404, "no such resource");
    HttpResponse<String> delete = ApiWorker.send(worker.request("/v1/counters/hits/x").DELETE());
    assertError(delete, 405, "method DELETE is not allowed here");
    assertThat(header(delete, "Allow")).isEqualTo("GET, HEAD, OPTIONS");
    HttpResponse<String> getIncrements = worker.get("/v1/counters/hits/x/increments");
    assertError(getIncrements, 405, "method GET is not allowed here");
    assertThat(header(getIncrements, "Allow")).isEqualTo("POST, OPTIONS");
    HttpResponse<String> postRead = worker.post("/v1/counters/hits/x", TOKEN);
    assertThat(postRead.statusCode()).isEqualTo(405);
    assertThat(header(postRead, "Allow")).isEqualTo("GET, HEAD, OPTIONS");
  }

  @Test
  void anonymousBeacon_204_onPublicCounters_countedExactly(TestEnv env) {
    int accepted = 0;
    for (int i = 0; i < 12; i++) {
      HttpResponse<String> r = worker.post("/v1/counters/page_views/home/increments", null);
      assertThat(r.statusCode()).isIn(204, 429);
      if (r.statusCode() == 204) {
        assertThat(r.body()).isEmpty();
        accepted++;
      }
    }
    assertThat(accepted).as("anonymous-rate 1000 allows a burst of 12").isEqualTo(12);
    int a = accepted;
    await(() -> total(env, "page_views", "home") == a, FLUSHED, "the beacons flushed");
  }

  @Test
  void top_isTheReportsTopN_cacheable(TestEnv env) {
    for (String[] kv : new String[][] {{"a", "5"}, {"b", "9"}, {"c", "1"}}) {
      assertThat(
              worker
                  .post("/v1/counters/votes/" + kv[0] + "/increments?by=" + kv[1], TOKEN)
                  .statusCode())
          .isEqualTo(202);
    }
    await(
        () -> env.queryLong("SELECT count(*) FROM counter_totals WHERE counter = 'votes'") == 3,
        FLUSHED,
        "votes flushed");
    ApiWorker.await(
        () -> json(worker.get("/v1/counters/votes?top=2")).path("rows").size() == 2,
        FLUSHED,
        "top 2 (past a report cached while empty)");
    HttpResponse<String> r = worker.get("/v1/counters/votes?top=2");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(header(r, "Cache-Control"))
        .isEqualTo("public, max-age=5, stale-while-revalidate=60");
    JsonNode rows = json(r).path("rows");
    assertThat(rows.get(0).toString()).contains("\"b\"").contains("9");
    assertThat(rows.get(1).toString()).contains("\"a\"").contains("5");
    String etag = header(r, "ETag");
    assertThat(etag).startsWith("W/\"");
    assertThat(
            worker
                .send(
                    worker.request("/v1/counters/votes?top=2").header("If-None-Match", etag).GET())
                .statusCode())
        .isEqualTo(304);
    // votes keeps no time buckets: a window is refused with the report's own sentence.
    assertError(
        worker.get("/v1/counters/votes?top=10&since=24h"), 400, "the window of this report needs");
  }

  @Test
  void cors_onlyForConfiguredOrigins() {
    HttpResponse<String> ok =
        worker.send(worker.request("/v1/counters/hits/c").header("Origin", ORIGIN).GET());
    assertThat(header(ok, "Access-Control-Allow-Origin")).isEqualTo(ORIGIN);
    assertThat(ok.headers().allValues("Vary")).anyMatch(v -> v.contains("Origin"));
    assertThat(header(ok, "Access-Control-Expose-Headers")).contains("ETag");
    HttpResponse<String> other =
        worker.send(
            worker.request("/v1/counters/hits/c").header("Origin", "http://evil.test").GET());
    assertThat(other.statusCode()).isEqualTo(200);
    assertThat(header(other, "Access-Control-Allow-Origin")).isNull();
    HttpResponse<String> preflight =
        worker.send(
            worker
                .request("/v1/counters/hits/c/increments")
                .header("Origin", ORIGIN)
                .header("Access-Control-Request-Method", "POST")
                .header("Access-Control-Request-Headers", "authorization")
                .method("OPTIONS", HttpRequest.BodyPublishers.noBody()));
    assertThat(preflight.statusCode()).isEqualTo(204);
    assertThat(header(preflight, "Access-Control-Allow-Origin")).isEqualTo(ORIGIN);
    assertThat(header(preflight, "Access-Control-Allow-Methods")).contains("POST");
    assertThat(header(preflight, "Access-Control-Allow-Headers"))
        .containsIgnoringCase("authorization");
    HttpResponse<String> refused =
        worker.send(
            worker
                .request("/v1/counters/hits/c/increments")
                .header("Origin", "http://evil.test")
                .method("OPTIONS", HttpRequest.BodyPublishers.noBody()));
    assertThat(header(refused, "Access-Control-Allow-Origin")).isNull();
    assertThat(header(refused, "Access-Control-Allow-Methods")).isNull();
  }

  @Test
  void workerOutput_namesHowManyTokens_neverTheTokens() {
    assertThat(worker.post("/v1/counters/hits/x/increments", "wrong-token-0123456789").statusCode())
        .isEqualTo(401);
    String log = worker.process.output();
    assertThat(log).contains("event=api_listening").contains("tokens=2");
    assertThat(log).doesNotContain(ApiWorker.TOKEN, ApiWorker.OTHER_TOKEN);
  }

  @Test
  void tooShortToken_workerRefusesToStart_withOneSentence(TestEnv env) {
    Map<String, String> e = new LinkedHashMap<>(WorkerProcess.env(env));
    e.put("SPILLWAY_API_TOKEN", "short-secret");
    WorkerProcess.Result r =
        WorkerProcess.run(
            WorkerProcess.START_TIMEOUT,
            e,
            "worker",
            "--config",
            WorkerProcess.config("worker: {http: {port: 0}}\napi: {enabled: true, port: 0}\n")
                .toString());

    assertThat(r.exitCode()).as(r.output()).isNotZero();
    assertThat(r.output())
        .contains("SPILLWAY_API_TOKEN entry 1 of 1 must be at least 16 characters but was 12")
        .doesNotContain("short-secret")
        .doesNotContain("\tat ");
  }

  @Test
  void ping_isTheTrivialReference() {
    HttpResponse<String> r = worker.get("/v1/ping");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).contains("ok");
  }

  static String rawRequest(String request) {
    try (Socket s = new Socket("127.0.0.1", worker.port)) {
      s.setSoTimeout(10_000);
      s.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
      s.getOutputStream().flush();
      return new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  static void assertError(HttpResponse<String> r, int status, String sentence) {
    assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
    assertThat(header(r, "Content-Type")).startsWith("application/json");
    JsonNode n = json(r);
    assertThat(n.path("status").asInt()).isEqualTo(status);
    if (sentence != null) {
      assertThat(n.path("error").asText()).contains(sentence);
    }
    assertThat(r.body())
        .doesNotContain("Exception")
        .doesNotContain("\tat ")
        .doesNotContain("dev.spillway.");
  }
}
