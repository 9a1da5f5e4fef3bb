package dev.spillway.api;

import dev.spillway.Spillway;
import dev.spillway.SpillwayException;
import dev.spillway.cache.CachedCounters;
import dev.spillway.config.ApiSettings;
import dev.spillway.config.Redactor;
import dev.spillway.counter.Counters;
import dev.spillway.report.Report;
import dev.spillway.report.ReportRequest;
import dev.spillway.report.Reports;
import io.micrometer.core.instrument.MeterRegistry;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.InstantSource;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import java.util.function.UnaryOperator;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.http.UriCompliance;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.server.handler.GracefulHandler;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The public HTTP API's listener: Jetty 12 (core handlers, no servlets), each request on a virtual
 * thread, apart from the worker's loopback admin endpoint. {@link #close()} stops gracefully: no
 * new connection is accepted, requests in flight get up to the stop timeout to finish.
 */
public final class ApiServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ApiServer.class);

  private final Server server;
  private final ServerConnector connector;

  private ApiServer(Server server, ServerConnector connector) {
    this.server = server;
    this.connector = connector;
  }

  /**
   * Listens on {@code settings.bind():settings.port()} and serves the API over {@code counters}
   * (increments and reads) and {@code reports} (top-N).
   *
   * @throws dev.spillway.SpillwayException naming the address when it cannot listen
   */
  public static ApiServer start(
      ApiSettings settings,
      ApiTokens tokens,
      Counters counters,
      CachedCounters cached,
      Function<ReportRequest, Report> reports,
      InstantSource clock,
      MeterRegistry registry,
      UnaryOperator<String> redact,
      Duration stopTimeout) {
    QueuedThreadPool threads = new QueuedThreadPool();
    threads.setName("spillway-api");
    threads.setVirtualThreadsExecutor(Executors.newVirtualThreadPerTaskExecutor());
    Server server = new Server(threads);
    server.setStopAtShutdown(false); // the worker stops us, in its order
    server.setStopTimeout(stopTimeout.toMillis());
    HttpConfiguration http = new HttpConfiguration();
    http.setSendServerVersion(false);
    http.setSendXPoweredBy(false);
    http.setRequestHeaderSize(8 * 1024); // bounds the request line (path and query) too
    // %2F inside a path segment is a slash inside a key; the handler decodes segment by segment.
    http.setUriCompliance(
        UriCompliance.DEFAULT.with(
            "spillway-api",
            UriCompliance.Violation.AMBIGUOUS_PATH_SEPARATOR,
            UriCompliance.Violation.AMBIGUOUS_PATH_ENCODING,
            UriCompliance.Violation.AMBIGUOUS_PATH_SEGMENT,
            UriCompliance.Violation.AMBIGUOUS_EMPTY_SEGMENT,
            // a control character in a key gets the Java API's sentence, not a bare 400
            UriCompliance.Violation.SUSPICIOUS_PATH_CHARACTERS,
            UriCompliance.Violation.ILLEGAL_PATH_CHARACTERS));
    ServerConnector connector = new ServerConnector(server, new HttpConnectionFactory(http));
    connector.setHost(settings.bind());
    connector.setPort(settings.port());
    connector.setIdleTimeout(30_000);
    server.addConnector(connector);
    server.setHandler(
        new GracefulHandler(
            new ApiHandler(settings, tokens, counters, cached, reports, clock, registry, redact)));
    server.setErrorHandler(ApiServer::jettyError);
    try {
      server.start();
    } catch (Exception e) {
      try {
        server.stop();
      } catch (Exception ignored) {
        // nothing more to release
      }
      throw new SpillwayException(
          "cannot listen on "
              + settings.bind()
              + ":"
              + settings.port()
              + " (api.bind / api.port): "
              + e.getMessage(),
          e);
    }
    return new ApiServer(server, connector);
  }

  /**
   * What Jetty itself refuses before the handler runs (a malformed request line, headers too
   * large): the same JSON shape, never a stack trace.
   */
  private static boolean jettyError(Request request, Response response, Callback cb) {
    Object s = request.getAttribute(ErrorHandler.ERROR_STATUS);
    int status = s instanceof Integer i ? i : 500;
    String reason = HttpStatus.getMessage(status);
    String body = "{\"status\":" + status + ",\"error\":\"" + reason.replace("\"", "'") + "\"}\n";
    response.getHeaders().put(HttpHeader.CONTENT_TYPE, ApiAnswers.JSON);
    response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-store");
    response.write(true, ByteBuffer.wrap(body.getBytes(StandardCharsets.UTF_8)), cb);
    return true;
  }

  /** The address actually bound (useful with {@code api.port: 0}). */
  public InetSocketAddress address() {
    String host = connector.getHost() == null ? "0.0.0.0" : connector.getHost();
    return new InetSocketAddress(host, connector.getLocalPort());
  }

  /** Stops accepting, lets requests in flight finish (up to the stop timeout). Idempotent. */
  @Override
  public void close() {
    if (server.isStopped()) {
      return;
    }
    try {
      server.stop();
    } catch (TimeoutException e) {
      log.warn("event=api_stop_timeout note=\"requests still in flight were cut\"");
    } catch (Exception e) {
      log.warn("event=api_stop_failed error=\"{}\"", e.toString());
    }
  }

  /**
   * The worker's API listener over {@code spillway}, or null when {@code api.enabled} is false.
   * Tokens from {@code env}'s {@code SPILLWAY_API_TOKEN}; logs {@code event=api_listening}.
   */
  public static ApiServer forWorker(
      Spillway spillway,
      Map<String, String> env,
      MeterRegistry registry,
      Redactor redactor,
      InstantSource clock,
      Duration shutdownTimeout) {
    ApiSettings s = spillway.config().api();
    if (!s.enabled()) {
      return null;
    }
    ApiTokens tokens = ApiTokens.fromEnvironment(env);
    Reports reports = new Reports(spillway.dataSource(), spillway.config(), clock);
    Duration stop =
        shutdownTimeout.compareTo(Duration.ofSeconds(5)) < 0
            ? shutdownTimeout
            : Duration.ofSeconds(5);
    ApiServer api =
        start(
            s,
            tokens,
            spillway.counters(),
            spillway.cachedCounters(),
            reports::run,
            clock,
            registry,
            redactor::redact,
            stop);
    log.info(
        "event=api_listening address={}:{} tokens={} public_increments={} cors_origins={}"
            + " cache_control=\"{}\"",
        api.address().getHostString(),
        api.address().getPort(),
        tokens.count(),
        "[" + String.join(",", s.publicIncrements()) + "]",
        "[" + String.join(",", s.corsOrigins()) + "]",
        s.cacheControl());
    if (tokens.count() == 0) {
      log.warn(
          "event=config_advice key={} advice=\"set it to serve exact reads and authenticated"
              + " increments; without it they answer 401\"",
          ApiTokens.ENV);
    }
    return api;
  }
}
