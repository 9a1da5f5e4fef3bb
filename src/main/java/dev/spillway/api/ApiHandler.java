package dev.spillway.api;

import static dev.spillway.api.ApiAnswers.error;
import static dev.spillway.api.ApiAnswers.send;
import static dev.spillway.api.ApiRequests.allow;

import dev.spillway.BufferFullException;
import dev.spillway.SpillwayException;
import dev.spillway.cache.CachedCounters;
import dev.spillway.config.ApiSettings;
import dev.spillway.counter.Counters;
import dev.spillway.report.Report;
import dev.spillway.report.ReportRequest;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.InstantSource;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.function.UnaryOperator;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The routes of the public HTTP API (README, "HTTP API"):
 *
 * <ul>
 *   <li>{@code GET|HEAD /v1/counters/{counter}/{key}}: the flushed total from the cached view,
 *       cacheable ({@code ETag} from the value, {@code Last-Modified}, {@code Cache-Control:
 *       public, max-age, stale-while-revalidate}); {@code ?exact=true} with a token: the exact
 *       value, {@code private, no-store};
 *   <li>{@code GET|HEAD /v1/counters/{counter}?top=N[&since=24h]}: the top-N report (the rules of
 *       {@code spillway report top}), cacheable the same way;
 *   <li>{@code POST /v1/counters/{counter}/{key}/increments[?by=N]}: {@code 202} once buffered by
 *       the embedded client (token), {@code 204} for an anonymous beacon on a public counter;
 *   <li>{@code GET|HEAD /v1/ping}: a constant answer (the benchmark's reference).
 * </ul>
 *
 * Path segments are percent-decoded ({@code %2F} is a slash inside a key). Errors are JSON {@code
 * {"status": 400, "error": "<one sentence>"}}; nothing of a stack trace reaches a client.
 *
 * <p>This class owns the dispatch: the limits and the route of each request ({@link ApiRequests}),
 * the answer to every refusal or failure, and the {@code spillway.api.requests} meter by route and
 * status. The routes are {@link CounterRoutes} and {@link TopRoute}; {@link ApiAnswers} writes the
 * answers, their cache headers and CORS.
 */
final class ApiHandler extends Handler.Abstract {
  private static final Logger log = LoggerFactory.getLogger(ApiHandler.class);

  private final ApiAnswers answers;
  private final CounterRoutes counterRoutes;
  private final TopRoute topRoute;
  private final UnaryOperator<String> redact;
  private final MeterRegistry registry;
  private final Map<String, Counter> meters = new ConcurrentHashMap<>();

  ApiHandler(
      ApiSettings settings,
      ApiTokens tokens,
      Counters counters,
      CachedCounters cached,
      Function<ReportRequest, Report> reports,
      InstantSource clock,
      MeterRegistry registry,
      UnaryOperator<String> redact) {
    this.registry = registry;
    this.redact = redact;
    this.answers = new ApiAnswers(settings);
    this.counterRoutes = new CounterRoutes(settings, tokens, counters, cached, clock, answers);
    this.topRoute = new TopRoute(settings, reports, answers);
  }

  @Override
  public boolean handle(Request request, Response response, Callback callback) {
    String route = "other";
    int status;
    try {
      String origin = request.getHeaders().get(HttpHeader.ORIGIN);
      answers.cors(origin, response);
      List<String> segments = ApiRequests.segments(ApiRequests.checkLimits(request));
      String method = request.getMethod();
      if (segments.size() == 2 && segments.get(0).equals("v1") && segments.get(1).equals("ping")) {
        route = "ping";
        allow(method, "GET, HEAD", response);
        status = send(request, response, callback, 200, "no-store", "{\"status\":\"ok\"}");
      } else if (segments.size() >= 3
          && segments.size() <= 5
          && segments.get(0).equals("v1")
          && segments.get(1).equals("counters")) {
        if (segments.size() == 3) {
          route = "top";
          status = topRoute.answer(method, segments.get(2), request, response, callback);
        } else if (segments.size() == 4) {
          route = "read";
          status =
              counterRoutes.read(
                  method, segments.get(2), segments.get(3), request, response, callback);
        } else if (segments.get(4).equals("increments")) {
          route = "increment";
          status =
              counterRoutes.increment(
                  method, segments.get(2), segments.get(3), request, response, callback);
        } else {
          throw notFound();
        }
      } else {
        throw notFound();
      }
    } catch (ApiError e) {
      status = error(request, response, callback, e);
    } catch (BufferFullException e) {
      status =
          error(
              request,
              response,
              callback,
              new ApiError(503, "the increment buffer is full; try again shortly")
                  .header("Retry-After", "1"));
    } catch (SpillwayException e) {
      log.warn("event=api_unavailable route={} error=\"{}\"", route, redact.apply(e.getMessage()));
      status =
          error(
              request,
              response,
              callback,
              new ApiError(503, "the counter store is unavailable; try again shortly")
                  .header("Retry-After", "1"));
    } catch (RuntimeException e) {
      log.warn("event=api_error route={} error=\"{}\"", route, redact.apply(e.toString()));
      status = error(request, response, callback, new ApiError(500, "internal error"));
    }
    meter(route, status).increment();
    return true;
  }

  private Counter meter(String route, int status) {
    String k = route + ' ' + status;
    return meters.computeIfAbsent(
        k,
        x ->
            Counter.builder("spillway.api.requests")
                .description("HTTP API requests answered, by route and status")
                .tag("route", route)
                .tag("status", Integer.toString(status))
                .register(registry));
  }

  private static ApiError notFound() {
    return new ApiError(
        404,
        "no such resource; see GET /v1/counters/{counter}/{key},"
            + " GET /v1/counters/{counter}?top=N, POST /v1/counters/{counter}/{key}/increments");
  }
}
