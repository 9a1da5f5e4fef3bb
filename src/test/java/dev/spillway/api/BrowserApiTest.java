package dev.spillway.api;

import static dev.spillway.api.ApiWorker.await;
import static dev.spillway.api.ApiWorker.total;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.TestEnv;
import dev.spillway.worker.WorkerProcess;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.parallel.ResourceLock;

/**
 * A page in headless Chromium calls the API of a worker child process across origins: anonymous
 * increments with {@code fetch} and {@code navigator.sendBeacon}, then reads the count back (cached
 * view) and the exact value (a bearer token, so a CORS preflight), and shows it. The count shown
 * matches PostgreSQL. A page from an origin not in {@code api.cors-origins} is blocked by the
 * browser. Skipped where Chromium is not installed ({@code apt-get install chromium}).
 */
@ExtendWith(ServicesExtension.class)
@ResourceLock(WorkerProcess.CHILD_JVMS)
class BrowserApiTest {
  private static final Path CHROMIUM = Path.of("/usr/bin/chromium");
  static final ObjectMapper JSON = new ObjectMapper();

  /** Serves one page and collects what pages report to /result. */
  static final class PageServer implements AutoCloseable {
    final HttpServer server;
    final Map<String, String> results = new ConcurrentHashMap<>();

    /** Started without a page: {@link BrowserApiTest#serve} sets it once the API port is known. */
    PageServer() throws IOException {
      server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 16);
      server.start();
    }

    int port() {
      return server.getAddress().getPort();
    }

    String origin() {
      return "http://127.0.0.1:" + port();
    }

    private static void reply(HttpExchange ex, int status, String type, String body)
        throws IOException {
      byte[] b = body.getBytes(StandardCharsets.UTF_8);
      ex.getResponseHeaders().set("Content-Type", type);
      ex.getResponseHeaders().set("Cache-Control", "no-store");
      ex.sendResponseHeaders(status, b.length == 0 ? -1 : b.length);
      if (b.length > 0) {
        ex.getResponseBody().write(b);
      }
    }

    @Override
    public void close() {
      server.stop(0);
    }
  }

  /**
   * The page: 3 fetch POSTs and 2 beacons to page_views/home, then polls the cached count until it
   * shows 5 (or 60 s pass), reads the exact value with the token, and reports both, the statuses
   * and the number shown in the page to /result?main.
   */
  static String mainPage(String api, String token) {
    return """
    <!doctype html><html><body><p>Views: <span id="count">?</span></p><script>
    const api = "%s", counter = api + "/v1/counters/page_views/home";
    async function run() {
      const out = {posts: [], beacons: [], error: null};
      try {
        for (let i = 0; i < 3; i++) {
          const r = await fetch(counter + "/increments", {method: "POST"});
          out.posts.push(r.status);
        }
        for (let i = 0; i < 2; i++) {
          out.beacons.push(navigator.sendBeacon(counter + "/increments"));
        }
        const until = Date.now() + 60000;
        let body = null;
        while (Date.now() < until) {
          const r = await fetch(counter, {cache: "no-store"});
          body = await r.json();
          out.etag = r.headers.get("ETag");
          if (body.value >= 5) break;
          await new Promise(ok => setTimeout(ok, 200));
        }
        document.getElementById("count").textContent = String(body.value);
        const exact = await fetch(counter + "?exact=true",
            {cache: "no-store", headers: {"Authorization": "Bearer %s"}});
        out.exactStatus = exact.status;
        out.exact = (await exact.json()).value;
      } catch (e) {
        out.error = String(e);
      }
      out.shown = document.getElementById("count").textContent;
      await fetch("/result?main", {method: "POST", body: JSON.stringify(out)});
    }
    run();
    </script></body></html>
    """
        .formatted(api, token);
  }

  /** From an origin not allowed: the read must fail in the browser (CORS), reported as such. */
  static String otherPage(String api) {
    return """
    <!doctype html><html><body><script>
    (async () => {
      let outcome;
      try {
        const r = await fetch("%s/v1/counters/page_views/home", {cache: "no-store"});
        outcome = "read " + r.status;
      } catch (e) {
        outcome = "blocked: " + e.name;
      }
      await fetch("/result?other", {method: "POST", body: outcome});
    })();
    </script></body></html>
    """
        .formatted(api);
  }

  @Test
  void pageCountsWithFetchAndBeacon_showsWhatPostgresHolds(TestEnv env, @TempDir Path dir)
      throws Exception {
    assumeTrue(Files.isExecutable(CHROMIUM), "Chromium is not installed at " + CHROMIUM);
    // The page server's origin goes into the worker's CORS list, the worker's port into the page.
    try (PageServer main = new PageServer();
        PageServer other = new PageServer()) {
      try (ApiWorker worker =
          ApiWorker.start(
              env,
              """
              public-increments: [page_views]
              anonymous-rate: 100
              cors-origins: ["%s"]
              """
                  .formatted(main.origin()))) {
        String api = "http://127.0.0.1:" + worker.port;
        serve(main, mainPage(api, ApiWorker.TOKEN));
        serve(other, otherPage(api));

        Process chromium = chromium(dir, main.origin() + "/index.html");
        try {
          await(
              () -> main.results.containsKey("main") || !chromium.isAlive(),
              Duration.ofSeconds(120),
              "the page reports");
        } finally {
          stop(chromium);
        }
        assertThat(main.results).as("chromium log:\n%s", log(dir)).containsKey("main");
        JsonNode r = JSON.readTree(main.results.get("main"));
        assertThat(r.path("error").isNull()).as(r.toString()).isTrue();
        assertThat(r.path("posts").toString()).isEqualTo("[204,204,204]");
        assertThat(r.path("beacons").toString()).isEqualTo("[true,true]");
        long shown = Long.parseLong(r.path("shown").asText());
        await(
            () -> total(env, "page_views", "home") == 5, Duration.ofSeconds(30), "5 in PostgreSQL");
        assertThat(shown).as(r.toString()).isEqualTo(total(env, "page_views", "home")).isEqualTo(5);
        assertThat(r.path("exactStatus").asInt()).isEqualTo(200);
        assertThat(r.path("exact").asLong()).isEqualTo(5);
        assertThat(r.path("etag").asText()).as("ETag exposed to the page").isEqualTo("\"v5\"");

        Process blocked = chromium(dir, other.origin() + "/index.html");
        try {
          await(
              () -> other.results.containsKey("other") || !blocked.isAlive(),
              Duration.ofSeconds(120),
              "the other page reports");
        } finally {
          stop(blocked);
        }
        assertThat(other.results.get("other"))
            .as("chromium log:\n%s", log(dir))
            .startsWith("blocked");
        System.out.printf("BrowserApiTest: %s; other origin: %s%n", r, other.results.get("other"));
      }
    }
  }

  private static void serve(PageServer s, String page) {
    s.server.createContext(
        "/",
        ex -> {
          try (ex) {
            String path = ex.getRequestURI().getPath();
            if (path.equals("/result")) {
              s.results.put(
                  ex.getRequestURI().getQuery(),
                  new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8));
              PageServer.reply(ex, 204, "text/plain", "");
            } else if (path.equals("/index.html")) {
              PageServer.reply(ex, 200, "text/html; charset=utf-8", page);
            } else {
              PageServer.reply(ex, 404, "text/plain", "not found");
            }
          }
        });
  }

  private static Process chromium(Path dir, String url) throws IOException {
    Path profile = Files.createTempDirectory(dir, "chromium-profile-");
    return new ProcessBuilder(
            CHROMIUM.toString(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--user-data-dir=" + profile,
            url)
        .redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("chromium.log").toFile()))
        .start();
  }

  private static void stop(Process p) throws InterruptedException {
    p.descendants().forEach(ProcessHandle::destroy);
    p.destroy();
    if (!p.waitFor(10, TimeUnit.SECONDS)) {
      p.descendants().forEach(ProcessHandle::destroyForcibly);
      p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }

  private static String log(Path dir) {
    try {
      String s = Files.readString(dir.resolve("chromium.log"));
      return s.length() > 4000 ? s.substring(s.length() - 4000) : s;
    } catch (IOException e) {
      return e.toString();
    }
  }
}
