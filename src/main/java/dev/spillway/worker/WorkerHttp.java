package dev.spillway.worker;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Supplier;

/**
 * The worker's HTTP endpoint (JDK {@link HttpServer}, one virtual thread per request):
 *
 * <ul>
 *   <li>{@code GET /metrics}: Prometheus text format;
 *   <li>{@code GET /health/live}: 200 while the process runs, 503 once the runtime stopped after an
 *       Error on one of its threads ({@link dev.spillway.runtime.RuntimeFailure});
 *   <li>{@code GET /health/ready}: 200 when Redis, PostgreSQL and the scheduler are fine, else 503;
 *       JSON naming each check.
 * </ul>
 *
 * Binds loopback by default: the endpoint has no authentication.
 */
final class WorkerHttp implements AutoCloseable {
  static final String PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";

  private final HttpServer server;
  private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();

  WorkerHttp(
      String bind,
      int port,
      Supplier<String> metrics,
      Supplier<Health.Readiness> ready,
      Supplier<Optional<String>> failed)
      throws IOException {
    server = HttpServer.create(new InetSocketAddress(bind, port), 64);
    server.setExecutor(executor);
    server.createContext(
        "/",
        exchange -> {
          try (exchange) {
            String method = exchange.getRequestMethod();
            if (!method.equals("GET") && !method.equals("HEAD")) {
              exchange.getResponseHeaders().set("Allow", "GET, HEAD");
              send(exchange, 405, "text/plain; charset=utf-8", "method not allowed\n");
              return;
            }
            switch (exchange.getRequestURI().getPath()) {
              case "/metrics" -> send(exchange, 200, PROMETHEUS_TEXT, metrics.get());
              case "/health/live" -> {
                // After an Error on one of its threads the runtime has stopped flushing: a
                // supervisor should restart the process.
                Optional<String> f = failed.get();
                if (f.isPresent()) {
                  ObjectNode n = new ObjectMapper().createObjectNode();
                  n.put("status", "DOWN");
                  n.put("error", f.get());
                  send(exchange, 503, "application/json", n.toString());
                } else {
                  send(exchange, 200, "application/json", "{\"status\":\"UP\"}");
                }
              }
              case "/health/ready" -> {
                Health.Readiness r = ready.get();
                send(exchange, r.up() ? 200 : 503, "application/json", r.json());
              }
              case "/" ->
                  send(
                      exchange,
                      200,
                      "text/plain; charset=utf-8",
                      "spillway worker: /metrics /health/live /health/ready\n");
              default -> send(exchange, 404, "text/plain; charset=utf-8", "not found\n");
            }
          } catch (RuntimeException e) {
            // The exchange is closed; the client sees a reset. Nothing else to do here.
          }
        });
    server.start();
  }

  InetSocketAddress address() {
    return server.getAddress();
  }

  private static void send(HttpExchange exchange, int status, String type, String body)
      throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().set("Content-Type", type);
    exchange.getResponseHeaders().set("Cache-Control", "no-store");
    boolean head = exchange.getRequestMethod().equals("HEAD");
    exchange.sendResponseHeaders(status, head ? -1 : bytes.length);
    if (!head) {
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(bytes);
      }
    }
  }

  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
  }
}
