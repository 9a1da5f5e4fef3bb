package dev.spillway.api;

import static dev.spillway.api.ApiAnswers.HTTP_DATE;
import static dev.spillway.api.ApiAnswers.counterJson;
import static dev.spillway.api.ApiAnswers.notModified;
import static dev.spillway.api.ApiAnswers.send;
import static dev.spillway.api.ApiRequests.ALLOW_READ;
import static dev.spillway.api.ApiRequests.ALLOW_WRITE;
import static dev.spillway.api.ApiRequests.allow;
import static dev.spillway.api.ApiRequests.bool;
import static dev.spillway.api.ApiRequests.checkNames;
import static dev.spillway.api.ApiRequests.query;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.spillway.cache.CachedCounters;
import dev.spillway.config.ApiSettings;
import dev.spillway.counter.Counters;
import java.time.Instant;
import java.time.InstantSource;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.Map;
import java.util.Set;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/**
 * The routes on one counter key: {@code GET|HEAD /v1/counters/{counter}/{key}} (the flushed total
 * from the cached view, with its {@code ETag} and the {@code Last-Modified} this server first saw
 * the value at; {@code ?exact=true} with a token reads the exact value, never cached) and {@code
 * POST /v1/counters/{counter}/{key}/increments} (a token, or an anonymous beacon on a public
 * counter under the per-client rate limit). It owns the bearer-token check, the rate limiter and
 * the memory of when each value was first seen.
 */
final class CounterRoutes {
  private static final int AS_OF_ENTRIES = 100_000;

  private final ApiSettings settings;
  private final ApiTokens tokens;
  private final Counters counters;
  private final CachedCounters cached;
  private final InstantSource clock;
  private final RateLimiter limiter;
  private final ApiAnswers answers;

  /** When this server first saw each (counter, key)'s current value: as_of and Last-Modified. */
  private final Cache<String, Seen> seen = Caffeine.newBuilder().maximumSize(AS_OF_ENTRIES).build();

  CounterRoutes(
      ApiSettings settings,
      ApiTokens tokens,
      Counters counters,
      CachedCounters cached,
      InstantSource clock,
      ApiAnswers answers) {
    this.settings = settings;
    this.tokens = tokens;
    this.counters = counters;
    this.cached = cached;
    this.clock = clock;
    this.answers = answers;
    this.limiter = new RateLimiter(settings.anonymousRate(), System::nanoTime);
  }

  private record Seen(long value, Instant at) {}

  int read(
      String method, String counter, String key, Request request, Response response, Callback cb) {
    if (method.equals("OPTIONS")) {
      return answers.preflight(request, response, cb, ALLOW_READ);
    }
    allow(method, "GET, HEAD", response, ALLOW_READ);
    Map<String, String> q = query(request, Set.of("exact"));
    checkNames(counter, key);
    boolean exact = bool("exact", q.get("exact"));
    if (exact) {
      requireToken(request);
      long value = counters.get(counter, key);
      String body =
          counterJson(counter, key, value, clock.instant().truncatedTo(ChronoUnit.MILLIS));
      return send(request, response, cb, 200, "private, no-store", body);
    }
    long value = cached.get(counter, key);
    String id = counter + '\u0000' + key;
    Instant now = clock.instant().truncatedTo(ChronoUnit.SECONDS);
    Seen s =
        seen.asMap()
            .compute(
                id, (k, old) -> old != null && old.value() == value ? old : new Seen(value, now));
    String etag = "\"v" + value + "\"";
    response.getHeaders().put(HttpHeader.ETAG, etag);
    response
        .getHeaders()
        .put(HttpHeader.LAST_MODIFIED, HTTP_DATE.format(s.at().atOffset(ZoneOffset.UTC)));
    if (notModified(request, etag, s.at())) {
      return answers.notModifiedAnswer(response, cb);
    }
    return send(
        request,
        response,
        cb,
        200,
        settings.cacheControl(),
        counterJson(counter, key, value, s.at()));
  }

  int increment(
      String method, String counter, String key, Request request, Response response, Callback cb) {
    if (method.equals("OPTIONS")) {
      return answers.preflight(request, response, cb, ALLOW_WRITE);
    }
    allow(method, "POST", response, ALLOW_WRITE);
    Map<String, String> q = query(request, Set.of("by"));
    checkNames(counter, key);
    long by = 1;
    String byText = q.get("by");
    if (byText != null) {
      try {
        by = Long.parseLong(byText);
      } catch (NumberFormatException e) {
        throw new ApiError(400, "by must be a whole number (64-bit) but was '" + byText + "'");
      }
    }
    String auth = request.getHeaders().get(HttpHeader.AUTHORIZATION);
    boolean anonymous = false;
    if (auth == null && settings.isPublic(counter)) {
      anonymous = true;
      if (by != 1) {
        throw new ApiError(400, "an anonymous increment adds 1, so by must be 1 but was " + by);
      }
      String client = Request.getRemoteAddr(request);
      if (!limiter.tryAcquire(client == null ? "?" : client)) {
        throw new ApiError(
                429,
                "at most "
                    + settings.anonymousRate()
                    + " anonymous increments per second per client (api.anonymous-rate)")
            .header("Retry-After", Long.toString(limiter.retryAfterSeconds()));
      }
    } else {
      requireToken(request);
    }
    counters.increment(counter, key, by);
    if (anonymous) {
      response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-store");
      response.setStatus(204);
      cb.succeeded();
      return 204;
    }
    ObjectNode n = ApiAnswers.object();
    n.put("counter", counter);
    n.put("key", key);
    n.put("by", by);
    n.put("status", "buffered");
    return send(request, response, cb, 202, "no-store", n.toString());
  }

  private void requireToken(Request request) {
    if (!tokens.valid(request.getHeaders().get(HttpHeader.AUTHORIZATION))) {
      throw new ApiError(
              401,
              request.getHeaders().contains(HttpHeader.AUTHORIZATION)
                  ? "the bearer token is not valid"
                  : "this request needs Authorization: Bearer <token> (SPILLWAY_API_TOKEN)")
          .header("WWW-Authenticate", "Bearer realm=\"spillway\"");
    }
  }
}
