package dev.spillway.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.spillway.config.ApiSettings;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/**
 * How the public HTTP API answers: JSON bodies with their {@code Content-Type}, {@code
 * Content-Length} and {@code Cache-Control} (headers only for {@code HEAD}), the error shape {@code
 * {"status": …, "error": …}}, conditional requests ({@code If-None-Match} with weak comparison,
 * else {@code If-Modified-Since}) and their {@code 304}, and CORS: the {@code Access-Control-*} and
 * {@code Vary} headers of every answer and the {@code OPTIONS} preflight, following {@code
 * api.cors-origins}.
 */
final class ApiAnswers {
  static final String JSON = "application/json";
  static final DateTimeFormatter HTTP_DATE = DateTimeFormatter.RFC_1123_DATE_TIME;
  private static final ObjectMapper MAPPER = new ObjectMapper();

  private final ApiSettings settings;

  ApiAnswers(ApiSettings settings) {
    this.settings = settings;
  }

  void cors(String origin, Response response) {
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

  int preflight(Request request, Response response, Callback cb, String allow) {
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

  /** {@code If-None-Match} (weak comparison), else {@code If-Modified-Since}. */
  static boolean notModified(Request request, String etag, Instant lastModified) {
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
        Instant since = ZonedDateTime.parse(ims, HTTP_DATE).toInstant();
        return !lastModified.isAfter(since);
      } catch (DateTimeParseException e) {
        return false; // RFC 9110: an invalid date is ignored
      }
    }
    return false;
  }

  private static String opaque(String tag) {
    return tag.startsWith("W/") ? tag.substring(2) : tag;
  }

  int notModifiedAnswer(Response response, Callback cb) {
    response.getHeaders().put(HttpHeader.CACHE_CONTROL, settings.cacheControl());
    response.setStatus(304);
    cb.succeeded();
    return 304;
  }

  /** An empty JSON object to fill. */
  static ObjectNode object() {
    return MAPPER.createObjectNode();
  }

  static String counterJson(String counter, String key, long value, Instant asOf) {
    ObjectNode n = MAPPER.createObjectNode();
    n.put("counter", counter);
    n.put("key", key);
    n.put("value", value);
    n.put("as_of", asOf.toString());
    return n.toString();
  }

  static int error(Request request, Response response, Callback cb, ApiError e) {
    e.headers.forEach((k, v) -> response.getHeaders().put(k, v));
    ObjectNode n = MAPPER.createObjectNode();
    n.put("status", e.status);
    n.put("error", e.getMessage());
    return send(request, response, cb, e.status, "no-store", n.toString());
  }

  /** Writes a JSON answer (headers only for HEAD). */
  static int send(
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
