package dev.spillway.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.spillway.BufferFullException;
import dev.spillway.ConfigException;
import dev.spillway.SpillwayException;
import dev.spillway.cache.CachedCounters;
import dev.spillway.config.ApiSettings;
import dev.spillway.config.Durations;
import dev.spillway.config.ExportSettings;
import dev.spillway.counter.Counters;
import dev.spillway.layout.CounterNames;
import dev.spillway.report.Report;
import dev.spillway.report.ReportRenderer;
import dev.spillway.report.ReportRequest;
import dev.spillway.report.Window;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
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
 */
final class ApiHandler extends Handler.Abstract {
  private static final Logger log = LoggerFactory.getLogger(ApiHandler.class);
  static final int MAX_QUERY_CHARS = 1024;
  static final int MAX_BODY_BYTES = 4096;
  static final int MAX_PATH_CHARS = 4096;
  static final String JSON = "application/json";
  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final DateTimeFormatter HTTP_DATE = DateTimeFormatter.RFC_1123_DATE_TIME;
  private static final String ALLOW_READ = "GET, HEAD, OPTIONS";
  private static final String ALLOW_WRITE = "POST, OPTIONS";
  private static final int AS_OF_ENTRIES = 100_000;

  private final ApiSettings settings;
  private final ApiTokens tokens;
  private final Counters counters;
  private final CachedCounters cached;
  private final Function<ReportRequest, Report> reports;
  private final InstantSource clock;
  private final RateLimiter limiter;
  private final UnaryOperator<String> redact;
  private final MeterRegistry registry;
  private final Map<String, Counter> meters = new ConcurrentHashMap<>();

  /** When this server first saw each (counter, key)'s current value: as_of and Last-Modified. */
  private final Cache<String, Seen> seen = Caffeine.newBuilder().maximumSize(AS_OF_ENTRIES).build();

  /** Rendered top reports, for max-age: the database sees one query per report per max-age. */
  private final Cache<String, Rendered> tops;

  ApiHandler(
      ApiSettings settings,
      ApiTokens tokens,
      Counters counters,
      CachedCounters cached,
      Function<ReportRequest, Report> reports,
      InstantSource clock,
      MeterRegistry registry,
      UnaryOperator<String> redact) {
    this.settings = settings;
    this.tokens = tokens;
    this.counters = counters;
    this.cached = cached;
    this.reports = reports;
    this.clock = clock;
    this.registry = registry;
    this.redact = redact;
    this.limiter = new RateLimiter(settings.anonymousRate(), System::nanoTime);
    // max-age 0: nothing is kept, every request runs its report.
    Caffeine<Object, Object> b =
        Caffeine.newBuilder().maximumSize(settings.maxAge().isZero() ? 0 : 1_000);
    if (!settings.maxAge().isZero()) {
      b.expireAfterWrite(settings.maxAge());
    }
    this.tops = b.build();
  }

  private record Seen(long value, Instant at) {}

  private record Rendered(String body, String etag) {}

  /** A refusal: status, one sentence, and extra headers. */
  static final class ApiError extends RuntimeException {
    final int status;
    final Map<String, String> headers = new LinkedHashMap<>();

    ApiError(int status, String message) {
      super(message, null, false, false);
      this.status = status;
    }

    ApiError header(String name, String value) {
      headers.put(name, value);
      return this;
    }
  }

  @Override
  public boolean handle(Request request, Response response, Callback callback) {
    String route = "other";
    int status;
    try {
      String origin = request.getHeaders().get(HttpHeader.ORIGIN);
      cors(origin, response);
      String rawPath = request.getHttpURI().getPath();
      String query = request.getHttpURI().getQuery();
      if (rawPath == null || rawPath.length() > MAX_PATH_CHARS) {
        throw new ApiError(414, "the path must be at most " + MAX_PATH_CHARS + " characters");
      }
      if (query != null && query.length() > MAX_QUERY_CHARS) {
        throw new ApiError(
            414,
            "the query string must be at most "
                + MAX_QUERY_CHARS
                + " characters but was "
                + query.length());
      }
      long length = request.getLength();
      if (length > MAX_BODY_BYTES) {
        throw new ApiError(
            413, "the request body must be at most " + MAX_BODY_BYTES + " bytes but was " + length);
      }
      List<String> segments = segments(rawPath);
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
          status = top(method, segments.get(2), request, response, callback);
        } else if (segments.size() == 4) {
          route = "read";
          status = read(method, segments.get(2), segments.get(3), request, response, callback);
        } else if (segments.get(4).equals("increments")) {
          route = "increment";
          status = increment(method, segments.get(2), segments.get(3), request, response, callback);
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

  // ---- routes ----------------------------------------------------------------------------

  private int read(
      String method, String counter, String key, Request request, Response response, Callback cb) {
    if (method.equals("OPTIONS")) {
      return preflight(request, response, cb, ALLOW_READ);
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
      return notModifiedAnswer(response, cb);
    }
    return send(
        request,
        response,
        cb,
        200,
        settings.cacheControl(),
        counterJson(counter, key, value, s.at()));
  }

  private int top(String method, String counter, Request request, Response response, Callback cb) {
    if (method.equals("OPTIONS")) {
      return preflight(request, response, cb, ALLOW_READ);
    }
    allow(method, "GET, HEAD", response, ALLOW_READ);
    Map<String, String> q = query(request, Set.of("top", "since"));
    try {
      CounterNames.checkCounter(counter);
    } catch (IllegalArgumentException e) {
      throw new ApiError(400, e.getMessage());
    }
    String topText = q.get("top");
    if (topText == null) {
      throw new ApiError(
          400, "top must be given, like ?top=10 (GET /v1/counters/{counter}/{key} reads one key)");
    }
    int n;
    try {
      n = Integer.parseInt(topText);
    } catch (NumberFormatException e) {
      throw new ApiError(
          400,
          "top must be a whole number between 1 and "
              + ReportRequest.MAX_LIMIT
              + " but was '"
              + topText
              + "'");
    }
    String since = q.get("since");
    Window window = new Window.AllTime();
    if (since != null) {
      Duration d;
      try {
        d = Durations.parse("since", since);
      } catch (ConfigException e) {
        throw new ApiError(400, e.getMessage());
      }
      // The CLI's bounds: 100 years, like the longest retention.
      if (d.isNegative() || d.isZero() || d.compareTo(Duration.ofDays(36_525)) > 0) {
        throw new ApiError(
            400, "since must be between 1ms and 36525d but was " + Durations.format(d));
      }
      window = new Window.Since(d);
    }
    ReportRequest r;
    try {
      r =
          new ReportRequest(
              ExportSettings.Kind.TOP,
              counter,
              Optional.empty(),
              Optional.empty(),
              window,
              ZoneOffset.UTC,
              n);
    } catch (IllegalArgumentException e) {
      // The CLI's sentences name its options; here they are query parameters.
      throw new ApiError(400, cliToQuery(e.getMessage()));
    }
    Window w = window;
    Rendered rendered =
        tops.get(
            counter + ' ' + n + ' ' + since,
            k -> {
              Report report;
              try {
                report = reports.apply(r);
              } catch (IllegalArgumentException e) {
                throw new ApiError(400, cliToQuery(e.getMessage()));
              }
              String body = ReportRenderer.render(report, ExportSettings.Format.JSON).strip();
              return new Rendered(body, "W/\"" + digest(report.rows().toString() + w) + "\"");
            });
    response.getHeaders().put(HttpHeader.ETAG, rendered.etag());
    if (notModified(request, rendered.etag(), null)) {
      return notModifiedAnswer(response, cb);
    }
    return send(request, response, cb, 200, settings.cacheControl(), rendered.body());
  }

  /** The report rules' sentences name the CLI's options; here they are query parameters. */
  private static String cliToQuery(String message) {
    return message
        .replace("--counter: ", "")
        .replace("--limit", "top")
        .replace("--since", "since")
        .replace("--granularity", "granularity");
  }

  private int increment(
      String method, String counter, String key, Request request, Response response, Callback cb) {
    if (method.equals("OPTIONS")) {
      return preflight(request, response, cb, ALLOW_WRITE);
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
    ObjectNode n = MAPPER.createObjectNode();
    n.put("counter", counter);
    n.put("key", key);
    n.put("by", by);
    n.put("status", "buffered");
    return send(request, response, cb, 202, "no-store", n.toString());
  }

  // ---- helpers ---------------------------------------------------------------------------

  private void cors(String origin, Response response) {
    if (settings.corsOrigins().isEmpty()) {
      return;
    }
    if (!settings.corsOrigins().contains("*")) {
      response.getHeaders().add(HttpHeader.VARY, "Origin"); // caches keep one answer per origin
    }
    String allowed = settings.allowedOrigin(origin);
    if (allowed != null) {
      response.getHeaders().put(HttpHeader.ACCESS_CONTROL_ALLOW_ORIGIN, allowed);
      response.getHeaders().put(HttpHeader.ACCESS_CONTROL_EXPOSE_HEADERS, "ETag, Last-Modified");
    }
  }

  private int preflight(Request request, Response response, Callback cb, String allow) {
    response.getHeaders().put(HttpHeader.ALLOW, allow);
    if (settings.allowedOrigin(request.getHeaders().get(HttpHeader.ORIGIN)) != null) {
      response.getHeaders().put(HttpHeader.ACCESS_CONTROL_ALLOW_METHODS, allow);
      response
          .getHeaders()
          .put(HttpHeader.ACCESS_CONTROL_ALLOW_HEADERS, "Authorization, Content-Type");
      response.getHeaders().put(HttpHeader.ACCESS_CONTROL_MAX_AGE, "600");
    }
    response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-store");
    response.setStatus(204);
    cb.succeeded();
    return 204;
  }

  private static void allow(String method, String methods, Response response) {
    allow(method, methods, response, methods);
  }

  private static void allow(String method, String methods, Response response, String allowHeader) {
    for (String m : methods.split(", ")) {
      if (m.equals(method)) {
        return;
      }
    }
    throw new ApiError(405, "method " + method + " is not allowed here; allowed: " + allowHeader)
        .header("Allow", allowHeader);
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

  private static void checkNames(String counter, String key) {
    try {
      CounterNames.checkCounter(counter);
      CounterNames.checkKey(key);
    } catch (IllegalArgumentException e) {
      throw new ApiError(400, e.getMessage());
    }
  }

  private static boolean bool(String name, String v) {
    if (v == null || v.equals("false")) {
      return false;
    }
    if (v.equals("true")) {
      return true;
    }
    throw new ApiError(400, name + " must be true or false but was '" + v + "'");
  }

  /** The query parameters, each at most once, none outside {@code known}. */
  private static Map<String, String> query(Request request, Set<String> known) {
    String raw = request.getHttpURI().getQuery();
    Map<String, String> out = new LinkedHashMap<>();
    if (raw == null || raw.isEmpty()) {
      return out;
    }
    for (String pair : raw.split("&")) {
      if (pair.isEmpty()) {
        continue;
      }
      int eq = pair.indexOf('=');
      String name = decode(eq < 0 ? pair : pair.substring(0, eq), true);
      String value = eq < 0 ? "" : decode(pair.substring(eq + 1), true);
      if (!known.contains(name)) {
        throw new ApiError(
            400,
            "query parameter '"
                + name
                + "' is not known here (known: "
                + new java.util.TreeSet<>(known)
                + ")");
      }
      if (out.put(name, value) != null) {
        throw new ApiError(400, "query parameter '" + name + "' must be given at most once");
      }
    }
    return out;
  }

  /** The path split on '/', each segment percent-decoded (so {@code %2F} stays in a key). */
  static List<String> segments(String rawPath) {
    List<String> out = new ArrayList<>();
    String p = rawPath.startsWith("/") ? rawPath.substring(1) : rawPath;
    if (p.endsWith("/")) {
      p = p.substring(0, p.length() - 1);
    }
    for (String s : p.split("/", -1)) {
      out.add(decode(s, false));
    }
    return out;
  }

  /** Percent-decoding as UTF-8; {@code +} is a space only in a query. Refuses bad encodings. */
  static String decode(String s, boolean query) {
    if (s.indexOf('%') < 0 && !(query && s.indexOf('+') >= 0)) {
      return s;
    }
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(s.length());
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '%') {
        if (i + 2 >= s.length()) {
          throw new ApiError(400, "the URI holds a truncated percent-encoding at '" + s + "'");
        }
        int hi = Character.digit(s.charAt(i + 1), 16);
        int lo = Character.digit(s.charAt(i + 2), 16);
        if (hi < 0 || lo < 0) {
          throw new ApiError(400, "the URI holds a bad percent-encoding at '" + s + "'");
        }
        bytes.write(hi * 16 + lo);
        i += 2;
      } else if (c == '+' && query) {
        bytes.write(' ');
      } else {
        byte[] b = String.valueOf(c).getBytes(StandardCharsets.UTF_8);
        bytes.write(b, 0, b.length);
      }
    }
    try {
      return StandardCharsets.UTF_8
          .newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(bytes.toByteArray()))
          .toString();
    } catch (CharacterCodingException e) {
      throw new ApiError(400, "the URI's percent-encoded bytes are not valid UTF-8");
    }
  }

  /** {@code If-None-Match} (weak comparison), else {@code If-Modified-Since}. */
  private static boolean notModified(Request request, String etag, Instant lastModified) {
    String inm = request.getHeaders().get(HttpHeader.IF_NONE_MATCH);
    if (inm != null) {
      String mine = opaque(etag);
      for (String t : inm.split(",")) {
        String tag = t.trim();
        if (tag.equals("*") || opaque(tag).equals(mine)) {
          return true;
        }
      }
      return false;
    }
    String ims = request.getHeaders().get(HttpHeader.IF_MODIFIED_SINCE);
    if (ims != null && lastModified != null) {
      try {
        Instant since = java.time.ZonedDateTime.parse(ims, HTTP_DATE).toInstant();
        return !lastModified.isAfter(since);
      } catch (java.time.format.DateTimeParseException e) {
        return false; // RFC 9110: an invalid date is ignored
      }
    }
    return false;
  }

  private static String opaque(String tag) {
    return tag.startsWith("W/") ? tag.substring(2) : tag;
  }

  private int notModifiedAnswer(Response response, Callback cb) {
    response.getHeaders().put(HttpHeader.CACHE_CONTROL, settings.cacheControl());
    response.setStatus(304);
    cb.succeeded();
    return 304;
  }

  private static String counterJson(String counter, String key, long value, Instant asOf) {
    ObjectNode n = MAPPER.createObjectNode();
    n.put("counter", counter);
    n.put("key", key);
    n.put("value", value);
    n.put("as_of", asOf.toString());
    return n.toString();
  }

  private static String digest(String s) {
    try {
      byte[] d = MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(d, 0, 12);
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static ApiError notFound() {
    return new ApiError(
        404,
        "no such resource; see GET /v1/counters/{counter}/{key},"
            + " GET /v1/counters/{counter}?top=N, POST /v1/counters/{counter}/{key}/increments");
  }

  private int error(Request request, Response response, Callback cb, ApiError e) {
    e.headers.forEach((k, v) -> response.getHeaders().put(k, v));
    ObjectNode n = MAPPER.createObjectNode();
    n.put("status", e.status);
    n.put("error", e.getMessage());
    return send(request, response, cb, e.status, "no-store", n.toString());
  }

  /** Writes a JSON answer (headers only for HEAD). */
  private static int send(
      Request request,
      Response response,
      Callback cb,
      int status,
      String cacheControl,
      String body) {
    byte[] bytes = (body + "\n").getBytes(StandardCharsets.UTF_8);
    response.setStatus(status);
    response.getHeaders().put(HttpHeader.CONTENT_TYPE, JSON);
    response.getHeaders().put(HttpHeader.CACHE_CONTROL, cacheControl);
    response.getHeaders().put(HttpHeader.CONTENT_LENGTH, bytes.length);
    if (request.getMethod().equals("HEAD")) {
      response.write(true, null, cb);
    } else {
      response.write(true, ByteBuffer.wrap(bytes), cb);
    }
    return status;
  }
}
