package dev.spillway.api;

import static dev.spillway.api.ApiAnswers.notModified;
import static dev.spillway.api.ApiAnswers.send;
import static dev.spillway.api.ApiRequests.ALLOW_READ;
import static dev.spillway.api.ApiRequests.allow;
import static dev.spillway.api.ApiRequests.query;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.spillway.ConfigException;
import dev.spillway.config.ApiSettings;
import dev.spillway.config.Durations;
import dev.spillway.config.ExportSettings;
import dev.spillway.layout.CounterNames;
import dev.spillway.report.Report;
import dev.spillway.report.ReportRenderer;
import dev.spillway.report.ReportRequest;
import dev.spillway.report.Window;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.ZoneOffset;
import java.util.HexFormat;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/**
 * The top-N route, {@code GET|HEAD /v1/counters/{counter}?top=N[&since=24h]}: the rules of {@code
 * spillway report top} with their sentences spoken in query parameters instead of CLI options, the
 * report rendered as JSON with a weak {@code ETag} from its rows, and the rendered reports kept for
 * {@code api.max-age}, so the database sees one query per report per max-age.
 */
final class TopRoute {
  private final ApiSettings settings;
  private final Function<ReportRequest, Report> reports;
  private final ApiAnswers answers;

  /** Rendered top reports, for max-age: the database sees one query per report per max-age. */
  private final Cache<String, Rendered> tops;

  TopRoute(ApiSettings settings, Function<ReportRequest, Report> reports, ApiAnswers answers) {
    this.settings = settings;
    this.reports = reports;
    this.answers = answers;
    // max-age 0: nothing is kept, every request runs its report.
    Caffeine<Object, Object> b =
        Caffeine.newBuilder().maximumSize(settings.maxAge().isZero() ? 0 : 1_000);
    if (!settings.maxAge().isZero()) {
      b.expireAfterWrite(settings.maxAge());
    }
    this.tops = b.build();
  }

  private record Rendered(String body, String etag) {}

  int answer(String method, String counter, Request request, Response response, Callback cb) {
    if (method.equals("OPTIONS")) {
      return answers.preflight(request, response, cb, ALLOW_READ);
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
      return answers.notModifiedAnswer(response, cb);
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

  private static String digest(String s) {
    try {
      byte[] d = MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(d, 0, 12);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
